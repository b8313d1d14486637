"""Commands: every change to a project is one of these, run through `Project.execute`.

A command reads the project and hands primitive changes to `apply`; the project applies each
at once (so later steps of the same command see earlier ones), persists them in one
transaction, and records them as one undo step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from annotator.document.changes import Change, MaskMeta, RowChange, mask_change
from annotator.document.mask import Mask
from annotator.document.model import Color, Item, ItemKind, Label, MaskSource, Object, Prompts, palette_color
from annotator.document.tracks import TrackChange
from annotator.errors import AnnotatorError

if TYPE_CHECKING:
    from annotator.document.project import Project

Apply = Callable[[Change], None]


class CommandError(AnnotatorError):
    """A command cannot run on the current state (unknown id, locked object, duplicate name)."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class AddLabel:
    """Add a label (class) with a unique name; returns the Label."""

    name: str
    color: Color | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return f"Add label {self.name}"

    def run(self, project: Project, apply: Apply) -> Label:
        """Plan and apply."""
        name = self.name.strip()
        if not name:
            raise CommandError("a label needs a name")
        if project.label_by_name(name) is not None:
            raise CommandError(f"a label named '{name}' exists already")
        label_id = project.new_id("label")
        label = Label(label_id, name, self.color or palette_color(label_id - 1))
        apply(RowChange("label", None, label, -1, len(project.labels)))
        return label


@dataclass(frozen=True)
class UpdateLabel:
    """Rename and/or recolour a label."""

    label_id: int
    name: str | None = None
    color: Color | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Edit label"

    def run(self, project: Project, apply: Apply) -> Label:
        """Plan and apply."""
        before = project.label(self.label_id)
        name = before.name if self.name is None else self.name.strip()
        if not name:
            raise CommandError("a label needs a name")
        other = project.label_by_name(name)
        if other is not None and other.id != before.id:
            raise CommandError(f"a label named '{name}' exists already")
        after = replace(before, name=name, color=self.color or before.color)
        if after != before:
            index = project.labels.index(before)
            apply(RowChange("label", before, after, index, index))
        return after


@dataclass(frozen=True)
class RemoveLabel:
    """Delete a label; objects that had it keep no label."""

    label_id: int

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Delete label"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        label = project.label(self.label_id)
        for obj in project.objects_with_label(label.id):
            index = project.objects(obj.item_id).index(obj)
            apply(RowChange("object", obj, replace(obj, label_id=None), index, index))
        for proposal in project.proposals_with_label(label.id):
            index = project.proposals(proposal.item_id).index(proposal)
            apply(RowChange("proposal", proposal, replace(proposal, label_id=None), index, index))
        apply(RowChange("label", label, None, project.labels.index(label), -1))


@dataclass(frozen=True)
class AddItem:
    """Add an image or a video to the project; returns the Item."""

    path: str
    kind: ItemKind = "image"
    width: int = 0
    height: int = 0
    frame_count: int = 1
    fps: float = 0.0
    frame_names: tuple[str, ...] | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Add item"

    def run(self, project: Project, apply: Apply) -> Item:
        """Plan and apply."""
        if self.kind not in ("image", "video"):
            raise CommandError(f"unknown item kind '{self.kind}'")
        if self.frame_count < 1 or self.width < 0 or self.height < 0:
            raise CommandError("an item needs at least one frame and a non-negative size")
        if self.frame_names is not None and len(self.frame_names) != self.frame_count:
            raise CommandError(f"{len(self.frame_names)} frame names for {self.frame_count} frames")
        item = Item(project.new_id("item"), self.path, self.kind, self.width, self.height, self.frame_count, self.fps)
        item = replace(item, frame_names=self.frame_names)
        apply(RowChange("item", None, item, -1, len(project.items)))
        return item


@dataclass(frozen=True)
class UpdateItem:
    """Change an item's done state, path or size."""

    item_id: int
    done: bool | None = None
    path: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Mark item done" if self.done else "Edit item"

    def run(self, project: Project, apply: Apply) -> Item:
        """Plan and apply."""
        before = project.item(self.item_id)
        fields = {"done": self.done, "path": self.path, "width": self.width, "height": self.height}
        after = replace(before, **{k: v for k, v in fields.items() if v is not None})
        if after != before:
            index = project.items.index(before)
            apply(RowChange("item", before, after, index, index))
        return after


@dataclass(frozen=True)
class RemoveItem:
    """Delete an item with all its objects, masks and proposals."""

    item_id: int

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Delete item"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        item = project.item(self.item_id)
        for obj in list(reversed(project.objects(item.id))):
            RemoveObject(obj.id, force=True).run(project, apply)
        proposals = project.proposals(item.id)
        for index in reversed(range(len(proposals))):
            apply(RowChange("proposal", proposals[index], None, index, -1))
        apply(RowChange("item", item, None, project.items.index(item), -1))


