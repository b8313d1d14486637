"""TrackTools: the box-track and point-track tools, corrections by dragging, and the Track menu's slots.

With the box-track tool a drag on a video frame sets a box keyframe of the selected object (or of
a new one when none is selected, or the selected one has a points track). With the point-track tool
a click adds a point to the selected object's points keyframe on this frame; a right click flips a
point between visible and occluded. With either tool, dragging a corner or an edge of a box, or a
point, on any frame corrects it: that frame becomes a keyframe. Every gesture is one undo step.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from annotator.document import AddObject
from annotator.document.track_commands import ClearTrack, RemoveTrackSample, SetTrackSample
from annotator.document.tracks import TrackSample
from annotator.errors import AnnotatorError
from annotator.views.canvas import Tool
from annotator.views.track_layer import TrackLayer
from annotator.views.track_run import TrackRunController, interpolate_objects

if TYPE_CHECKING:
    from annotator.views.main_window import MainWindow

log = logging.getLogger(__name__)

GRAB_PX = 8.0  # how near (screen pixels) a press must be to a corner, an edge or a point to grab it
SEED_POINTS = 16  # points a mask seeds


def _grab(sample: TrackSample, x: float, y: float, reach: float) -> Any:
    """What of `sample` a press at (x, y) grabs: ('point', i), ('box', (ix, iy)) or None.

    For a box, ix / iy say which x / y edge moves: 0 (x0 / y0), 2 (x1 / y1) or None (that axis stays).
    """
    if sample.kind == "points":
        distances = np.hypot(*(sample.points - (x, y)).T)
        index = int(np.argmin(distances))
        return ("point", index) if distances[index] <= reach else None
    x0, y0, x1, y1 = sample.box
    if not (x0 - reach <= x <= x1 + reach and y0 - reach <= y <= y1 + reach):
        return None
    ix = 0 if abs(x - x0) <= reach else 2 if abs(x - x1) <= reach else None
    iy = 1 if abs(y - y0) <= reach else 3 if abs(y - y1) <= reach else None
    return ("box", (ix, iy)) if ix is not None or iy is not None else None


def _moved(sample: TrackSample, grabbed: Any, x: float, y: float) -> TrackSample:
    """`sample` with the grabbed corner, edge or point at (x, y), as a visible keyframe."""
    what, which = grabbed
    if what == "point":
        points = sample.points.copy()
        points[which] = (x, y)
        occluded = list(sample.occluded)
        occluded[which] = False
        return TrackSample.of_points(points.tolist(), occluded=tuple(occluded))
    geometry = list(sample.box)
    ix, iy = which
    if ix is not None:
        geometry[ix] = x
    if iy is not None:
        geometry[iy] = y
    return TrackSample.of_box(geometry)


def seed_points(image: np.ndarray, mask: np.ndarray, count: int = SEED_POINTS) -> np.ndarray:
    """Up to `count` Nx2 (x, y) points to track inside a HxW bool mask: corners first, then a grid."""
    # Away from the outline: points on it drift onto the background as the object moves.
    size = max(5, int(0.15 * np.sqrt(mask.sum())) | 1)
    inner = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    if not inner.any():
        inner = mask.astype(np.uint8)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    found = cv2.goodFeaturesToTrack(gray, count, 0.01, 8, mask=inner)
    points = [] if found is None else found.reshape(-1, 2).tolist()
    if len(points) < count:
        ys, xs = np.nonzero(inner)
        step = max(1, len(xs) // (count - len(points)))
        points += [[float(xs[i]), float(ys[i])] for i in range(0, len(xs), step)][: count - len(points)]
    return np.asarray(points, np.float64).reshape(-1, 2)


class TrackTools(QObject):
    """Box and point tracks on the canvas of a MainWindow (ActionSpec slots `tracks.<name>`)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = window.canvas
        self.layer = TrackLayer(window.canvas)
        self.runner = TrackRunController(window.bridge)
        self._project: Any = None
        self.retrack = True  # a correction re-tracks both ways up to the neighbouring keyframes
        self._drag: tuple[str, Any] | None = None  # ('box', start point) or ('edit', (object id, grab, sample))
        self.rubber = QGraphicsRectItem()
        self.rubber.setPen(QPen(QColor(0, 220, 255), 0, Qt.PenStyle.DashLine))
        self.rubber.setZValue(70)
        self.rubber.hide()
        self.canvas.scene().addItem(self.rubber)
        self.canvas.viewport().installEventFilter(self)
        window.session.selection_changed.connect(lambda _id: self.refresh())
        self.runner.progressed.connect(lambda low, high: window.timeline.set_progress((low, high)))
        self.runner.progressed.connect(lambda *_: window.session.set_job_running(self.runner.running))
        self.runner.finished.connect(self._finished)
        self.runner.message.connect(window.banner.show_message)
        window.timeline.cancel_requested.connect(self.runner.cancel)

    # -- helpers ----------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def _execute(self, command: Any) -> Any:
        try:
            return self.window.project.execute(command)  # type: ignore[union-attr]
        except AnnotatorError as error:
            self.window.show_error(error)
            return None

    @property
    def active(self) -> bool:
        """True when a track tool is the canvas tool."""
        return self.canvas.tool in (Tool.TRACK_BOX, Tool.TRACK_POINTS)

    def _video(self) -> bool:
        session = self.window.session
        return self.window.project is not None and session.item is not None

    def refresh(self) -> None:
        """Redraw the samples of the frame on screen (after a frame, item or selection change)."""
        project = self.window.project
        if project is not self._project:
            if self._project is not None:
                self._project.events.track_changed.disconnect(self._on_track_changed)
                self._project.events.row_changed.disconnect(self._on_row_changed)
            self._project = project
            if project is not None:
                project.events.track_changed.connect(self._on_track_changed)
                project.events.row_changed.connect(self._on_row_changed)
        session = self.window.session
        self.layer.show(project, session.item.id if session.item else None, session.frame, session.selected)

    def _on_track_changed(self, object_id: int, frame: int) -> None:
        session = self.window.session
        if frame == session.frame and session.item is not None:
            self.refresh()
        self.window.timeline.schedule_reload()

    def _on_row_changed(self, kind: str, _before: Any, _after: Any) -> None:
        if kind == "object":
            self.refresh()

    def _target(self, kind: str) -> int:
        """The object a new sample of `kind` goes to: the selected one when it fits, else a new one."""
        window, session = self.window, self.window.session
        project = window.project
        assert project is not None and session.item is not None
        selected = session.selected
        if selected is not None and project.track_kind(selected) in (None, kind):
            return selected
        obj = project.execute(AddObject(session.item.id, session.label_id))
        session.select(obj.id)
        return obj.id

    def _set(self, kind: str, sample_of: Any, description: str) -> None:
        """One undo step: maybe a new object, then its keyframe on this frame (`sample_of(object id)`)."""
        project, session = self.window.project, self.window.session
        assert project is not None
        if project.in_group:
            self._say("wait until the running propagation or tracking run ends")
            return
        project.begin_group(description)
        try:
            object_id = self._target(kind)
            sample = sample_of(object_id)
            if sample is not None:
                project.execute(SetTrackSample(object_id, session.frame, sample))
        except AnnotatorError as error:
            self.window.show_error(error)
        finally:
            project.end_group()
        self.refresh()

    # -- gestures ---------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Track-tool gestures on the canvas; anything else goes on to the canvas."""
        kind = event.type()
        if not self.active or kind not in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.MouseButtonRelease,
        ):
            return False
        mouse: QMouseEvent = event  # type: ignore[assignment]
        point = self.canvas.mapToScene(mouse.position().toPoint())
        x, y = point.x(), point.y()
        if kind == QEvent.Type.MouseButtonPress:
            return self._press(mouse, x, y)
        if kind == QEvent.Type.MouseMove:
            return self._move(x, y)
        return self._release(x, y)

    def _press(self, mouse: QMouseEvent, x: float, y: float) -> bool:
        button = mouse.button()
        if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) or self.runner.running:
            return False
        if mouse.modifiers() & Qt.KeyboardModifier.ControlModifier or not self._video():
            return False
        height, width = self.canvas.image_size
        if not (0 <= x < width and 0 <= y < height):
            return False
        grabbed = self._grab_at(x, y)
        if button == Qt.MouseButton.RightButton:
            if grabbed is not None and grabbed[1][0] == "point":
                self._toggle_occluded(grabbed[0], grabbed[1][1])
            return True
        if grabbed is not None:
            object_id, grab = grabbed
            if object_id != self.window.session.selected:
                self.window.session.select(object_id)
            self._drag = ("edit", (object_id, grab, self.layer.drawn[object_id]))
        elif self.canvas.tool == Tool.TRACK_BOX:
            self._drag = ("box", QPointF(x, y))
            self.rubber.setRect(QRectF(QPointF(x, y), QPointF(x, y)))
            self.rubber.show()
        else:
            self._add_point(x, y)
        return True

    def _grab_at(self, x: float, y: float) -> tuple[int, Any] | None:
        reach = GRAB_PX / max(self.canvas.transform().m11(), 1e-6)
        selected = self.window.session.selected
        order = sorted(self.layer.drawn, key=lambda oid: oid != selected)
        for object_id in order:
            grab = _grab(self.layer.drawn[object_id], x, y, reach)
            if grab is not None:
                return object_id, grab
        return None

    def _move(self, x: float, y: float) -> bool:
        if self._drag is None:
            return False
        height, width = self.canvas.image_size
        x, y = min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))
        what, data = self._drag
        if what == "box":
            self.rubber.setRect(QRectF(data, QPointF(x, y)).normalized())
        else:
            object_id, grab, sample = data
            obj = self.window.project.object(object_id)  # type: ignore[union-attr]
            self.layer.draw(object_id, _moved(sample, grab, x, y), obj.color, True)
        return True

    def _release(self, x: float, y: float) -> bool:
        if self._drag is None:
            return False
        what, data = self._drag
        self._drag = None
        height, width = self.canvas.image_size
        x, y = min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))
        if what == "box":
            self.rubber.hide()
            start: QPointF = data
            if abs(x - start.x()) >= 2 and abs(y - start.y()) >= 2:
                box = TrackSample.of_box((start.x(), start.y(), x, y))
                self._set("box", lambda _oid: box, "Set box")
            return True
        object_id, grab, sample = data
        moved = _moved(sample, grab, x, y)
        if moved.kind == "box" and (moved.box[2] - moved.box[0] < 1 or moved.box[3] - moved.box[1] < 1):
            self.refresh()
            return True
        self._correct(object_id, moved)
        return True

    def _correct(self, object_id: int, sample: TrackSample) -> None:
        """Make `sample` the object's keyframe on this frame; when the track has tracked or interpolated
        frames, re-track both ways up to the neighbouring keyframes (one undo step with the correction)."""
        project, session = self.window.project, self.window.session
        assert project is not None
        tracked = any(not s.keyframe for s in project.track(object_id).values())
        if not (self.retrack and tracked and session.frames is not None) or project.in_group:
            self._execute(SetTrackSample(object_id, session.frame, sample))
            self.refresh()
            return
        project.begin_group("Correct and re-track")
        started = False
        try:
            project.execute(SetTrackSample(object_id, session.frame, sample))
            started = self.runner.start(project, session.frames, session.frame, [object_id], "both", own_group=False)
        except AnnotatorError as error:
            self.window.show_error(error)
        finally:
            if not started:
                project.end_group()
        self.refresh()

    def _add_point(self, x: float, y: float) -> None:
        project, frame = self.window.project, self.window.session.frame
        assert project is not None

        def grown(object_id: int) -> TrackSample:
            here = project.track_sample(object_id, frame)
            base = here if here is not None and here.keyframe else None
            points = ([] if base is None else base.points.tolist()) + [[x, y]]
            occluded = (() if base is None else base.occluded) + (False,)
            return TrackSample.of_points(points, occluded=occluded)

        self._set("points", grown, "Add track point")

    def _toggle_occluded(self, object_id: int, index: int) -> None:
        sample = self.layer.drawn[object_id]
        occluded = list(sample.occluded)
        occluded[index] = not occluded[index]
        self._correct(object_id, TrackSample.of_points(sample.points.tolist(), occluded=tuple(occluded)))

    # -- slots named in ACTIONS -------------------------------------------------------------------
    def use_box_tool(self) -> None:
        """Drags make box keyframes (video)."""
        self.canvas.set_tool(Tool.TRACK_BOX)

    def use_points_tool(self) -> None:
        """Clicks make track points (video)."""
        self.canvas.set_tool(Tool.TRACK_POINTS)

    def _object_ids(self) -> list[int]:
        project, session = self.window.project, self.window.session
        if project is None or session.item is None:
            return []
        ids = self.window.edits.selected_ids() or [obj.id for obj in project.objects(session.item.id)]
        return [oid for oid in ids if project.track(oid)]

    def track(self, direction: str) -> bool:
        """Track the selected objects (all with a track when none is selected) from the current frame."""
        session = self.window.session
        if self.window.project is None or session.item is None or session.frames is None:
            self._say("tracking needs a video on screen")
            return False
        ids = self._object_ids()
        if not ids:
            self._say("no object has a box or points track to follow; draw one with the box-track tool (T)")
            return False
        return self.runner.start(self.window.project, session.frames, session.frame, ids, direction)  # type: ignore[arg-type]

    def track_forward(self) -> None:
        """Track forward from the current frame up to the next keyframe."""
        self.track("forward")

    def track_backward(self) -> None:
        """Track backward from the current frame down to the previous keyframe."""
        self.track("backward")

    def track_both(self) -> None:
        """Track both ways from the current frame, between the neighbouring keyframes."""
        self.track("both")

    def interpolate(self) -> None:
        """Fill the frames between keyframes by linear interpolation, with no engine (as CVAT does)."""
        if self.window.project is None:
            return
        try:
            written = interpolate_objects(self.window.project, self._object_ids())
        except AnnotatorError as error:
            self.window.show_error(error)
            return
        self._say(f"{written} frames interpolated between keyframes (one undo step)")

    def seed_from_mask(self) -> None:
        """Give the selected object a points keyframe on this frame: points spread inside its mask."""
        project, session = self.window.project, self.window.session
        selected = session.selected
        mask = None if project is None or selected is None else project.mask(selected, session.frame)
        if mask is None or mask.is_empty or session.image is None:
            self._say("select an object with a mask on this frame to seed points from it")
            return
        points = seed_points(session.image, mask.to_array())
        self._set("points", lambda _oid: TrackSample.of_points(points.tolist()), "Seed points from mask")
        self._say(f"{len(points)} points seeded from the mask; track them with Ctrl+T")

    def clear_tracked(self) -> None:
        """Remove the tracked and interpolated samples of the selected objects (keyframes stay)."""
        for object_id in self._object_ids():
            self._execute(ClearTrack(object_id, keep_keyframes=True))

    def remove_sample(self) -> None:
        """Remove the selected object's box or points on the current frame."""
        session = self.window.session
        project = self.window.project
        if (
            session.selected is not None
            and project is not None
            and project.track_sample(session.selected, session.frame)
        ):
            self._execute(RemoveTrackSample(session.selected, session.frame))

    def export_tracks(self) -> None:
        """Write the project's box and point tracks as CVAT video, MOT, LaSOT, GOT-10k or TAP-Vid."""
        from annotator.views.track_transfer import export_tracks

        export_tracks(self.window)

    def import_tracks(self) -> None:
        """Add box and point tracks from a file or folder of a track format (one undo step)."""
        from annotator.views.track_transfer import import_tracks

        import_tracks(self.window)

    def toggle_retrack(self) -> None:
        """Whether a correction re-tracks both ways up to the neighbouring keyframes."""
        self.retrack = self.window.actions["retrack"].isChecked()

    def cancel_all(self) -> None:
        """Stop a running propagation or tracking run."""
        self.window.propagation.cancel()
        self.runner.cancel()

    def _finished(self, cancelled: bool, frames: int) -> None:
        window = self.window
        window.session.set_job_running(False)
        window.timeline.set_progress(None)
        window.timeline.reload_tracks()
        state = "stopped" if cancelled else "finished"
        self._say(f"tracking {state}: {frames} frames written (one undo step)")
        window._update_undo_actions()
        self.refresh()
