"""Model panel: choose the engine and device, see what is loaded and how fast it runs."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from annotator.bridge import EngineBridge
from model import registry

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")


class _Download(QObject):
    """One weights download in a Python thread, reported through Qt signals."""

    progressed = Signal(int, int)
    finished = Signal(str)  # '' on success, else the message

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.cancel = threading.Event()

    def start(self) -> None:
        def run() -> None:
            from model.errors import Cancelled, EngineError
            from model.sam.weights import download

            try:
                download(self.name, lambda done, total: self.progressed.emit(done, total), self.cancel)
                self.finished.emit("")
            except Cancelled:
                self.finished.emit("download cancelled")
            except EngineError as error:
                self.finished.emit(str(error))
            except Exception as error:  # shown, never fatal
                log.exception("download of %s failed", self.name)
                self.finished.emit(f"download failed: {error}")

        threading.Thread(target=run, name=f"download-{self.name}", daemon=True).start()


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
        self.download_button = QPushButton("Download weights")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.download: _Download | None = None
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        layout = QFormLayout(self)
        layout.addRow("Engine", self.engine_box)
        layout.addRow("Device", self.device_box)
        layout.addRow(self.load_button)
        layout.addRow(row)
        layout.addRow(self.progress)
        layout.addRow("State", self.state)
        bridge.engine_ready.connect(self._on_ready)
        bridge.errored.connect(self._on_error)
        bridge.warned.connect(self._on_warning)
        self._loading_id = 0

    def load_engine(self) -> None:
        """Ask the bridge to load the chosen engine on the chosen device."""
        name = self.engine_box.currentText()
        device = self.device_box.currentText()
        options = {} if device == "auto" else {"device": device}
        self._loading_id = self.bridge.set_engine(name, **options)
        self.state.setText(f"loading {name}…")
        self.status_changed.emit(f"engine: loading {name}…")

    def start_download(self) -> None:
        """Download the chosen model's weights with progress; Cancel stops it."""
        name = self.engine_box.currentText()
        if name == "classic":
            self.state.setText("the classic engine needs no weights")
            return
        self.download = _Download(name)
        self.download.progressed.connect(self._download_progressed)
        self.download.finished.connect(self._download_finished)
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.state.setText(f"downloading {name}…")
        self.download.start()

    def cancel_download(self) -> None:
        """Stop the running download."""
        if self.download is not None:
            self.download.cancel.set()

    def _download_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _download_finished(self, message: str) -> None:
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        name = self.download.name if self.download else ""
        self.download = None
        if message:
            self.state.setText(message)
        else:
            self.state.setText(f"{name}: weights installed; press Load")

    def set_busy(self, busy: bool) -> None:
        """Reflect whether the engine thread is working."""
        self.load_button.setEnabled(True)
        self.setToolTip("working…" if busy else "idle")

    def _on_ready(self, name: str, model_id: str, device: str) -> None:
        text = f"{name} · {model_id} · {device}"
        self.state.setText(f"ready: {text}")
        self.status_changed.emit(f"engine: {text}")

    def _on_warning(self, message: str, device: str) -> None:
        self.state.setText(f"warning: {message}")
        self.status_changed.emit(f"engine now on {device}: {message}")

    def _on_error(self, request_id: int, kind: str, message: str) -> None:
        if kind == "engine":
            self.state.setText(f"could not load: {message}")
            self.status_changed.emit("engine: not loaded (see Model panel)")
