"""User settings: one JSON file in the platform config dir, written atomically."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from model.paths import config_dir

log = logging.getLogger(__name__)


def settings_file() -> Path:
    """Where settings live."""
    return config_dir() / "settings.json"


def load_settings() -> dict[str, Any]:
    """All settings ({} when absent or unreadable: a broken file never stops the app)."""
    path = settings_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as error:
        log.warning("ignoring unreadable settings %s: %s", path, error)
        return {}
    return data if isinstance(data, dict) else {}


def get_setting(key: str, default: Any = None) -> Any:
    """One setting."""
    return load_settings().get(key, default)


def set_setting(key: str, value: Any) -> None:
    """Change one setting (atomic replace of the file)."""
    data = load_settings()
    data[key] = value
    path = settings_file()
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(path)
    except OSError as error:
        log.warning("cannot save settings to %s: %s", path, error)
