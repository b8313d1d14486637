"""Scenario tests: the `launch` fixture starts the app as `annotator PATH` does (see scenario_driver)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from scenario_driver import User

from annotator.app import launch_window
from annotator.bridge import EngineBridge
from annotator.views.main_window import MainWindow


@pytest.fixture
def launch(qtbot: Any) -> Iterator[Callable[..., User]]:
    """Start the app on a path (as `annotator PATH`), with the real engine registry by default."""
    windows: list[MainWindow] = []

    def start(path: Path | None = None, engine: str = "classic", factory: Any = None) -> User:
        bridge = EngineBridge(factory=factory) if factory is not None else None
        window = launch_window(path, engine, bridge)
        qtbot.addWidget(window)
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)  # keys reach it
        windows.append(window)
        return User(qtbot, window)

    yield start
    for window in windows:
        window.close()
