"""Model panel: choose the engine, device, runtime and precision; see what is loaded; download weights."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from annotator.bridge import EngineBridge
from model import registry
from model.device import PRECISIONS

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
GATED = (
    "This model is gated: accept its licence on the model's hub page, then log in with a token "
    "(`hf auth login`, or set HF_TOKEN) before downloading."
)
# (runtime option of the SAM engines, what the picker shows)
RUNTIMES = (
    ("auto", "auto (ONNX Runtime on the CPU)"),
    ("onnx-int8", "fast CPU encoder (int8, approximate)"),
    ("torch", "PyTorch"),
)


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
    """Engine, device, runtime and precision pickers; loading happens on the bridge thread, errors are
    shown here. Runtime and precision apply to the SAM engines (the classic one has neither)."""

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
        self.runtime_box = QComboBox()
        for value, label in RUNTIMES:
            self.runtime_box.addItem(label, value)
        self.runtime_box.setToolTip("The int8 encoder embeds about 1.6x faster on the CPU; its masks differ by ~1-2%")
        self.precision_box = QComboBox()
        self.precision_box.addItems(PRECISIONS)
        self.precision_box.setToolTip("auto: bf16 on CUDA (fp16 without bf16), fp32 elsewhere")
        self.engine_box.currentTextChanged.connect(self._engine_chosen)
        self._engine_chosen(self.engine_box.currentText())
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load_engine)
        self.state = QLabel("not loaded")
        self.state.setWordWrap(True)  # on a row of its own, so a long message wraps instead of being cut
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.MinimumExpanding)
        self.state.setMinimumWidth(120)
        self.loaded = ""  # what answers clicks now (a failed load keeps the previous engine)
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
        layout.addRow("Runtime", self.runtime_box)
        layout.addRow("Precision", self.precision_box)
        layout.addRow(self.load_button)
        layout.addRow(row)
        layout.addRow(self.progress)
        layout.addRow(self.state)
        bridge.engine_ready.connect(self._on_ready)
        bridge.errored.connect(self._on_error)
        bridge.warned.connect(self._on_warning)
        self._loading_id = 0

    def _engine_chosen(self, name: str) -> None:
        for box in (self.runtime_box, self.precision_box):
            box.setEnabled(name != "classic")

    def options(self) -> dict[str, str]:
        """The factory options for the chosen engine: only what differs from 'auto'."""
        chosen = {"device": self.device_box.currentText()}
        if self.engine_box.currentText() != "classic":
            chosen |= {"runtime": self.runtime_box.currentData(), "precision": self.precision_box.currentText()}
        return {key: value for key, value in chosen.items() if value != "auto"}

    def load_engine(self) -> None:
        """Ask the bridge to load the chosen engine with the chosen device, runtime and precision."""
        name = self.engine_box.currentText()
        options = self.options()
        self._loading_id = self.bridge.set_engine(name, **options)
        self._say(f"loading {name}…")
        self.status_changed.emit(f"engine: loading {name}…")

    def _say(self, text: str) -> None:
        self.state.setText(text)
        self.state.setToolTip(text)

    def start_download(self) -> None:
        """Download the chosen model's weights with progress, after the user confirmed its size and
        licence; Cancel stops it."""
        name = self.engine_box.currentText()
        if name == "classic":
            self._say("the classic engine needs no weights")
            return
        if not self._confirm_download(name):
            return
        self.download = _Download(name)
        self.download.progressed.connect(self._download_progressed)
        self.download.finished.connect(self._download_finished)
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._say(f"downloading {name}…")
        self.download.start()

    def _confirm_download(self, name: str) -> bool:
        from model.sam.catalog import CATALOG

        entry = CATALOG.get(name)
        if entry is None:
            return True
        size = f"{entry.size_mb / 1000:.1f} GB" if entry.size_mb >= 1000 else f"{entry.size_mb} MB"
        gated = f"\n\n{GATED}" if entry.gated else ""
        answer = QMessageBox.question(
            self,
            "Download weights",
            f"Download {entry.description} ({entry.hub_id}): {size}, licence {entry.licence}?{gated}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

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
        self._say(message or f"{name}: weights installed; press Load")

    def set_busy(self, busy: bool) -> None:
        """Reflect whether the engine thread is working."""
        self.load_button.setEnabled(True)
        self.setToolTip("working…" if busy else "idle")

    def _on_ready(self, name: str, model_id: str, device: str) -> None:
        runtime = getattr(self.bridge.engine, "runtime", None)  # SAM engines: torch, onnx or onnx-int8
        text = f"{name} · {model_id} · {device}" + (f" · {runtime}" if isinstance(runtime, str) else "")
        self.loaded = text
        self._say(f"ready: {text}")
        self.status_changed.emit(f"engine: {text}")

    def _on_warning(self, message: str, device: str) -> None:
        self._say(f"warning: {message}")
        self.status_changed.emit(f"engine now on {device}: {message}")

    def _on_error(self, request_id: int, kind: str, message: str) -> None:
        if kind == "engine":
            from model.sam.catalog import CATALOG

            entry = CATALOG.get(self.engine_box.currentText())
            still = f"; still using {self.loaded}" if self.loaded else ""
            self._say(f"could not load: {message}{still}" + (f". {GATED}" if entry and entry.gated else ""))
            self.status_changed.emit(
                f"engine: {self.loaded} (loading failed: see Model panel)"
                if self.loaded
                else "engine: not loaded (see Model panel)"
            )
