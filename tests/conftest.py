"""Shared test set-up: offscreen Qt before any QApplication, and the evaluation data path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# In CI, property and fuzz tests use a fixed seed so that a run is reproducible; locally they
# explore new examples every time.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ANNOTATOR_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (evaluation only, never copied); skips the test when it is absent."""
    if not (SHARED_DATA / "images").is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches and settings of every test out of the user's home; settings (remembered dialog
    choices) are each test's own, the cache is shared by the session."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("ANNOTATOR_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("ANNOTATOR_CONFIG_DIR", str(tmp_path / "config"))
