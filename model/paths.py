"""Where the engine keeps files: platformdirs locations, overridable by environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "annotator"


def cache_dir() -> Path:
    """Cache root ($ANNOTATOR_CACHE_DIR, else the platform's user cache dir); created on demand."""
    path = Path(os.environ.get("ANNOTATOR_CACHE_DIR") or platformdirs.user_cache_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def weights_dir() -> Path:
    """Folder for downloaded or imported model weights ($ANNOTATOR_WEIGHTS_DIR overrides)."""
    path = Path(os.environ.get("ANNOTATOR_WEIGHTS_DIR") or cache_dir() / "weights")
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings root ($ANNOTATOR_CONFIG_DIR, else the platform's user config dir); created on demand."""
    path = Path(os.environ.get("ANNOTATOR_CONFIG_DIR") or platformdirs.user_config_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path
