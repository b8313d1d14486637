"""Make 3D: the selected object's 3D asset, made on the engine thread and shown in the 3D panel.

The image and mask come from the screen: on a video, the current frame's mask when the object has
one there, else the object's keyframe. The run is a bridge job (a generator with a cancel flag);
its progress goes to the status bar, a failure to the banner, the result to the 3D panel.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from annotator.errors import AnnotatorError
from annotator.io.object_view import object_view
from annotator.views.preview3d import Preview3D
from model.errors import EngineError
from model.reconstruct import DEFAULT, Progress, Reconstruction, create

if TYPE_CHECKING:
    from annotator.views.main_window import MainWindow

log = logging.getLogger(__name__)


class ReconstructionController(QObject):
    """The Make 3D action of a MainWindow (ActionSpec slot `reconstruction.make_3d`) and its 3D panel."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.backend = DEFAULT
        self.preview = Preview3D()
        self.dock = QDockWidget("3D", window)
        self.dock.setObjectName("3D")
        self.dock.setWidget(self.preview)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.job_id: int | None = None
        self._name = "object"
        bridge = window.bridge
        bridge.job_yielded.connect(self._on_yielded)
        bridge.job_finished.connect(self._on_finished)
        bridge.errored.connect(self._on_errored)
        self.preview.saved.connect(lambda path: self._say(f"3D asset saved: {path}"))
        self.preview.failed.connect(window.banner.show_message)

    @property
    def running(self) -> bool:
        """True while a reconstruction runs."""
        return self.job_id is not None

    def _say(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def make_3d(self) -> bool:
        """Start making the selected object's 3D asset; False (with a message) when it cannot start."""
        window = self.window
        if self.running:
            self._say("a 3D asset is already being made")
            return False
        ids = window.edits.selected_ids()
        if window.project is None or not ids:
            self._say("select an object first (click it with Ctrl, or pick it in the Objects list)")
            return False
        object_id = ids[0]
        try:
            frame = window.session.frame if window.session.frames is not None else None
            view = object_view(window.project, object_id, frame, strict=False)
            obj = window.project.object(object_id)
        except AnnotatorError as error:
            window.show_error(error)
            return False
        backend = create(self.backend)
        state = backend.availability()
        if not state.available:
            window.show_error(EngineError(f"the 3D backend '{self.backend}' cannot run here: {state.reason}"))
            return False
        name = obj.name or f"object-{object_id}"
        if window.project.item(obj.item_id).kind == "video":
            name += f"-frame-{view.frame}"

        def make(_engine: Any, cancel: threading.Event) -> Iterator[Progress | Reconstruction]:
            yield from backend.run(view.image, view.mask, None, cancel)

        self._name = name
        self.job_id = window.bridge.run_job(make)
        self._say(f"making the 3D asset of {name}…", 0)
        return True

    def cancel(self) -> None:
        """Stop the running reconstruction."""
        if self.job_id is not None:
            self.window.bridge.cancel(self.job_id)

    def _on_yielded(self, job_id: int, value: Any) -> None:
        if job_id != self.job_id:
            return
        if isinstance(value, Progress):
            self._say(f"3D asset of {self._name}: {value.stage} ({100 * value.fraction:.0f}%)", 0)
        elif isinstance(value, Reconstruction):
            self.preview.show_result(value, self._name)
            self.dock.show()
            self.dock.raise_()
            self._say(f"3D asset of {self._name} ready: {value.kind}")

    def _on_finished(self, job_id: int, cancelled: bool) -> None:
        if job_id == self.job_id:
            self.job_id = None
            if cancelled:
                self._say("3D asset cancelled")

    def _on_errored(self, request_id: int, _kind: str, text: str) -> None:
        if request_id == self.job_id:
            self.window.banner.show_message(f"the 3D asset could not be made: {text}")
