"""Review of proposals: runs Find and Everything on the engine thread, shows what they proposed, and
turns the person's accept / reject into document commands.

Rules a user can rely on:
- a run never blocks the window: it is a bridge job with progress, and Cancel stops it;
- a run adds proposals only (one undo step); nothing the user made is overwritten or deleted;
- proposals are drawn hatched with a dashed outline, never with the solid fill of an object;
- the threshold hides low-score proposals on the canvas and in the list; "accept all" takes what
  is shown, "reject the rest" drops everything still waiting on the image (or frame);
- accepting is one undo step, and accepted proposals become objects with the phrase's label.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtGui import QColor, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem

from annotator.document import AcceptProposals, AddProposals, Found, Mask, Project, RejectProposals
from annotator.document.model import Proposal, palette_color
from annotator.errors import AnnotatorError
from annotator.views.canvas import CanvasView
from annotator.views.overlays import proposal_image
from model.errors import Cancelled
from model.protocol import Concept, Engine, EverythingSettings, Instance, supports

if TYPE_CHECKING:
    from annotator.views.main_window import MainWindow

log = logging.getLogger(__name__)

MESSAGE_MS = 8000
# Find keeps instances down to this score (or the Score slider's, if higher), so that the slider can
# show the doubtful ones: SAM 3 scores a query by its own and the phrase's presence probability, and
# queries that match nothing score near 0, so this floor lets through few besides real candidates.
FIND_MIN_SCORE = 0.1
Exemplar = tuple[tuple[float, float, float, float], bool]  # xyxy image pixels, positive
Asked = tuple[Concept, str | None, int | None]  # a concept, its phrase, the label it gives (None: by name)


STRIPED = 1  # the best this many proposals shown are hatched; the rest only outlined, so the image shows


class ProposalLayer:
    """The proposals of the image on screen, drawn over the canvas; pixmaps keyed by proposal id (a
    proposal never changes its mask) and dropped when the proposal goes or the image changes.

    The best shown (STRIPED) and the highlighted one are hatched, the others only outlined: a
    "segment everything" run gives hundreds of overlapping regions, which hatched all at once
    hide the image."""

    def __init__(self, canvas: CanvasView) -> None:
        self.canvas = canvas
        self.items: dict[int, QGraphicsPixmapItem] = {}
        self._highlighted: int | None = None
        self._striped: set[int] = set()
        self.exemplar_items: list[QGraphicsRectItem] = []

    def show(self, proposals: list[Proposal], colors: dict[int, tuple[int, int, int]], highlighted: int | None) -> None:
        """Draw exactly `proposals` (the visible ones), `highlighted` with a white outline on top."""
        scene = self.canvas.scene()
        wanted = {p.id: p for p in proposals}
        for proposal_id in [i for i in self.items if i not in wanted]:
            scene.removeItem(self.items.pop(proposal_id))
        best = sorted(proposals, key=lambda p: -p.score)[:STRIPED]
        striped = {p.id for p in best} | ({highlighted} if highlighted is not None else set())
        for proposal in proposals:
            item = self.items.get(proposal.id)
            changed = (proposal.id in striped) != (proposal.id in self._striped)
            redraw = item is None or changed or proposal.id in (highlighted, self._highlighted)
            if item is None:
                item = QGraphicsPixmapItem()
                scene.addItem(item)
                self.items[proposal.id] = item
            if redraw:
                mask, on_top = proposal.mask, proposal.id == highlighted
                color = colors.get(proposal.id, palette_color(proposal.id - 1))
                origin = (mask.bbox[0], mask.bbox[1])
                image = proposal_image(mask.crop, color, origin, on_top, proposal.id in striped)
                item.setPixmap(QPixmap.fromImage(image))
                item.setPos(*origin)
                item.setZValue(41 if on_top else 40)
        self._highlighted = highlighted
        self._striped = striped

    def clear(self) -> None:
        """Remove every proposal drawing."""
        for item in self.items.values():
            self.canvas.scene().removeItem(item)
        self.items.clear()
        self._highlighted = None
        self._striped = set()

    def show_exemplars(self, exemplars: list[Exemplar]) -> None:
        """Draw the exemplar boxes: green for positive, red for negative."""
        for item in self.exemplar_items:
            self.canvas.scene().removeItem(item)
        self.exemplar_items = []
        for (x0, y0, x1, y1), positive in exemplars:
            rect = QGraphicsRectItem(QRectF(x0, y0, x1 - x0, y1 - y0))
            rect.setPen(QPen(QColor(40, 220, 60) if positive else QColor(235, 50, 50), 0))
            rect.setZValue(86)
            self.canvas.scene().addItem(rect)
            self.exemplar_items.append(rect)


def _found(instances: list[Instance], phrase: str | None, label_id: int | None) -> list[Found]:
    """Engine instances as document proposals (made on the engine thread: the masks are large)."""
    found = []
    for instance in instances:
        mask = Mask.from_array(np.asarray(instance.mask, bool))
        score = float(min(1.0, max(0.0, instance.score)))
        found.append(Found(mask, score, phrase, label_id))
    return found


def find_settings(concepts: list[Asked], exemplars: list[Exemplar]) -> dict[str, Any]:
    """What a Find run records of what it was asked (the run's settings)."""
    return {"phrases": [t for _, t, _ in concepts if t], "exemplars": [[*b, int(p)] for b, p in exemplars]}


def what_found(concepts: list[Asked]) -> str:
    """ "'bus', 'car'" (or "the exemplars") for messages."""
    return ", ".join(f"'{t}'" for _, t, _ in concepts if t) or "the exemplars"


class ReviewController(QObject):
    """Find / Everything runs and the review of their proposals on the image on screen."""

    progressed = Signal(int, int)  # done, total of the run going on
    running_changed = Signal(bool)
    shown_changed = Signal()  # the proposals shown (or the threshold, the image, the highlight) changed
    message = Signal(str)
    _engine_progress = Signal(int, int, int)  # run serial, done, total (emitted on the engine thread)

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.layer = ProposalLayer(window.canvas)
        self.threshold = 0.0
        self.highlighted: int | None = None
        self.exemplars: list[Exemplar] = []
        self.job_id: int | None = None
        self._serial = 0
        self._run: dict[str, Any] = {}
        self._refresh_due = False
        self.project: Project | None = None
        bridge = window.bridge
        bridge.job_yielded.connect(self._on_yielded)
        bridge.job_finished.connect(self._on_finished)
        bridge.errored.connect(self._on_errored)
        self._engine_progress.connect(self._on_engine_progress)
        window.canvas.exemplar_drawn.connect(self.add_exemplar)

    # -- what is on screen -------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Follow another project's events."""
        if self.project is not None:
            self.project.events.rows_inserted.disconnect(self._on_rows)
            self.project.events.rows_removed.disconnect(self._on_rows)
        self.project = project
        self.layer.clear()
        if project is not None:
            project.events.rows_inserted.connect(self._on_rows)
            project.events.rows_removed.connect(self._on_rows)

    def _on_rows(self, kind: str, parent: int, _index: int, _row: Any) -> None:
        item = self.window.session.item
        if kind == "proposal" and item is not None and parent == item.id and not self._refresh_due:
            # Once after the command (or undo) that changed them: a video run changes thousands of rows.
            self._refresh_due = True
            QTimer.singleShot(0, self.refresh)

    def here(self) -> list[Proposal]:
        """Every proposal waiting on the image (or video frame) on screen, best first."""
        session = self.window.session
        if self.project is None or session.item is None:
            return []
        return [p for p in self.project.proposals(session.item.id) if p.frame == session.frame]

    def shown(self) -> list[Proposal]:
        """The proposals on screen that pass the threshold, best score first."""
        return sorted((p for p in self.here() if p.score >= self.threshold), key=lambda p: -p.score)

    def refresh(self) -> None:
        """Redraw the proposals of the image or frame on screen (after a change of item, frame or threshold)."""
        self._refresh_due = False
        shown = self.shown()
        if self.highlighted not in {p.id for p in shown}:
            self.highlighted = None
        colors = {}
        if self.project is not None:
            for proposal in shown:
                label_id = proposal.label_id
                if label_id is None and proposal.phrase:
                    label = self.project.label_by_name(proposal.phrase)
                    label_id = label.id if label else None
                if label_id is not None:
                    colors[proposal.id] = self.project.label(label_id).color
        self.layer.show(shown, colors, self.highlighted)
        self.shown_changed.emit()

    def item_changed(self) -> None:
        """Another image is on screen: its exemplars are gone, its proposals shown."""
        self.exemplars = []
        self.layer.show_exemplars([])
        self.layer.clear()
        self.refresh()

    def set_threshold(self, value: float) -> None:
        """Hide proposals scoring below `value`."""
        self.threshold = value
        self.refresh()

    def highlight(self, proposal_id: int | None) -> None:
        """Outline one proposal in white (the one picked in the list)."""
        self.highlighted = proposal_id
        self.refresh()

    # -- exemplars ---------------------------------------------------------------------------------
    def add_exemplar(self, x0: float, y0: float, x1: float, y1: float, positive: bool) -> None:
        """Keep an exemplar box drawn on the canvas for the next Find."""
        self.exemplars.append(((x0, y0, x1, y1), positive))
        self.layer.show_exemplars(self.exemplars)
        self.shown_changed.emit()

    def clear_exemplars(self) -> None:
        """Forget the exemplar boxes."""
        self.exemplars = []
        self.layer.show_exemplars([])
        self.shown_changed.emit()

    # -- runs ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a Find or Everything run is going on."""
        return self.job_id is not None

    def why_not(self, step: str) -> str:
        """'' when the loaded engine offers `step` ('find' or 'everything'), else why not, for the person."""
        engine = self.window.bridge.engine
        if engine is None:
            return "no engine is loaded yet"
        if supports(engine, step):  # type: ignore[arg-type]
            return ""
        name = getattr(engine, "name", "this engine")
        if step == "find":
            return f"finding a phrase or exemplar needs a concept model (SAM 3); {name} has none"
        return f"{name} cannot segment everything; load another engine in the Model panel"

    def target(self) -> tuple[int, int, Any, np.ndarray] | None:
        """(item id, frame, embedding key, image) on screen for a run; None (with a message) when no image is
        on screen or a run is going on."""
        session = self.window.session
        if self.project is None or session.item is None or session.image is None:
            self.message.emit("open an image first")
            return None
        if self.running:
            self.message.emit("a run is already going on: wait, or cancel it")
            return None
        return session.item.id, session.frame, session.key, session.image

    def run_everything(self, points_per_side: int = 32) -> bool:
        """Segment everything on the image or frame on screen (as proposals); False when it cannot start."""
        reason = self.why_not("everything")
        target = None if reason else self.target()
        if reason:
            self.message.emit(reason)
        if target is None:
            return False
        # An engine that finds concepts (SAM 3) looks for every label of the project instead of a grid.
        labels = {label.name: label.id for label in self.project.labels} if self.project is not None else {}
        concepts = tuple(labels) if supports(self.window.bridge.engine, "find") else ()
        settings = EverythingSettings(
            points_per_side=points_per_side, concepts=concepts, concept_min_score=FIND_MIN_SCORE
        )
        bridge, progress = self.window.bridge, self.progress_of_next_run()
        key, image = target[2], target[3]

        def make(engine: Engine, cancel: threading.Event) -> Iterator[Any]:
            embedding = bridge.embedding_for(key, image)
            try:
                instances = engine.everything(embedding, settings, cancel, progress)  # type: ignore[attr-defined]
            except Cancelled:
                return
            found: list[Found] = []
            for instance in instances:
                phrase = getattr(instance, "label", None)
                found += _found([instance], phrase, labels.get(phrase) if phrase else None)
            yield found

        return self.start_run(make, target, "everything", json.dumps(asdict(settings)), "segment everything")

    def concepts(self, phrases: list[tuple[str, int | None]], exemplars: list[Exemplar]) -> list[Asked] | None:
        """(concept, phrase, label id) for each phrase, or one for the exemplar boxes alone; None (with
        a message) when there is neither."""
        boxes = np.array([box for box, _ in exemplars], np.float32).reshape(-1, 4)
        signs = np.array([1 if positive else 0 for _, positive in exemplars], np.int32)
        floor = max(FIND_MIN_SCORE, self.threshold)
        try:
            return [(Concept(text, boxes, signs, min_score=floor), text, label) for text, label in phrases] or [
                (Concept(None, boxes, signs, min_score=floor), None, None)
            ]
        except ValueError:
            self.message.emit("type a phrase, pick a label, or draw an exemplar box first")
            return None

    def find_inputs(
        self, reason: str, phrases: list[tuple[str, int | None]], exemplars: list[Exemplar]
    ) -> tuple[list[Asked], tuple[int, int, Any, np.ndarray]] | None:
        """(the concepts asked, the target on screen) for a Find run; None (with a message) when
        `reason` says why it cannot run, nothing is asked, or there is no target."""
        if reason:
            self.message.emit(reason)
            return None
        concepts = self.concepts(phrases, exemplars)
        target = None if concepts is None else self.target()
        return None if concepts is None or target is None else (concepts, target)

    def run_find(self, phrases: list[tuple[str, int | None]], exemplars: list[Exemplar]) -> bool:
        """Find every instance of each (phrase, label id), or of the exemplar boxes, on the image on screen."""
        inputs = self.find_inputs(self.why_not("find"), phrases, exemplars)
        if inputs is None:
            return False
        concepts, target = inputs
        bridge, progress, key, image = self.window.bridge, self.progress_of_next_run(), target[2], target[3]

        def make(engine: Engine, cancel: threading.Event) -> Iterator[Any]:
            embedding = bridge.embedding_for(key, image)
            found: list[Found] = []
            for done, (concept, text, label_id) in enumerate(concepts):
                if cancel.is_set():
                    return
                progress(done, len(concepts))
                found += _found(engine.find(embedding, concept), text, label_id)  # type: ignore[attr-defined]
            yield found

        return self.start_run(
            make, target, "find", json.dumps(find_settings(concepts, exemplars)), f"find {what_found(concepts)}"
        )

    def start_run(self, make: Any, target: tuple, source: str, settings: str, what: str) -> bool:
        """Run the job `make` on the engine thread for `target` (from `target()`); what it yields (Found
        instances) is added as proposals of one run, in one undo step."""
        engine = self.window.bridge.engine
        self._serial += 1
        self._run = {
            "item_id": target[0],
            "frame": target[1],
            "source": source,
            "settings": settings,
            "engine": getattr(engine, "name", ""),
            "model": getattr(engine, "model_id", ""),
            "what": what,
            "serial": self._serial,
        }
        self.job_id = self.window.bridge.run_job(make)
        self.window.session.set_job_running(True)
        self.running_changed.emit(True)
        self.progressed.emit(0, 0)
        self.message.emit(f"{what}: running…")
        return True

    def progress_of_next_run(self) -> Any:
        """A (done, total) callable for the engine thread, reporting the progress of the run started next."""
        serial = self._serial + 1
        return lambda done, total: self._engine_progress.emit(serial, done, total)

    def cancel(self) -> None:
        """Stop the run going on; nothing is added."""
        if self.job_id is not None:
            self.window.bridge.cancel(self.job_id)

    def _on_engine_progress(self, serial: int, done: int, total: int) -> None:
        if self.running and serial == self._run.get("serial"):
            self.progressed.emit(done, total)

    def _on_yielded(self, job_id: int, value: Any) -> None:
        if job_id != self.job_id or self.project is None:
            return
        run = self._run
        found = tuple(value)
        if not found:
            self.message.emit(f"{run['what']}: nothing found")
            return
        command = AddProposals(
            run["item_id"], found, run["source"], run["engine"], run["model"], run["settings"], run["frame"]
        )
        try:
            _, made = self.project.execute(command)
        except AnnotatorError as error:
            self.message.emit(str(error))
            return
        groups = len({p.group_id for p in made if p.group_id is not None})
        frames = len({p.frame for p in made})
        where = f" ({groups} tracked on {frames} frames)" if groups else ""
        self.message.emit(f"{run['what']}: {len(made)} proposals{where} to review (one undo step)")

    def _on_finished(self, job_id: int, cancelled: bool) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.window.session.set_job_running(False)
        self.running_changed.emit(False)
        if cancelled:
            self.message.emit(f"{self._run.get('what', 'run')}: cancelled, nothing added")

    def _on_errored(self, request_id: int, kind: str, text: str) -> None:
        if request_id == self.job_id:
            self.message.emit(f"{self._run.get('what', 'run')} failed: {text}")

    # -- review ------------------------------------------------------------------------------------
    def _execute(self, command: Any) -> Any:
        if self.project is None:
            return None
        try:
            return self.project.execute(command)
        except AnnotatorError as error:
            self.message.emit(str(error))
            return None

    def accept(self, ids: list[int]) -> None:
        """Accept these proposals as objects (one undo step)."""
        if not ids:
            self.message.emit("pick a proposal in the list first")
            return
        label_id = self.window.session.label_id  # what new objects get: also what 'everything' ones get
        objects = self._execute(AcceptProposals(tuple(ids), fallback_label_id=label_id))
        if objects:
            self.message.emit(_accepted(self.window.project, objects))

    def reject(self, ids: list[int]) -> None:
        """Reject these proposals (one undo step)."""
        if not ids:
            self.message.emit("pick a proposal in the list first")
            return
        count = self._execute(RejectProposals(tuple(ids)))
        if count:
            self.message.emit(f"rejected {count} proposal{'s' if count != 1 else ''}")

    def accept_shown(self) -> None:
        """Accept every proposal shown (above the threshold) on the image or frame on screen."""
        shown = self.shown()
        if not shown:
            self.message.emit("no proposal above the threshold here")
            return
        self.accept([p.id for p in shown])

    def reject_rest(self) -> None:
        """Reject every proposal still waiting on the image or frame on screen, hidden ones too."""
        here = self.here()
        if not here:
            self.message.emit("no proposals wait here")
            return
        self.reject([p.id for p in here])

    def accept_all_on_item(self) -> None:
        """Accept every proposal waiting on the item on screen, whatever its frame or score."""
        session = self.window.session
        if self.project is None or session.item is None or not self.project.proposals(session.item.id):
            self.message.emit("no proposals wait on this item")
            return
        objects = self._execute(AcceptProposals(item_id=session.item.id, fallback_label_id=session.label_id))
        if objects:
            self.message.emit(f"accepted all {len(objects)} proposals of this item as objects")

    # -- review at scale: the Images list ----------------------------------------------------------
    def next_item_to_review(self) -> None:
        """Go to the next item (after the one on screen, wrapping) with proposals waiting."""
        project, navigator = self.project, self.window.navigator
        if project is None or not project.items:
            return
        counts, current, total = project.proposal_counts(), navigator.currentRow(), len(project.items)
        for step in range(1, total + 1):
            row = (current + step) % total
            if counts.get(project.items[row].id):
                navigator.setCurrentRow(row)
                self.message.emit(f"{counts[project.items[row].id]} proposals to review here")
                return
        self.message.emit("no item has proposals waiting for review")

    def apply_filter(self, only_waiting: bool) -> None:
        """Show in the Images list only the items with proposals waiting (and the one on screen), or all."""
        project, navigator = self.project, self.window.navigator
        if project is None:
            return
        counts, current = project.proposal_counts(), navigator.currentRow()
        for row, item in enumerate(project.items):
            navigator.setRowHidden(row, only_waiting and row != current and not counts.get(item.id))

    def toggle_filter(self) -> None:
        """The Images list shows only items with proposals waiting, or all again (a checkable action)."""
        self.apply_filter(self.window.actions["only_to_review"].isChecked())

    def counts_text(self) -> str:
        """'to review: N here · M in all' for the status bar."""
        session = self.window.session
        if self.project is None:
            return ""
        counts = self.project.proposal_counts()
        here = counts.get(session.item.id, 0) if session.item is not None else 0
        return f"to review: {here} here · {sum(counts.values())} in all"


def _accepted(project: Project, objects: list[Any]) -> str:
    """What an accept made, for the status bar: objects, and the frames they span when tracked."""
    frames = sum(len(project.mask_frames(obj.id)) for obj in objects)
    made = f"accepted: {len(objects)} new object{'s' if len(objects) != 1 else ''}"
    return made + (f" with masks on {frames} frames" if frames > len(objects) else "")
