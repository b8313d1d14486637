"""Between a Project and a Dataset: export reads a project; import adds a dataset in ONE step.

The import runs as one command (`ImportDataset`): one store transaction and one undo step, so a
failure part-way leaves the project as it was. Dataset items are matched to the project's items
by their path below the image root, else by a unique file name (annotator.io.matching); matched
items receive the imported objects, new media below the project's folder become items, and
images that are not there are skipped and reported (or refuse the import when `strict`). Labels
are matched by name and created when new. A crowd region (COCO iscrowd 1) becomes an object
named CROWD_NAME (a project has no crowd flag), and an object of that name is exported as one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from annotator.document.commands import AddItem, AddLabel, AddObject, SetMask
from annotator.document.model import Item
from annotator.document.project import Project
from annotator.errors import FormatError, ProjectError
from annotator.io.common import Progress, no_progress
from annotator.io.dataset import CROWD_NAME, Dataset, ItemData, LabelData, ObjectData
from annotator.io.matching import NewItems, Placement, Target, media_file, media_root, place_items
from annotator.io.media import list_images

log = logging.getLogger(__name__)
MISSING_SHOWN = 5
"""How many missing images a message names before it says 'and N more'."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did: masks and objects added, items matched and added, images skipped as missing."""

    masks: int = 0
    objects: int = 0
    items_matched: int = 0
    items_added: int = 0
    missing: tuple[str, ...] = ()
    items_annotated: int = 0
    """Items that received at least one object."""
    skipped: tuple[str, ...] = ()
    """What the reader left out, with counts and reasons (Dataset.skipped)."""
    crowd: int = 0
    """Crowd regions imported as objects named CROWD_NAME."""

    def missing_text(self, shown: int = MISSING_SHOWN) -> str:
        """The missing images as a person reads them: 'a.jpg, b.jpg and 3 more' ('' when none)."""
        names = ", ".join(self.missing[:shown])
        more = len(self.missing) - shown
        return f"{names} and {more} more" if more > 0 else names

    def summary(self) -> str:
        """One line: what was imported, and which images were skipped."""
        images = self.items_annotated
        text = f"imported {_count(self.masks, 'mask')} ({_count(self.objects, 'object')}) on {_count(images, 'image')}"
        if self.items_added:
            text += f", {self.items_added} of them new"
        if self.missing:
            count = len(self.missing)
            text += f"; {_count(count, 'image')} not found, skipped: {self.missing_text()}"
        if self.crowd:
            text += f"; {_count(self.crowd, 'crowd region')} (iscrowd 1) kept as objects named '{CROWD_NAME}'"
        for line in self.skipped:
            text += f"; skipped {line}"
        return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _frame_names(item: Item, media: Path) -> list[str] | None:
    """A video's frame names: the frame folder's listing, else the names it was imported with."""
    stored = list(item.frame_names) if item.frame_names else None
    if item.kind != "video" or not media.is_dir() or (stored and all((media / n).is_file() for n in stored)):
        return stored
    try:
        names = [p.name for p in list_images(media)]
    except OSError:
        return stored
    return names if len(names) == item.frame_count else stored


def dataset_from_project(project: Project, item_ids: list[int] | None = None) -> Dataset:
    """The project's labels, items, objects and masks as a Dataset (reads only).

    Item paths are the media's paths (absolute for a project file), `ref` the stored path and the
    dataset's root the project's media folder, so exports name images relative to it.
    """
    labels = [LabelData(label.name, label.color) for label in project.labels]
    label_names = {label.id: label.name for label in project.labels}
    items = []
    for item in project.items:
        if item_ids is not None and item.id not in item_ids:
            continue
        media = media_file(project, item.path)
        data = ItemData(str(media), item.width, item.height, item.kind, item.frame_count, item.fps, ref=item.path)
        data.frame_names = _frame_names(item, media)
        for obj in project.objects(item.id):
            masks = {}
            for frame in project.mask_frames(obj.id):
                mask = project.mask(obj.id, frame)
                if mask is not None:
                    masks[frame] = mask
            label = label_names.get(obj.label_id) if obj.label_id is not None else None
            data.objects.append(ObjectData(obj.name, label, masks, obj.color, obj.id, obj.name == CROWD_NAME))
        items.append(data)
    root = media_root(project)
    return Dataset(labels, items, root=str(root) if root else None)


def _check_item(existing: Item | None, data: ItemData, where: str) -> None:
    """Raise FormatError when the item's masks do not fit its size or frames."""
    width, height = (existing.width, existing.height) if existing and existing.width else (data.width, data.height)
    frames = max(existing.frame_count if existing else 1, data.frame_count)
    for index, obj in enumerate(data.objects):
        for frame, mask in obj.masks.items():
            element = f"{data.name} object {index} frame {frame}"
            if mask.size != (height, width):
                problem = f"mask is {mask.width}x{mask.height} but the image is {width}x{height}"
                raise FormatError(where, element, problem)
            if not 0 <= frame < frames:
                raise FormatError(where, element, f"frame {frame} is outside the item's {frames} frames")


