"""Model panel: choose the engine and device, see what is loaded and how fast it runs."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QPushButton, QWidget

from annotator.bridge import EngineBridge
from model import registry

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")


class ModelPanel(QWidget):
    """Engine and device pickers; loading happens on the bridge thread, errors are shown here."""

    status_changed = Signal(str)

    def __init__(self, bridge: EngineBridge, engine_name: str = "classic") -> None:
        super().__init__()
        self.bridge = bridge
        self.engine_box = QComboBox()
        names = registry.names() or ["classic"]
        self.engine_box.addItems(names)
        if engine_name in names:
            self.engine_box.setCurrentText(engine_name)
        self.device_box = QComboBox()
        self.device_box.addItems(DEVICES)
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load_engine)
        self.state = QLabel("not loaded")
        self.state.setWordWrap(True)
        layout = QFormLayout(self)
        layout.addRow("Engine", self.engine_box)
        layout.addRow("Device", self.device_box)
        layout.addRow(self.load_button)
        layout.addRow("State", self.state)
        bridge.engine_ready.connect(self._on_ready)
        bridge.errored.connect(self._on_error)
        self._loading_id = 0

    def load_engine(self) -> None:
        """Ask the bridge to load the chosen engine on the chosen device."""
        name = self.engine_box.currentText()
        device = self.device_box.currentText()
        options = {} if device == "auto" else {"device": device}
        self._loading_id = self.bridge.set_engine(name, **options)
        self.state.setText(f"loading {name}…")
        self.status_changed.emit(f"engine: loading {name}…")

    def set_busy(self, busy: bool) -> None:
        """Reflect whether the engine thread is working."""
        self.load_button.setEnabled(True)
        self.setToolTip("working…" if busy else "idle")

    def _on_ready(self, name: str, model_id: str, device: str) -> None:
        text = f"{name} · {model_id} · {device}"
        self.state.setText(f"ready: {text}")
        self.status_changed.emit(f"engine: {text}")

    def _on_error(self, request_id: int, kind: str, message: str) -> None:
        if kind == "engine":
            self.state.setText(f"could not load: {message}")
            self.status_changed.emit("engine: not loaded (see Model panel)")
