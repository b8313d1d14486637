"""Between a Project and a Dataset: export reads a project; import adds a dataset in ONE step.

The import runs as one command (`ImportDataset`): one store transaction and one undo step, so a
failure part-way leaves the project as it was. Items already in the project (same media path)
receive the imported objects; labels are matched by name and created when new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotator.document.commands import AddItem, AddLabel, AddObject, SetMask
from annotator.document.model import Item
from annotator.document.project import Project
from annotator.errors import FormatError, ProjectError
from annotator.io.common import Progress, no_progress
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.media import list_images

log = logging.getLogger(__name__)


def _frame_names(item: Item) -> list[str] | None:
    path = Path(item.path)
    if item.kind != "video" or not path.is_dir():
        return None
    try:
        names = [p.name for p in list_images(path)]
    except OSError:
        return None
    return names if len(names) == item.frame_count else None


def dataset_from_project(project: Project, item_ids: list[int] | None = None) -> Dataset:
    """The project's labels, items, objects and masks as a Dataset (reads only)."""
    labels = [LabelData(label.name, label.color) for label in project.labels]
    label_names = {label.id: label.name for label in project.labels}
    items = []
    for item in project.items:
        if item_ids is not None and item.id not in item_ids:
            continue
        data = ItemData(item.path, item.width, item.height, item.kind, item.frame_count, item.fps)
        data.frame_names = _frame_names(item)
        for obj in project.objects(item.id):
            masks = {}
            for frame in project.mask_frames(obj.id):
                mask = project.mask(obj.id, frame)
                if mask is not None:
                    masks[frame] = mask
            label = label_names.get(obj.label_id) if obj.label_id is not None else None
            data.objects.append(ObjectData(obj.name, label, masks, obj.color, obj.id))
        items.append(data)
    return Dataset(labels, items)


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
    """Add a dataset's labels, items, objects and masks as one step; returns the number of masks."""

    dataset: Dataset
    source: str = ""
    match_items: bool = True

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return f"Import {Path(self.source).name}" if self.source else "Import annotations"

    def run(self, project: Project, apply: Any) -> int:
        """Plan and apply."""
        label_ids = {label.name: label.id for label in project.labels}
        for label in self.dataset.labels:
            name = label.name.strip()
            if name and name not in label_ids:
                label_ids[name] = AddLabel(name, label.color).run(project, apply).id
        by_path = {item.path: item for item in project.items} if self.match_items else {}
        count = 0
        for data in self.dataset.items:
            item = by_path.get(data.path)
            if item is None:
                add = AddItem(data.path, data.kind, data.width, data.height, data.frame_count, data.fps)
                item = add.run(project, apply)
                if self.match_items:
                    by_path[data.path] = item
            for obj in data.objects:
                name = (obj.label or "").strip()
                if name and name not in label_ids:
                    label_ids[name] = AddLabel(name).run(project, apply).id
                label_id = label_ids[name] if name else None
                created = AddObject(item.id, label_id, obj.name, obj.color).run(project, apply)
                for frame, mask in sorted(obj.masks.items()):
                    SetMask(created.id, frame, mask, source="imported").run(project, apply)
                    count += 1
        return count


def import_dataset(project: Project, dataset: Dataset, source: str = "", progress: Progress = no_progress) -> int:
    """Check a dataset against the project, then add it in one undoable step; returns the mask count."""
    existing = {item.path: item for item in project.items}
    for data in dataset.items:
        _check_item(existing.get(data.path), data, source or "<import>")
    total = dataset.mask_count()
    progress(0, total)
    count = project.execute(ImportDataset(dataset, source))
    progress(total, total)
    log.info("imported %d masks from %s", count, source or "<dataset>")
    return int(count)


def read_project(path: Path) -> Dataset:
    """The content of a project file as a Dataset."""
    project = Project.open(path)
    try:
        return dataset_from_project(project)
    finally:
        project.close()


def write_project(dataset: Dataset, path: Path, progress: Progress = no_progress) -> Path:
    """Add a dataset to the project at `path`, creating it when absent; returns the path."""
    path = Path(path)
    if path.exists():
        project = Project.open(path)
    else:
        project = _create_checked(dataset, path)
    try:
        import_dataset(project, dataset, str(path), progress)
    finally:
        project.close()
    return path


def _create_checked(dataset: Dataset, path: Path) -> Project:
    for data in dataset.items:
        _check_item(None, data, str(path))
    try:
        return Project.create(path)
    except OSError as error:
        raise ProjectError(path, f"cannot be created: {error}") from error
