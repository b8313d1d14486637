"""Project: the single source of truth for labels, items, objects and masks.

All changes go through `execute(command)`; each is applied in memory, written to the store in
one transaction that commits before `execute` returns, recorded as one undo step, and announced
through `events`. Objects load per item and masks per (object, frame) on first use, so a large
project opens at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.document.changes import Change, MaskChange, MaskMeta, RowChange, invert_all
from annotator.document.commands import CommandError
from annotator.document.events import ProjectEvents
from annotator.document.history import History, Step
from annotator.document.mask import Mask
from annotator.document.model import FrameState, Item, Label, MaskRecord, Object, Proposal, Run, frame_state
from annotator.document.proposals import ProposalIndex
from annotator.document.store import ProjectStore
from annotator.document.tracks import TrackChange, TrackReads
from annotator.errors import ProjectError

log = logging.getLogger(__name__)

_MaskEntry = tuple[Mask, MaskMeta] | None


class Project(TrackReads):
    """An annotation project, backed by a store file or held in memory only."""

    def __init__(
        self, store: ProjectStore | None, max_cached_masks: int = 4096, max_cached_bytes: int = 128 * 1024 * 1024
    ) -> None:
        self.store = store
        self.events = ProjectEvents()
        self.history = History()
        self._max_cached = max_cached_masks
        self._max_cached_bytes = max_cached_bytes
        self._mask_bytes = 0
        self._labels: list[Label] = store.load_labels() if store else []
        self._items: list[Item] = store.load_items() if store else []
        self._label_by_id = {label.id: label for label in self._labels}
        self._item_by_id = {item.id: item for item in self._items}
        self._objects: dict[int, list[Object]] = {}
        self._object_by_id: dict[int, Object] = {}
        self._masks: OrderedDict[tuple[int, int], _MaskEntry] = OrderedDict()
        self._frames: dict[int, set[int]] = {}
        self._review = ProposalIndex(lambda: self.store)
        self._next_ids = {k: v + 1 for k, v in (store.max_ids() if store else {}).items()}
        self._memory_only = False
        self._pending: list[Any] = []
        # Sibling lists into which a row was inserted before the end: their order is written once, after
        # the transaction's other writes (an undone "reject the rest" re-inserts thousands of proposals).
        self._orders: dict[tuple[str, int], list[Any]] = {}
        self._unsaved: list[Change] | None = None
        self._group: list[Change] | None = None
        self._group_description = ""
        self._deferred_path: Path | None = None
        self._deferring = False

    # -- lifecycle ------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Project:
        """A new project saved at `path`."""
        return cls(ProjectStore.create(path))

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Project:
        """Open an existing project file (ProjectError names the file and the problem)."""
        return cls(ProjectStore.open(path))

    @classmethod
    def deferred(cls, path: str | os.PathLike[str]) -> Project:
        """A new project meant for `path`, whose file is written at its first edit (outside
        `setting_up`): opening a folder only to look at it writes nothing there."""
        project = cls(None)
        project._deferred_path = Path(path)
        return project

    @contextlib.contextmanager
    def setting_up(self) -> Iterator[None]:
        """Changes made inside (such as adding a folder's images) do not create a deferred file."""
        previous, self._deferring = self._deferring, True
        try:
            yield
        finally:
            self._deferring = previous

    def _materialise(self) -> None:
        """Write the deferred project to its file (first edit), then keep writing there."""
        path, self._deferred_path = self._deferred_path, None
        assert path is not None
        saved = self.save_as(path)
        self.store, saved.store = saved.store, None

    @classmethod
    def in_memory(cls) -> Project:
        """A project with no file (for conversions and tests); `save_as` writes it out."""
        return cls(None)

    @property
    def path(self) -> Path | None:
        """The project file (for a deferred project, where it will be), or None for one in memory."""
        return self._deferred_path if self.store is None else self.store.path

    def close(self) -> None:
        """Close the store (every edit is already saved)."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def save_as(self, path: str | os.PathLike[str]) -> Project:
        """Write the whole project to a new file at `path` and return it opened."""
        if self.store is not None:
            self.store.backup_to(path)
            saved = Project.open(path)
            if self._unsaved:
                saved._replay(tuple(self._unsaved))
            return saved
        target = Project.create(path)
        store = target.store
        assert store is not None
        with store.transaction():
            for index, label in enumerate(self._labels):
                store.insert_row("label", label, index, last=True)
            for index, run in enumerate(self.runs):
                store.insert_row("run", run, index, last=True)
            for index, item in enumerate(self._items):
                store.insert_row("item", item, index, last=True)
                proposals = self.proposals(item.id)
                for position, proposal in enumerate(proposals):
                    store.insert_row("proposal", proposal, position, last=True)
                objects = self.objects(item.id)
                for position, obj in enumerate(objects):
                    store.insert_row("object", obj, position, last=True)
                    for frame in self.mask_frames(obj.id):
                        entry = self._mask_entry(obj.id, frame)
                        if entry is not None:
                            store.write_mask(obj.id, frame, *entry)
                    for frame, sample in self.track(obj.id).items():
                        store.tracks.write(obj.id, frame, sample)
        target.store = None
        store.close()
        return Project.open(path)

    # -- reading --------------------------------------------------------------------------------
    @property
    def labels(self) -> list[Label]:
        """Labels in list order (do not mutate)."""
        return self._labels

    @property
    def items(self) -> list[Item]:
        """Items in list order (do not mutate)."""
        return self._items

    def label(self, label_id: int) -> Label:
        """The label with this id (CommandError when unknown)."""
        try:
            return self._label_by_id[label_id]
        except KeyError:
            raise CommandError(f"no label with id {label_id}") from None

    def label_by_name(self, name: str) -> Label | None:
        """The label with this name, or None."""
        return next((label for label in self._labels if label.name == name), None)

    def item(self, item_id: int) -> Item:
        """The item with this id (CommandError when unknown)."""
        try:
            return self._item_by_id[item_id]
        except KeyError:
            raise CommandError(f"no item with id {item_id}") from None

    def objects(self, item_id: int) -> list[Object]:
        """The objects of an item in layer order (do not mutate)."""
        if item_id not in self._objects:
            if item_id not in self._item_by_id:
                raise CommandError(f"no item with id {item_id}")
            loaded = self.store.load_objects(item_id) if self.store else []
            self._objects[item_id] = loaded
            self._object_by_id.update((obj.id, obj) for obj in loaded)
        return self._objects[item_id]

    def object(self, object_id: int) -> Object:
        """The object with this id (CommandError when unknown)."""
        if object_id not in self._object_by_id and self.store is not None:
            item_id = self.store.item_of_object(object_id)
            if item_id is not None:
                self.objects(item_id)
        try:
            return self._object_by_id[object_id]
        except KeyError:
            raise CommandError(f"no object with id {object_id}") from None

    def objects_with_label(self, label_id: int) -> list[Object]:
        """Every object, in any item, that has this label."""
        if self.store is not None:
            for item_id in self.store.items_using_label(label_id):
                self.objects(item_id)
        return [obj for objs in self._objects.values() for obj in objs if obj.label_id == label_id]

    @property
    def runs(self) -> list[Run]:
        """The model runs that made proposals, oldest first (do not mutate)."""
        return self._review.runs

    def run(self, run_id: int) -> Run:
        """The run with this id (CommandError when unknown)."""
        try:
            return self._review.run_by_id[run_id]
        except KeyError:
            raise CommandError(f"no run with id {run_id}") from None

    def proposals(self, item_id: int) -> list[Proposal]:
        """The proposals waiting for review on an item, in list order (do not mutate)."""
        if item_id not in self._item_by_id:
            raise CommandError(f"no item with id {item_id}")
        return self._review.of_item(item_id)

    def proposal(self, proposal_id: int) -> Proposal:
        """The proposal with this id (CommandError when unknown: accepted, rejected or never made)."""
        review = self._review
        if proposal_id not in review.by_id and self.store is not None:
            item_id = self.store.item_of_proposal(proposal_id)
            if item_id is not None:
                review.of_item(item_id)
        try:
            return review.by_id[proposal_id]
        except KeyError:
            raise CommandError(f"no proposal with id {proposal_id}") from None

    def proposal_counts(self) -> dict[int, int]:
        """Item id -> number of proposals waiting for review there (items with none are left out)."""
        return self._review.counts

    def proposals_with_label(self, label_id: int) -> list[Proposal]:
        """Every proposal, on any item, that would get this label when accepted."""
        return self._review.with_label(label_id)

    def release(self, item_ids: list[int]) -> None:
        """Drop what memory holds of these items' proposals (a long run's batches are written and
        released, so memory stays flat); they load again from the file when asked for."""
        if self.store is None:
            return
        for item_id in item_ids:
            self._review.release(item_id)

    def mask_frames(self, object_id: int) -> list[int]:
        """Frames on which the object has a mask, sorted."""
        return sorted(self._frame_set(object_id))

    def _frame_set(self, object_id: int) -> set[int]:
        if object_id not in self._frames:
            self._frames[object_id] = set(self.store.mask_frames(object_id)) if self.store else set()
        return self._frames[object_id]

    def _mask_facts(self, object_id: int) -> dict[int, tuple[str, bool, float | None]]:
        """(source, empty, score) of each frame with a mask: the store's rows, overridden by memory."""
        facts = {}
        if self.store is not None:
            for frame, (source, area, score) in self.store.mask_states(object_id).items():
                facts[frame] = (source, area == 0, score)
        for (obj, frame), entry in self._masks.items():
            if obj == object_id:
                if entry is None:
                    facts.pop(frame, None)
                else:
                    facts[frame] = (entry[1].source, entry[0].is_empty, entry[1].score)
        return facts

    def frame_sources(self, object_id: int) -> dict[int, str]:
        """Source ('user', 'propagated', 'imported') of each frame with a mask, without decoding masks."""
        return {frame: source for frame, (source, _, _) in self._mask_facts(object_id).items()}

    def frame_states(self, object_id: int) -> dict[int, FrameState]:
        """What each frame with a mask is, for the timeline: 'user', 'imported', 'propagated', or a
        propagated frame that is 'low' (confidence below LOW_CONFIDENCE) or 'absent' (empty mask)."""
        return {frame: frame_state(*facts) for frame, facts in self._mask_facts(object_id).items()}

    def mask(self, object_id: int, frame: int = 0) -> Mask | None:
        """The object's mask on a frame, or None when it has none."""
        entry = self._mask_entry(object_id, frame)
        return None if entry is None else entry[0]

    def mask_record(self, object_id: int, frame: int = 0) -> MaskRecord | None:
        """The mask with its source and prompts, or None."""
        entry = self._mask_entry(object_id, frame)
        return None if entry is None else MaskRecord(entry[0], entry[1].source, entry[1].prompts, entry[1].score)

    def _mask_entry(self, object_id: int, frame: int) -> _MaskEntry:
        key = (object_id, frame)
        if key in self._masks:
            self._masks.move_to_end(key)
            return self._masks[key]
        entry = self.store.load_mask(object_id, frame) if self.store else None
        self._cache_mask(key, entry)
        return entry

    def _cache_mask(self, key: tuple[int, int], entry: _MaskEntry) -> None:
        old = self._masks.pop(key, None)
        self._mask_bytes -= 0 if old is None else old[0].crop.nbytes
        self._masks[key] = entry
        self._mask_bytes += 0 if entry is None else entry[0].crop.nbytes
        if not self._pending:
            self._trim_cache()

    def _trim_cache(self) -> None:
        # Only the store can give back what the cache drops: nothing may go while writes are
        # pending, or while edits exist only in memory.
        if self.store is None or self._unsaved is not None:
            return
        while len(self._masks) > 1 and (
            len(self._masks) > self._max_cached or self._mask_bytes > self._max_cached_bytes
        ):
            _, dropped = self._masks.popitem(last=False)
            self._mask_bytes -= 0 if dropped is None else dropped[0].crop.nbytes

    def new_id(self, kind: str) -> int:
        """Reserve a fresh id for a new row of `kind` ('label', 'item' or 'object')."""
        value = self._next_ids.get(kind, 1)
        self._next_ids[kind] = value + 1
        return value

    # -- executing ------------------------------------------------------------------------------
    def execute(self, command: Any) -> Any:
        """Run a command: apply, save in one transaction, record one undo step; returns its result."""
        if self._deferred_path is not None and not self._deferring:
            self._materialise()
        applied: list[Change] = []

        def apply(change: Change) -> None:
            self._apply(change)
            applied.append(change)

        result = self._transact(lambda: command.run(self, apply), applied)
        if applied and self._group is not None:
            self._group.extend(applied)
        elif applied:
            self.history.push(Step(command.description, tuple(applied)))
            self.events.history_changed.emit()
        return result

    def begin_group(self, description: str) -> None:
        """Start collecting the following commands into one undo step (each still saves at once).

        Used for long runs such as a propagation: every frame is saved as it arrives, yet the
        whole run, or what was done of it before a cancel, undoes in one step.
        """
        if self._group is not None:
            raise CommandError("a group of edits is already open")
        self._group = []
        self._group_description = description

    def end_group(self) -> None:
        """Close the group opened by begin_group and record it as one undo step."""
        changes, self._group = self._group, None
        if changes:
            self.history.push(Step(self._group_description, tuple(changes)))
            self.events.history_changed.emit()

    @property
    def in_group(self) -> bool:
        """True between begin_group and end_group."""
        return self._group is not None

    def undo(self) -> bool:
        """Undo the last step; False when there is nothing to undo."""
        if not self.history.can_undo or self._group is not None:
            return False
        step = self.history.pop_undo()
        self._replay(invert_all(step.changes))
        self.history.undone()
        self.events.history_changed.emit()
        return True

    def redo(self) -> bool:
        """Redo the last undone step; False when there is nothing to redo."""
        if not self.history.can_redo or self._group is not None:
            return False
        step = self.history.pop_redo()
        self._replay(step.changes)
        self.history.redone()
        self.events.history_changed.emit()
        return True

    def _replay(self, changes: tuple[Change, ...]) -> None:
        applied: list[Change] = []

        def run() -> None:
            for change in changes:
                self._apply(change)
                applied.append(change)

        self._transact(run, applied)

    def _writer(self) -> ProjectStore | None:
        """The store to write to, or None (no store, rolling back, or edits held in memory)."""
        if self.store is None or self._memory_only or self._unsaved is not None:
            return None
        return self.store

    def _transact(self, body: Any, applied: list[Change]) -> Any:
        """Apply `body` to memory, then write its changes in one store transaction.

        A refused command restores memory and re-raises. A store that cannot be written (disk full,
        device gone) does not lose the edit: the project keeps it, and every later one, in memory,
        emits `store_failed`, and `save_as` writes everything to a new file.
        """
        self._pending, self._orders = [], {}
        try:
            result = body()
        except BaseException:
            self._pending, self._orders = [], {}
            self._memory_only = True
            try:
                for change in invert_all(tuple(applied)):
                    self._apply(change)
            finally:
                self._memory_only = False
            applied.clear()
            raise
        writes, self._pending = self._pending, []
        orders, self._orders = self._orders, {}
        if self._unsaved is not None:
            self._unsaved.extend(applied)
        elif self.store is not None and writes:
            try:
                with self.store.transaction():
                    for write in writes:
                        write()
                    for (kind, _parent), siblings in orders.items():
                        self.store.write_order(kind, [row.id for row in siblings])  # type: ignore[arg-type]
            except (ProjectError, sqlite3.Error) as error:
                self._keep_in_memory(applied, error)
        self._trim_cache()
        return result

    def _keep_in_memory(self, applied: list[Change], error: BaseException) -> None:
        assert self.store is not None
        self._unsaved = list(applied)
        message = f"{self.store.path}: could not save ({error}); edits are kept in memory: use Save As"
        log.error("%s", message)
        self.events.store_failed.emit(message)

    @property
    def unsaved(self) -> bool:
        """True when the store failed and edits since then exist only in memory."""
        return self._unsaved is not None

    def _apply(self, change: Change) -> None:
        if isinstance(change, MaskChange):
            self._apply_mask(change)
        elif isinstance(change, TrackChange):
            self._apply_track(change)
        else:
            self._apply_row(change)

    def _siblings(self, change: RowChange) -> list[Any]:
        if change.kind == "label":
            return self._labels
        if change.kind == "item":
            return self._items
        if change.kind == "run":
            return self._review.runs
        row = change.after if change.after is not None else change.before
        if change.kind == "proposal":
            return self.proposals(row.item_id)  # type: ignore[union-attr]
        return self.objects(row.item_id)  # type: ignore[union-attr]

    def _index_of(self, change: RowChange) -> dict[int, Any]:
        if change.kind == "run":
            return self._review.run_by_id
        if change.kind == "proposal":
            return self._review.by_id
        return {"label": self._label_by_id, "item": self._item_by_id, "object": self._object_by_id}[change.kind]

    def _apply_row(self, change: RowChange) -> None:
        siblings, by_id, events = self._siblings(change), self._index_of(change), self.events
        parent = change.after.item_id if isinstance(change.after, Object | Proposal) else 0
        if isinstance(change.before, Object | Proposal):
            parent = change.before.item_id
        store = self._writer()
        if change.before is None:
            row, index = change.after, change.after_index
            events.rows_inserting.emit(change.kind, parent, index)
            siblings.insert(index, row)
            by_id[row.id] = row
            if isinstance(row, Proposal):
                self._review.inserted(row)
            if store:
                last = index == len(siblings) - 1
                self._pending.append(lambda: store.insert_row(change.kind, row, index, last))
                if not last:
                    self._orders[(change.kind, parent)] = siblings
            events.rows_inserted.emit(change.kind, parent, index, row)
        elif change.after is None:
            row, index = change.before, self._locate(siblings, change.before, change.before_index)
            events.rows_removing.emit(change.kind, parent, index, row)
            del siblings[index]
            del by_id[row.id]
            if isinstance(row, Item):
                self._objects.pop(row.id, None)
                self._review.forget_item(row.id)
            elif isinstance(row, Proposal):
                self._review.removed(row)
            if store:
                self._pending.append(lambda: store.delete_row(change.kind, row.id))
            events.rows_removed.emit(change.kind, parent, index, row)
        else:
            index = self._locate(siblings, change.before, change.before_index)
            if change.after_index != index:
                events.rows_moving.emit(change.kind, parent, index, change.after_index)
                siblings.insert(change.after_index, siblings.pop(index))
                if store:
                    order = [r.id for r in siblings]
                    self._pending.append(lambda: store.write_order(change.kind, order))
                events.rows_moved.emit(change.kind, parent, index, change.after_index)
                index = change.after_index
            if change.after != change.before:
                siblings[index] = change.after
                by_id[change.after.id] = change.after
                if store:
                    after = change.after
                    self._pending.append(lambda: store.update_row(change.kind, after))
                events.row_changed.emit(change.kind, change.before, change.after)

    @staticmethod
    def _locate(siblings: list[Any], row: Any, hint: int) -> int:
        if 0 <= hint < len(siblings) and siblings[hint].id == row.id:
            return hint
        for index, other in enumerate(siblings):
            if other.id == row.id:
                return index
        raise ProjectError("<memory>", f"row {row!r} not found; the document is inconsistent")

    def _apply_mask(self, change: MaskChange) -> None:
        key = (change.object_id, change.frame)
        current = self._mask_entry(*key)
        new_mask = change.apply_to(None if current is None else current[0])
        frames = self._frame_set(change.object_id)
        if new_mask is None or change.after_meta is None:
            self._cache_mask(key, None)
            frames.discard(change.frame)
            store = self._writer()
            if store:
                self._pending.append(lambda: store.delete_mask(*key))
        else:
            self._cache_mask(key, (new_mask, change.after_meta))
            frames.add(change.frame)
            store = self._writer()
            if store:
                meta = change.after_meta
                self._pending.append(lambda: store.write_mask(key[0], key[1], new_mask, meta))
        self.events.mask_changed.emit(change.object_id, change.frame)

    # -- comparison (tests, diagnostics) -------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A plain, comparable picture of the whole content (loads everything)."""
        objects = {}
        for item in self._items:
            for obj in self.objects(item.id):
                masks = {}
                for frame in self.mask_frames(obj.id):
                    record = self.mask_record(obj.id, frame)
                    assert record is not None
                    masks[frame] = (record.mask.to_rle()["counts"], record.source, record.prompts, record.score)
                objects[obj.id] = (obj, masks, dict(self.track(obj.id)))
        return {
            "labels": list(self._labels),
            "items": list(self._items),
            "order": {item.id: [o.id for o in self.objects(item.id)] for item in self._items},
            "objects": objects,
            "runs": list(self.runs),
            "proposals": {
                item.id: [
                    (p.id, p.run_id, p.frame, p.score, p.phrase, p.label_id, p.group_id, p.mask.to_rle()["counts"])
                    for p in self.proposals(item.id)
                ]
                for item in self._items
            },
        }