@dataclass(frozen=True)
class AddObject:
    """Add an object to an item (at `index` in the layer list, default last); returns it."""

    item_id: int
    label_id: int | None = None
    name: str = ""
    color: Color | None = None
    index: int | None = None
    mask: Mask | None = None
    frame: int = 0
    prompts: Prompts = field(default_factory=Prompts)
    source: MaskSource = "user"

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Add object"

    def run(self, project: Project, apply: Apply) -> Object:
        """Plan and apply."""
        project.item(self.item_id)
        if self.label_id is not None:
            project.label(self.label_id)
        object_id = project.new_id("object")
        siblings = project.objects(self.item_id)
        index = len(siblings) if self.index is None else max(0, min(self.index, len(siblings)))
        name = self.name or f"object {object_id}"
        obj = Object(object_id, self.item_id, name, self.label_id, self.color or palette_color(object_id - 1))
        apply(RowChange("object", None, obj, -1, index))
        if self.mask is not None:
            SetMask(obj.id, self.frame, self.mask, self.source, self.prompts).run(project, apply)
        return obj


@dataclass(frozen=True)
class UpdateObject:
    """Change an object's name, label, colour, visibility or lock (UNSET leaves a field)."""

    object_id: int
    name: str | None = None
    label_id: Any = UNSET
    color: Color | None = None
    visible: bool | None = None
    locked: bool | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Edit object"

    def run(self, project: Project, apply: Apply) -> Object:
        """Plan and apply."""
        before = project.object(self.object_id)
        if self.label_id is not UNSET and self.label_id is not None:
            project.label(self.label_id)
        fields = {"name": self.name, "color": self.color, "visible": self.visible, "locked": self.locked}
        changes = {k: v for k, v in fields.items() if v is not None}
        if self.label_id is not UNSET:
            changes["label_id"] = self.label_id
        after = replace(before, **changes)
        if after != before:
            index = project.objects(before.item_id).index(before)
            apply(RowChange("object", before, after, index, index))
        return after


@dataclass(frozen=True)
class MoveObject:
    """Move an object to another position of its item's layer list."""

    object_id: int
    index: int

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Reorder objects"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        obj = project.object(self.object_id)
        siblings = project.objects(obj.item_id)
        src, dst = siblings.index(obj), max(0, min(self.index, len(siblings) - 1))
        if src != dst:
            apply(RowChange("object", obj, obj, src, dst))


@dataclass(frozen=True)
class RemoveObject:
    """Delete an object and all its masks (a locked one only with force)."""

    object_id: int
    force: bool = False

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Delete object"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        obj = project.object(self.object_id)
        if obj.locked and not self.force:
            raise CommandError(f"object '{obj.name}' is locked")
        for frame in project.mask_frames(obj.id):
            SetMask(obj.id, frame, None, force=True).run(project, apply)
        for frame, sample in list(project.track(obj.id).items()):
            apply(TrackChange(obj.id, frame, sample, None))
        apply(RowChange("object", obj, None, project.objects(obj.item_id).index(obj), -1))


@dataclass(frozen=True)
class SetMask:
    """Set (or with mask None, delete) an object's mask on one frame; the diff is what is stored."""

    object_id: int
    frame: int
    mask: Mask | None
    source: MaskSource = "user"
    prompts: Prompts = field(default_factory=Prompts)
    force: bool = False
    score: float | None = None  # a tracker's confidence (propagated masks)

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Edit mask" if self.mask is not None else "Clear mask"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        obj = project.object(self.object_id)
        if obj.locked and not self.force:
            raise CommandError(f"object '{obj.name}' is locked")
        item = project.item(obj.item_id)
        if not 0 <= self.frame < item.frame_count:
            raise CommandError(f"frame {self.frame} is outside item '{item.name}' ({item.frame_count} frames)")
        if self.mask is not None and item.width and item.height and self.mask.size != (item.height, item.width):
            raise CommandError(
                f"mask of size {self.mask.width}x{self.mask.height} does not fit item '{item.name}' "
                f"({item.width}x{item.height})"
            )
        record = project.mask_record(self.object_id, self.frame)
        before = None if record is None else record.mask
        before_meta = None if record is None else MaskMeta(record.source, record.prompts, record.score)
        after_meta = None if self.mask is None else MaskMeta(self.source, self.prompts, self.score)
        change = mask_change(self.object_id, self.frame, before, before_meta, self.mask, after_meta)
        if change is not None:
            apply(change)


@dataclass(frozen=True)
class MergeObjects:
    """Merge objects into `target_id`: on every frame the target becomes the union; sources go."""

    target_id: int
    source_ids: tuple[int, ...]

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Merge objects"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        target = project.object(self.target_id)
        for source_id in self.source_ids:
            source = project.object(source_id)
            if source.item_id != target.item_id or source.id == target.id:
                raise CommandError("only distinct objects of the same item can be merged")
            for frame in project.mask_frames(source.id):
                extra = project.mask(source.id, frame)
                current = project.mask(target.id, frame)
                if extra is None:
                    continue
                merged = extra if current is None else Mask.from_array(current.to_array() | extra.to_array())
                SetMask(target.id, frame, merged, force=True).run(project, apply)
            RemoveObject(source.id, force=True).run(project, apply)


@dataclass(frozen=True)
class Batch:
    """Several commands as one step (one transaction, one undo); returns their results."""

    commands: tuple[Any, ...]
    label: str = ""

    @property
    def description(self) -> str:
        """Undo-menu text."""
        if self.label:
            return self.label
        return self.commands[0].description if len(self.commands) == 1 else f"{len(self.commands)} edits"

    def run(self, project: Project, apply: Apply) -> list[Any]:
        """Plan and apply each command in turn."""
        return [command.run(project, apply) for command in self.commands]
