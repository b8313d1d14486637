"""Timeline: scrub, play, step, keyframe jumps, per-object tracks and propagation progress."""

from __future__ import annotations

from typing import Any

import qtawesome as qta
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from annotator.document import Project
from annotator.document.model import LOW_CONFIDENCE, frame_state
from annotator.document.tracks import track_states

RULER = 18
ROW = 12
LOW_COLOUR = QColor(255, 170, 0)  # a propagated frame the tracker was not sure of
ABSENT_COLOUR = QColor(200, 60, 60)  # a propagated frame where the tracker judged the object gone
OCCLUDED_COLOUR = QColor(110, 110, 130)  # a tracked box or points hidden behind something
LEGEND = (
    "One row per object's masks, and one (thin, after the mask rows) per box or points track. "
    "Bright: your keyframes. Dark: propagated, tracked, interpolated or imported. Amber underline: the "
    "tracker was not sure (low confidence). Red: the object is absent (empty mask) or outside the view. "
    "Grey: the box or every point is occluded. Correct those frames."
)


class TrackView(QWidget):
    """Painted strip: a ruler, one row per object (mask coverage, keyframes) and the cursor."""

    scrubbed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(RULER + 2 * ROW)
        self.setMouseTracking(False)
        self.frame_count = 1
        self.current = 0
        self.tracks: list[tuple[tuple[int, int, int], dict[int, str]]] = []  # colour, frame -> frame state
        self.setToolTip(LEGEND)
        self.progress: tuple[int, int] | None = None  # propagated range, while a run goes

    def _x(self, frame: float) -> float:
        return frame * self.width() / max(self.frame_count, 1)

    def frame_at(self, x: float) -> int:
        """Frame under a horizontal position."""
        return max(0, min(self.frame_count - 1, int(x * self.frame_count / max(self.width(), 1))))

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw ruler, tracks, progress and cursor."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(45, 45, 48))
        painter.setPen(QColor(170, 170, 170))
        step = max(1, self._tick_step())
        for frame in range(0, self.frame_count, step):
            x = int(self._x(frame))
            painter.drawLine(x, RULER - 5, x, RULER)
            painter.drawText(x + 2, RULER - 6, str(frame))
        cell = max(1.0, self.width() / max(self.frame_count, 1))
        for row, (color, sources) in enumerate(self.tracks):
            top = RULER + row * ROW + 2
            width = int(cell + 0.999)
            for frame, source in sources.items():
                left = int(self._x(frame))
                if source in ("absent", "occluded"):
                    colour = ABSENT_COLOUR if source == "absent" else OCCLUDED_COLOUR
                    painter.fillRect(QRect(left, top, width, ROW - 4), colour)
                    continue
                shade = QColor(*color) if source == "user" else QColor(*color).darker(160)
                painter.fillRect(QRect(left, top, width, ROW - 4), shade)
                if source == "low":
                    painter.fillRect(QRect(left, top + ROW - 7, width, 3), LOW_COLOUR)
            painter.setPen(QColor(255, 255, 255))
            for frame, source in sources.items():
                if source == "user":
                    x = int(self._x(frame + 0.5))
                    painter.drawLine(x, top - 1, x, top + ROW - 3)
        if self.progress is not None:
            low, high = self.progress
            painter.fillRect(
                QRect(int(self._x(low)), 0, int(self._x(high + 1) - self._x(low)), 4), QColor(80, 200, 255)
            )
        painter.setPen(QColor(255, 220, 0))
        x = int(self._x(self.current + 0.5))
        painter.drawLine(x, 0, x, self.height())
        painter.end()

    def _tick_step(self) -> int:
        target = max(1, self.width() // 70)
        raw = max(1, self.frame_count // target)
        for nice in (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000):
            if nice >= raw:
                return nice
        return raw

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Jump to the frame under the pointer."""
        self.scrubbed.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Scrub while dragging."""
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.scrubbed.emit(self.frame_at(event.position().x()))


class Timeline(QWidget):
    """Transport controls over a TrackView; asks for frames, never changes the document."""

    frame_requested = Signal(int)
    propagate_requested = Signal(str)  # 'backward', 'both', 'forward'
    cancel_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.track_view = TrackView()
        self.track_view.scrubbed.connect(self.frame_requested)
        self.project: Project | None = None
        self.item_id: int | None = None
        self.track_rows: dict[int, int] = {}  # object id -> row of its box or points track
        self._reload = QTimer(self)
        self._reload.setSingleShot(True)
        self._reload.setInterval(0)
        self._reload.timeout.connect(self.reload_tracks)
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._tick)
        self.label = QLabel("frame 0 / 0")
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        keyframe_text = {"previous_key": "◀", "next_key": "▶"}
        for name, icon, tip, slot in (
            ("first", "fa5s.fast-backward", "First frame (Home)", self.first_frame),
            ("previous_key", "fa5s.key", "Previous keyframe (Ctrl+,)", self.previous_keyframe),
            ("step_back", "fa5s.step-backward", "Previous frame (,)", lambda: self.step(-1)),
            ("play", "fa5s.play", "Play / pause (K)", self.toggle_play),
            ("step_forward", "fa5s.step-forward", "Next frame (.)", lambda: self.step(1)),
            ("next_key", "fa5s.key", "Next keyframe (Ctrl+.)", self.next_keyframe),
            ("last", "fa5s.fast-forward", "Last frame (End)", self.last_frame),
            ("prop_back", "fa5s.arrow-left", "Propagate backward", lambda: self.propagate_requested.emit("backward")),
            ("prop_both", "fa5s.arrows-alt-h", "Propagate both ways", lambda: self.propagate_requested.emit("both")),
            ("prop_fwd", "fa5s.arrow-right", "Propagate forward", lambda: self.propagate_requested.emit("forward")),
            ("cancel", "fa5s.stop", "Cancel propagation", self.cancel_requested.emit),
        ):
            button = QPushButton(qta.icon(icon), keyframe_text.get(name, ""))
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        self.buttons["cancel"].setEnabled(False)
        buttons.addWidget(self.label)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.track_view)

    def set_item(self, project: Project | None, item_id: int | None, frame_count: int, fps: float) -> None:
        """Show the tracks of another (video) item."""
        if self.project is not None:
            self.project.events.mask_changed.disconnect(self._on_mask_changed)
            self.project.events.rows_inserted.disconnect(self._on_rows)
            self.project.events.rows_removed.disconnect(self._on_rows)
        self.project, self.item_id = project, item_id
        if project is not None:
            project.events.mask_changed.connect(self._on_mask_changed)
            project.events.rows_inserted.connect(self._on_rows)
            project.events.rows_removed.connect(self._on_rows)
        self.track_view.frame_count = max(1, frame_count)
        self.play_timer.setInterval(int(1000 / fps) if fps > 0 else 40)
        self.reload_tracks()

    def reload_tracks(self) -> None:
        """Re-read every object's frame sources."""
        tracks = []
        self.track_rows = {}
        if self.project is not None and self.item_id is not None:
            objects = self.project.objects(self.item_id)
            for obj in objects:
                tracks.append((obj.color, self.project.frame_states(obj.id)))
            for obj in objects:
                track = self.project.track(obj.id)
                if track:
                    self.track_rows[obj.id] = len(tracks)
                    tracks.append((obj.color, track_states(track, LOW_CONFIDENCE)))
        self.track_view.tracks = tracks
        self.track_view.setMinimumHeight(RULER + max(2, len(tracks)) * ROW)
        self.track_view.update()

    def schedule_reload(self) -> None:
        """Re-read the rows soon (once for a burst of changes, such as a tracking run's samples)."""
        self._reload.start()

    def _on_mask_changed(self, object_id: int, frame: int) -> None:
        if self.project is None or self.item_id is None:
            return
        for row, obj in enumerate(self.project.objects(self.item_id)):
            if obj.id == object_id and row < len(self.track_view.tracks):
                record = self.project.mask_record(object_id, frame)
                sources = self.track_view.tracks[row][1]
                if record is None:
                    sources.pop(frame, None)
                else:
                    sources[frame] = frame_state(record.source, record.mask.is_empty, record.score)
                self.track_view.update()
                return

    def _on_rows(self, kind: str, *args: Any) -> None:
        if kind == "object":
            self.reload_tracks()

    def set_current(self, frame: int) -> None:
        """Move the cursor (the session decides what is shown)."""
        self.track_view.current = frame
        self.label.setText(f"frame {frame} / {self.track_view.frame_count - 1}")
        self.track_view.update()

    def set_progress(self, span: tuple[int, int] | None) -> None:
        """Show the propagated range of a running job (None when idle)."""
        self.track_view.progress = span
        self.buttons["cancel"].setEnabled(span is not None)
        for name in ("prop_back", "prop_both", "prop_fwd"):
            self.buttons[name].setEnabled(span is None)
        self.track_view.update()

    def step(self, delta: int) -> None:
        """Ask for the frame `delta` away."""
        target = max(0, min(self.track_view.frame_count - 1, self.track_view.current + delta))
        self.frame_requested.emit(target)

    def first_frame(self) -> None:
        """Ask for frame 0."""
        self.frame_requested.emit(0)

    def last_frame(self) -> None:
        """Ask for the last frame."""
        self.frame_requested.emit(self.track_view.frame_count - 1)

    def toggle_play(self) -> None:
        """Play or pause."""
        if self.play_timer.isActive():
            self.play_timer.stop()
            self.buttons["play"].setIcon(qta.icon("fa5s.play"))
        else:
            self.play_timer.start()
            self.buttons["play"].setIcon(qta.icon("fa5s.pause"))

    def _tick(self) -> None:
        if self.track_view.current + 1 >= self.track_view.frame_count:
            self.toggle_play()
            return
        self.step(1)

    def _keyframes(self) -> list[int]:
        return sorted({f for _, sources in self.track_view.tracks for f, s in sources.items() if s == "user"})

    def next_keyframe(self) -> None:
        """Jump to the next frame that the user prompted or edited."""
        later = [f for f in self._keyframes() if f > self.track_view.current]
        if later:
            self.frame_requested.emit(later[0])

    def previous_keyframe(self) -> None:
        """Jump to the previous user keyframe."""
        earlier = [f for f in self._keyframes() if f < self.track_view.current]
        if earlier:
            self.frame_requested.emit(earlier[-1])
