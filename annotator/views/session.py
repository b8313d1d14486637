"""AnnotationSession: turns canvas gestures into engine requests and engine results into commands.

It owns the view state (current item, selected object, the prompt draft) — never undoable — and
routes every change of the document through `Project.execute`. Results of interactive requests
are matched to the request that asked for them; stale previews are dropped, but a click is never
lost: its result is applied to the object and item it was made on, even after navigating away.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from scipy import ndimage

from annotator.bridge import EngineBridge
from annotator.document import AddObject, Mask, Project, Prompts, SetMask
from annotator.document.model import Item
from annotator.errors import AnnotatorError, MediaError
from annotator.io.media import read_image
from annotator.io.video import CachedFrames
from annotator.views.canvas import CanvasView, Tool
from annotator.workspace import media_path
from model.protocol import Prediction, Prompt

log = logging.getLogger(__name__)

BUSY_AFTER_MS = 150  # work the user waits for longer than this shows the busy indicator


@dataclass
class Draft:
    """The prompts being built for one object (object_id None until its first mask exists)."""

    serial: int
    item_id: int
    frame: int
    object_id: int | None = None
    points: list[tuple[float, float, bool]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    logits: np.ndarray | None = None
    prediction: Prediction | None = None
    candidate: int = 0
    base: np.ndarray | None = None  # a mask the user painted or edited, which every later prompt keeps


@dataclass(frozen=True)
class _Pending:
    draft: Draft
    commit: bool
    points: tuple[tuple[float, float, bool], ...]
    box: tuple[float, float, float, float] | None
    base: np.ndarray | None = None


def keep_edit(base: np.ndarray | None, predicted: np.ndarray, points: tuple) -> np.ndarray:
    """The mask to save for a prediction made on top of a hand-edited `base`: what the user painted
    stays (a positive click adds the prediction to it), what they erased stays erased (a negative
    click can only take pixels away from it)."""
    if base is None or base.shape != predicted.shape:
        return predicted
    positive = not points or bool(points[-1][2])
    return (base | predicted) if positive else (base & predicted)


class AnnotationSession(QObject):
    """Glue between canvas, engine bridge and project for the item on screen."""

    message = Signal(str)  # passing news for the status bar
    failed = Signal(str)  # a problem that stays on screen until the user moves on
    selection_changed = Signal(object)  # object id or None
    item_changed = Signal(object)  # item id or None
    timing = Signal(str, float)  # what, milliseconds
    busy_changed = Signal(bool)  # True while a mask or an embedding the user waits for is coming

    def __init__(self, canvas: CanvasView, bridge: EngineBridge) -> None:
        super().__init__()
        self.canvas = canvas
        self.bridge = bridge
        self.project: Project | None = None
        self.item: Item | None = None
        self.frame = 0
        self.image: np.ndarray | None = None
        self.selected: int | None = None
        self.label_id: int | None = None
        self._serial = 0
        self._project_serial = 0
        self.draft: Draft | None = None
        self._pending: dict[int, _Pending] = {}
        self._latest_preview = 0
        self.embedded_keys: set[Any] = set()
        self.failed_keys: set[Any] = set()
        self._embed_requests: dict[int, Any] = {}
        self.frames: CachedFrames | None = None
        self.job_running = False
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(BUSY_AFTER_MS)
        self._busy_timer.timeout.connect(self._show_busy)
        self._busy_shown = False
        canvas.point_clicked.connect(self.add_point)
        canvas.box_dragged.connect(lambda *box: self._request(box=box, commit=False))
        canvas.box_finished.connect(lambda *box: self._request(box=box, commit=True))
        canvas.hovered.connect(self._hover)
        canvas.stroke_finished.connect(self.apply_stroke)
        canvas.object_picked.connect(self.pick_object)
        bridge.predicted.connect(self._on_predicted)
        bridge.previewed.connect(self._on_previewed)
        bridge.embedded.connect(self._on_embedded)
        bridge.errored.connect(self._on_errored)
        bridge.engine_ready.connect(self._on_engine_ready)

    # -- project and item ---------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Work on another project."""
        if self.project is not None:
            self.project.events.mask_changed.disconnect(self._on_mask_changed)
            self.project.events.row_changed.disconnect(self._on_row_changed)
            self.project.events.rows_removed.disconnect(self._on_rows_removed)
        self.project = project
        self._project_serial += 1
        self.embedded_keys.clear()
        self.failed_keys.clear()
        self.item = None
        self.select(None)
        if project is not None:
            project.events.mask_changed.connect(self._on_mask_changed)
            project.events.row_changed.connect(self._on_row_changed)
            project.events.rows_removed.connect(self._on_rows_removed)

    # -- busy indicator -------------------------------------------------------------------------
    @property
    def waiting(self) -> bool:
        """True while the user waits: for a click's mask, for the image on screen to be read, or a job."""
        reading = self.image is not None and self.key not in self.embedded_keys and self.key not in self.failed_keys
        return self.pending_count > 0 or reading or self.job_running

    def set_job_running(self, running: bool) -> None:
        """A long job (propagation) started or ended."""
        self.job_running = running
        self._update_busy()

    def _update_busy(self) -> None:
        if self.waiting:
            if not self._busy_shown and not self._busy_timer.isActive():
                self._busy_timer.start()
            return
        self._busy_timer.stop()
        if self._busy_shown:
            self._busy_shown = False
            self.canvas.set_busy(False)
            self.busy_changed.emit(False)

    def _show_busy(self) -> None:
        if self.waiting and not self._busy_shown:
            self._busy_shown = True
            self.canvas.set_busy(True)
            self.busy_changed.emit(True)

    @property
    def pending_count(self) -> int:
        """Clicks (and box releases) sent to the engine whose masks have not come back yet."""
        return sum(1 for pending in self._pending.values() if pending.commit)

    @property
    def key(self) -> tuple[int, int, int] | None:
        """Embedding key of what is on screen: (project serial, item id, frame). Item ids start at 1
        in every project, so the serial keeps one project's embeddings from answering another's."""
        return None if self.item is None else self.key_of(self.item.id, self.frame)

    def key_of(self, item_id: int, frame: int) -> tuple[int, int, int]:
        """Embedding key of an item's frame in the project shown."""
        return (self._project_serial, item_id, frame)

    def show_item(self, item_id: int | None, prefetch: list[int] | None = None) -> bool:
        """Show an item: read its image, ask for its embedding, draw its masks; False on a bad image."""
        self.select(None)
        self.item = None if (item_id is None or self.project is None) else self.project.item(item_id)
        self.frame = 0
        self.image = None
        self.item_changed.emit(item_id)
        if self.item is None or self.project is None:
            self.canvas.set_image(None)
            return False
        path = media_path(self.project, self.item.path)
        self._close_frames()
        try:
            if self.item.kind == "video":
                self.frames = CachedFrames(path)
                self.image = self.frames[0]
            else:
                self.image = read_image(path)
        except MediaError as error:
            self.canvas.set_image(None)
            self.failed.emit(str(error))
            return False
        self.canvas.set_image(self.image)
        self._embed(self.key_of(self.item.id, 0), self.image)
        for other in prefetch or []:
            other_path = media_path(self.project, self.project.item(other).path)
            self._embed(self.key_of(other, 0), lambda p=other_path: read_image(p), prefetch=True)
        self.refresh_overlays()
        return True

    def show_frame(self, frame: int) -> bool:
        """Show another frame of the video on screen (keeps zoom and the selected object)."""
        if self.frames is None or self.item is None or not 0 <= frame < len(self.frames):
            return False
        try:
            image = self.frames[frame]
        except (MediaError, IndexError) as error:
            self.failed.emit(str(error))
            return False
        self.frame, self.image = frame, image
        self.canvas.replace_image(image)
        self._embed(self.key_of(self.item.id, frame), image)
        self.refresh_overlays()
        self.select(self.selected)
        return True

    def _close_frames(self) -> None:
        if self.frames is not None:
            self.frames.close()
            self.frames = None

    def refresh_overlays(self) -> None:
        """Redraw every object overlay of the item on screen."""
        self.canvas.clear_overlays()
        if self.project is None or self.item is None:
            return
        for obj in self.project.objects(self.item.id):
            self._draw(obj.id)

    def _draw(self, object_id: int) -> None:
        assert self.project is not None
        obj = self.project.object(object_id)
        mask = self.project.mask(object_id, self.frame)
        self.canvas.set_overlay(object_id, mask, obj.color, object_id == self.selected, obj.visible)

    def _on_mask_changed(self, object_id: int, frame: int) -> None:
        if self.item is not None and frame == self.frame and self._shown(object_id):
            self._draw(object_id)

    def _on_row_changed(self, kind: str, before: Any, after: Any) -> None:
        if kind == "object" and self.item is not None and after.item_id == self.item.id:
            self._draw(after.id)

    def _on_rows_removed(self, kind: str, parent: int, index: int, row: Any) -> None:
        if kind == "object" and self.item is not None and parent == self.item.id:
            self.canvas.set_overlay(row.id, None, row.color, False, False)
            if self.selected == row.id:
                self.select(None)

    def _shown(self, object_id: int) -> bool:
        assert self.project is not None and self.item is not None
        try:
            return self.project.object(object_id).item_id == self.item.id
        except AnnotatorError:
            return False

    # -- selection and drafts -----------------------------------------------------------------
    def select(self, object_id: int | None) -> None:
        """Select an object (None: the next prompt starts a new object)."""
        previous, self.selected = self.selected, object_id
        self.draft = None
        if object_id is not None and self.project is not None and self.item is not None:
            record = self.project.mask_record(object_id, self.frame)
            prompts = record.prompts if record else Prompts()
            self.draft = self._new_draft(object_id, list(prompts.points), prompts.box)
            if record is not None and not prompts.points and prompts.box is None and not record.mask.is_empty:
                self.draft.base = record.mask.to_array()  # drawn or edited by hand: later clicks refine it
        for changed in {previous, object_id} - {None}:
            if self.project is not None and self.item is not None and self._shown(changed):
                self._draw(changed)
        self._show_markers()
        self.canvas.set_preview(None)
        self.selection_changed.emit(object_id)

    def new_object(self) -> None:
        """Accept the current object and start a new one."""
        self.select(None)

    def _new_draft(self, object_id: int | None, points: list, box: Any) -> Draft:
        assert self.item is not None
        self._serial += 1
        return Draft(self._serial, self.item.id, self.frame, object_id, points, box)

    def _show_markers(self) -> None:
        draft = self.draft
        self.canvas.set_markers(list(draft.points) if draft else [], draft.box if draft else None)

    # -- prompts --------------------------------------------------------------------------------
    def add_point(self, x: float, y: float, positive: bool) -> None:
        """A click: add a point to the draft and ask for the mask."""
        self._request(point=(x, y, positive), commit=True)

    def _hover(self, x: float, y: float) -> None:
        if self.draft is None or not self.draft.points:
            self._request(point=(x, y, True), commit=False, hover=True)

    def _request(
        self,
        point: tuple[float, float, bool] | None = None,
        box: tuple[float, ...] | None = None,
        commit: bool = True,
        hover: bool = False,
    ) -> None:
        if self.project is None or self.item is None or self.image is None:
            self.message.emit("open an image first")
            return
        if self.selected is not None and self.project.object(self.selected).locked:
            self.message.emit("the selected object is locked")
            return
        if self.draft is None:
            if commit and point is not None and not point[2] and box is None:
                self.message.emit("a negative point needs an object: select one, or left-click to start one")
                return
            self.draft = self._new_draft(None, [], None)
        draft = self.draft
        points = list(draft.points) if not hover else []
        if point is not None:
            points.append(point)
        prompt_box = tuple(box) if box is not None else (draft.box if not hover else None)
        if not hover and self.key not in self.embedded_keys:
            self.message.emit("the model is still reading this image; your click is queued and applies when ready")
        prompt = Prompt.from_clicks(points, prompt_box)
        if draft.logits is not None and not hover and box is None:
            prompt = Prompt(prompt.points, prompt.labels, prompt.box, logits=draft.logits)
        elif draft.base is not None and not hover:
            prompt = Prompt(prompt.points, prompt.labels, prompt.box, mask=draft.base)
        tag = f"commit-{draft.serial}" if commit else ("hover" if hover else f"drag-{draft.serial}")
        # Clicks show the engine's quick first mask while the full one is computed; drags and hovers,
        # which a newer event soon replaces, take the quick mask alone (the release is a click).
        request_id = self.bridge.predict(self.key, prompt, coalesce=tag, quick="first" if commit else "only")
        base = None if hover else draft.base
        pending = _Pending(draft, commit, tuple(points), prompt_box, base)  # type: ignore[arg-type]
        self._pending = {rid: p for rid, p in self._pending.items() if p.commit or rid == request_id}
        self._pending[request_id] = pending
        if commit:
            draft.points, draft.box = points, prompt_box  # type: ignore[assignment]
            self._show_markers()
            self._update_busy()
        else:
            self._latest_preview = request_id

    def _embed(self, key: Any, image: Any, prefetch: bool = False) -> None:
        """Ask for an embedding (the image on screen first; prefetches after every click)."""
        self.failed_keys.discard(key)
        request_id = self.bridge.embed(key, image, prefetch=prefetch, coalesce=None if prefetch else "embed-current")
        self._embed_requests[request_id] = key
        if len(self._embed_requests) > 256:  # ids replaced by newer requests never come back
            del self._embed_requests[next(iter(self._embed_requests))]
        self._update_busy()

    def _on_engine_ready(self, *_: Any) -> None:
        """Another engine (or the same one anew) has no embeddings yet: read the image on screen again."""
        self.embedded_keys.clear()
        self.failed_keys.clear()
        if self.item is not None and self.image is not None:
            self._embed(self.key, self.image)

    def _on_embedded(self, request_id: int, key: Any, ms: float) -> None:
        self.embedded_keys.add(key)
        self._embed_requests.pop(request_id, None)
        self._update_busy()
        if key == self.key:
            self.timing.emit("embed", ms)
            self.message.emit(f"image ready ({ms:.0f} ms)")

    def _on_errored(self, request_id: int, kind: str, text: str) -> None:
        """Errors of this image's requests are shown; a prefetch of another image that failed is only
        logged (the user sees it when they go there). Engine and job errors have their own views."""
        pending = self._pending.pop(request_id, None)
        key = self._embed_requests.pop(request_id, None)
        if pending is not None and pending.commit:
            self.failed.emit(f"the click could not be applied: {text}")
        elif kind == "embed" and key is not None:
            self.failed_keys.add(key)
            if key == self.key:
                self.failed.emit(f"the engine could not read this image: {text}")
            else:
                log.warning("prefetching %s failed: %s", key, text)
        self._update_busy()

    def _on_previewed(self, request_id: int, key: Any, prediction: Prediction, ms: float) -> None:
        """Paint a click's quick first mask (not saved: the full prediction replaces it)."""
        pending = self._pending.get(request_id)
        if pending is None or not pending.commit or key != self.key or pending.draft is not self.draft:
            return
        self.timing.emit("first mask", ms)
        self.canvas.set_preview(keep_edit(pending.base, prediction.best_mask, pending.points))
        self.canvas.viewport().repaint()

    def _on_predicted(self, request_id: int, key: Any, prediction: Prediction, ms: float) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return  # replaced by a newer request of the same kind
        self.timing.emit("predict", ms)
        self._update_busy()
        if not pending.commit:
            # A late hover or drag result is not shown once the user has switched tools.
            dragging = pending.box is not None
            wanted = self.canvas.tool == (Tool.BOX if dragging else Tool.POINT) and (
                dragging or self.canvas.hover_enabled
            )
            if request_id == self._latest_preview and key == self.key and wanted:
                self.canvas.set_preview(keep_edit(pending.base, prediction.best_mask, pending.points))
            return
        draft = pending.draft
        draft.prediction, draft.candidate = prediction, prediction.best
        draft.logits = prediction.logits[prediction.best : prediction.best + 1] if len(prediction.logits) else None
        mask = keep_edit(pending.base, prediction.masks[prediction.best], pending.points)
        self._commit(draft, mask, pending.points, pending.box)
        self.canvas.set_preview(None)

    def _commit(self, draft: Draft, mask: np.ndarray, points: tuple, box: Any) -> None:
        assert self.project is not None
        prompts = Prompts(tuple(points), box)
        try:
            if draft.object_id is None:
                obj = self.project.execute(
                    AddObject(
                        draft.item_id, self.label_id, mask=Mask.from_array(mask), frame=draft.frame, prompts=prompts
                    )
                )
                draft.object_id = obj.id
                if self.draft is draft:
                    self.selected = obj.id
                    self._draw(obj.id)
                    self.selection_changed.emit(obj.id)
            else:
                result = Mask.from_array(mask)
                self._show_first(draft, result)
                self.project.execute(SetMask(draft.object_id, draft.frame, result, "user", prompts))
        except AnnotatorError as error:
            self.failed.emit(str(error))
            if draft.object_id is not None and self.item is not None and draft.frame == self.frame:
                self._redraw_saved(draft.object_id)

    def _redraw_saved(self, object_id: int) -> None:
        """Show the saved mask of an object whose new mask was painted first and then refused."""
        try:
            self._draw(object_id)
        except AnnotatorError:  # the object itself is gone
            self.canvas.set_overlay(object_id, None, (0, 0, 0), False, False)

    def _show_first(self, draft: Draft, mask: Mask) -> None:
        """Paint a refined mask before saving it: the person sees it without waiting for the undo patch
        and the store's write (milliseconds for a large, ragged mask); the save follows at once, and
        its redraw of the same mask is skipped by the canvas."""
        assert self.project is not None and draft.object_id is not None
        if self.item is None or draft.item_id != self.item.id or draft.frame != self.frame:
            return
        obj = self.project.object(draft.object_id)
        if obj.locked or not obj.visible:
            return
        self.canvas.set_overlay(obj.id, mask, obj.color, obj.id == self.selected, obj.visible)
        self.canvas.viewport().repaint()

    def cycle_candidate(self) -> None:
        """Replace the selected object's mask with the model's next candidate (ambiguous clicks)."""
        draft = self.draft
        if draft is None or draft.prediction is None or draft.object_id is None:
            self.message.emit("no candidates to cycle through: click first")
            return
        prediction = draft.prediction
        draft.candidate = (draft.candidate + 1) % len(prediction.masks)
        draft.logits = prediction.logits[draft.candidate : draft.candidate + 1]
        mask = keep_edit(draft.base, prediction.masks[draft.candidate], tuple(draft.points))
        self._commit(draft, mask, tuple(draft.points), draft.box)
        self.message.emit(f"candidate {draft.candidate + 1} of {len(prediction.masks)}")

    # -- brush, eraser and clean-up --------------------------------------------------------------
    def apply_stroke(self, stroke: np.ndarray, erase: bool) -> None:
        """Add (brush) or remove (eraser) a stroke on the selected object: one undo step."""
        if self.project is None or self.item is None:
            return
        if self.selected is None:
            if erase:
                self.message.emit("select an object to erase from")
                return
            obj = self.project.execute(AddObject(self.item.id, self.label_id, mask=Mask.from_array(stroke)))
            self.select(obj.id)
            return
        current = self.project.mask(self.selected, self.frame)
        base = current.to_array() if current is not None else np.zeros(stroke.shape, bool)
        self._set_selected_mask(base & ~stroke if erase else base | stroke)

    def _set_selected_mask(self, full: np.ndarray) -> None:
        """Save a mask the user edited by hand. It is stored with no prompts (its points no longer
        make it), and it becomes the base that later clicks refine and keep."""
        assert self.project is not None and self.selected is not None
        try:
            self.project.execute(SetMask(self.selected, self.frame, Mask.from_array(full), "user", Prompts()))
        except AnnotatorError as error:
            self.failed.emit(str(error))
            return
        draft = self.draft = self._new_draft(self.selected, [], None)
        draft.base = full
        self._show_markers()

    def fill_holes(self) -> None:
        """Fill the holes of the selected object's mask, and say how much was filled."""
        mask = self._selected_mask()
        if mask is None:
            return
        filled = ndimage.binary_fill_holes(mask)
        added = int(np.count_nonzero(filled & ~mask))
        if not added:
            self.message.emit("fill holes: the mask has no holes")
            return
        holes = int(ndimage.label(filled & ~mask)[1])
        self._set_selected_mask(filled)
        self.message.emit(f"filled {holes} hole{'s' if holes != 1 else ''} ({added} px)")

    def remove_islands(self, min_fraction: float = 0.05) -> None:
        """Drop specks (parts smaller than `min_fraction` of the largest part), and say how many."""
        mask = self._selected_mask()
        if mask is None:
            return
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = np.flatnonzero(areas >= max(1, areas.max() * min_fraction)) + 1 if count > 1 else []
        dropped = count - 1 - len(keep)
        if dropped <= 0:
            self.message.emit("remove specks: the mask has no specks")
            return
        self._set_selected_mask(np.isin(labels, keep))
        removed = int(areas.sum() - areas[np.asarray(keep) - 1].sum())
        self.message.emit(f"removed {dropped} speck{'s' if dropped != 1 else ''} ({removed} px)")

    def _selected_mask(self) -> np.ndarray | None:
        if self.project is None or self.selected is None:
            self.message.emit("select an object first")
            return None
        mask = self.project.mask(self.selected, self.frame)
        return None if mask is None else mask.to_array()

    def pick_object(self, x: float, y: float) -> None:
        """Select the object under image pixel (x, y): the smallest visible one there (Ctrl+click);
        on the background, clear the selection."""
        if self.project is None or self.item is None:
            return
        hits = []
        for obj in self.project.objects(self.item.id):
            mask = self.project.mask(obj.id, self.frame)
            if obj.visible and mask is not None and mask.contains(int(x), int(y)):
                hits.append((mask.area, obj.id))
        self.select(min(hits)[1] if hits else None)
        if not hits:
            self.message.emit("no object there: the next click starts a new object")