@dataclass(frozen=True)
class ImportDataset:
    """Add a dataset's labels, objects and masks (and new items) as one step; returns an ImportReport.

    `targets[i]` says where the objects of `dataset.items[i]` go (see matching.place_items).
    """

    dataset: Dataset
    targets: tuple[Target, ...]
    source: str = ""
    missing: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return f"Import {Path(self.source).name}" if self.source else "Import annotations"

    def run(self, project: Project, apply: Any) -> ImportReport:
        """Plan and apply."""
        label_ids = {label.name: label.id for label in project.labels}
        for label in self.dataset.labels:
            name = label.name.strip()
            if name and name not in label_ids:
                label_ids[name] = AddLabel(name, label.color).run(project, apply).id
        added: dict[AddItem, int] = {}
        matched: set[int] = set()
        annotated: set[int] = set()
        masks = objects = crowd = 0
        for data, target in zip(self.dataset.items, self.targets, strict=True):
            if target is None:
                continue
            if isinstance(target, AddItem):
                if target not in added:
                    added[target] = target.run(project, apply).id
                item_id = added[target]
            else:
                item_id = target
                matched.add(item_id)
            if data.objects:
                annotated.add(item_id)
            for obj in data.objects:
                name = (obj.label or "").strip()
                if name and name not in label_ids:
                    label_ids[name] = AddLabel(name).run(project, apply).id
                object_name = CROWD_NAME if obj.iscrowd else obj.name
                created = AddObject(item_id, label_ids[name] if name else None, object_name, obj.color).run(
                    project, apply
                )
                objects += 1
                crowd += obj.iscrowd
                for frame, mask in sorted(obj.masks.items()):
                    SetMask(created.id, frame, mask, source="imported").run(project, apply)
                    masks += 1
        skipped = tuple(self.dataset.skipped)
        report = ImportReport(masks, objects, len(matched), len(added), self.missing, len(annotated), skipped)
        return replace(report, crowd=crowd)


def _refuse_missing(placement: Placement, source: str, root: Path | None) -> None:
    report = ImportReport(missing=tuple(placement.missing))
    where = f" in {root}" if root else ""
    count = len(placement.missing)
    problem = f"{count} image{'s' if count > 1 else ''} it names {'are' if count > 1 else 'is'} not{where}: "
    raise FormatError(source, "", problem + report.missing_text() + " (import without 'strict' to take the rest)")


def import_dataset(
    project: Project,
    dataset: Dataset,
    source: str = "",
    progress: Progress = no_progress,
    strict: bool = False,
    new_items: NewItems = "in_folder",
) -> ImportReport:
    """Match a dataset to the project's items, check it, then add it in one undoable step.

    Images the dataset names that are neither project items nor media below the project's folder
    are skipped and listed in the report; with `strict` they refuse the import (FormatError).
    """
    where = source or "<import>"
    placement = place_items(project, dataset, new_items)
    if placement.missing and strict:
        _refuse_missing(placement, where, media_root(project))
    for data, target in zip(dataset.items, placement.targets, strict=True):
        if target is not None:
            _check_item(_size_of(project, target), data, where)
    total = dataset.mask_count()
    progress(0, total)
    command = ImportDataset(dataset, tuple(placement.targets), source, tuple(placement.missing))
    report: ImportReport = project.execute(command)
    progress(total, total)
    log.info("%s from %s", report.summary(), source or "<dataset>")
    return report


def _size_of(project: Project, target: Target) -> Item | None:
    """The item (or the item about to be added) whose size the masks must fit."""
    if isinstance(target, AddItem):
        return Item(0, target.path, target.kind, target.width, target.height, target.frame_count, target.fps)
    return project.item(target) if target is not None else None


def read_project(path: Path) -> Dataset:
    """The content of a project file as a Dataset."""
    project = Project.open(path)
    try:
        return dataset_from_project(project)
    finally:
        project.close()


def refuse_existing_project(path: Path) -> None:
    """ProjectError when `path` exists: writing into it again would add every object a second time."""
    if Path(path).exists():
        problem = "already exists; writing into it would add every object a second time"
        raise ProjectError(path, f"{problem} (choose a new file, or append to it on purpose: convert --append)")


def write_project(dataset: Dataset, path: Path, progress: Progress = no_progress, append: bool = False) -> Path:
    """Write a dataset as a new project at `path`, or with `append` add it to the project there; returns the path.

    Without `append` an existing file is refused (ProjectError) and left untouched.
    """
    path = Path(path)
    if not append:
        refuse_existing_project(path)
    if path.exists():
        project = Project.open(path)
    else:
        project = _create_checked(dataset, path)
    try:
        import_dataset(project, dataset, str(path), progress, new_items="all")
    finally:
        project.close()
    return path


def _create_checked(dataset: Dataset, path: Path) -> Project:
    for data in dataset.items:
        _check_item(None, data, str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return Project.create(path)
    except OSError as error:
        raise ProjectError(path, f"cannot be created: {error}") from error
