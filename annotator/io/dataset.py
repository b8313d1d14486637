"""Dataset: the plain, format-neutral picture of annotations that every reader and writer uses.

Readers parse and validate a whole input into a Dataset before anything touches a project, so a
bad file imports nothing; writers take a Dataset. `annotator.io.project_io` converts between a
Dataset and a Project. Masks are `Mask` objects of the item's size, keyed by 0-based frame.

Image references: a file names its media relative to an image root (`Dataset.root`: the project's
folder on export, the folder a reader resolved the names against on import). `ItemData.path` is
the media's path on this machine (absolute whenever it is known) and `ItemData.ref` the name as
the file wrote it; an import matches items by them (annotator.io.matching).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from annotator.document.mask import Mask
from annotator.document.model import Color, ItemKind, palette_color

log = logging.getLogger(__name__)
CROWD_NAME = "crowd"
"""The object name that marks a crowd region in a project (which has no crowd flag): an import names
crowd regions so, and an export takes objects of this name as crowd regions."""


@dataclass
class LabelData:
    """A class name with an optional colour."""

    name: str
    color: Color | None = None
    source_id: int | None = None
    """The class's id in the file it was read from (a COCO category id); writers that number classes keep it."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other fields of the class's entry in that file (COCO supercategory, keypoints), written back by its format."""


@dataclass
class ObjectData:
    """One object (a track in video): its label name and its masks by frame."""

    name: str = ""
    label: str | None = None
    masks: dict[int, Mask] = field(default_factory=dict)
    color: Color | None = None
    track_id: int | None = None
    iscrowd: bool = False
    """A crowd region (COCO iscrowd 1): one mask over many instances. COCO keeps it, a project as an
    object named CROWD_NAME; the other formats leave it out (`without_crowd`)."""
    source_ids: dict[int, int] = field(default_factory=dict)
    """Annotation id by frame in the file it was read from (COCO); a COCO writer keeps the unique ones."""


@dataclass
class ItemData:
    """One image or video with its objects; `path` is the media (a file or frame folder), `ref` its name in the file."""

    path: str
    width: int
    height: int
    kind: ItemKind = "image"
    frame_count: int = 1
    fps: float = 0.0
    objects: list[ObjectData] = field(default_factory=list)
    frame_names: list[str] | None = None
    ref: str | None = None
    source_ids: dict[int, int] = field(default_factory=dict)
    """Image id by frame in the file it was read from (COCO); a COCO writer keeps the unique ones."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other fields of an image's entry in that file (COCO license, coco_url), written back by its format."""
    embedded: bytes | None = None
    """The image file's bytes when the annotation file embeds them and `path` is absent (labelme
    imageData); `annotator.io.embedded.extract_embedded` writes them out."""

    @property
    def name(self) -> str:
        """The media file (or folder) name."""
        return Path(self.path.replace("\\", "/")).name

    @property
    def stem(self) -> str:
        """The media name without its suffix."""
        return Path(self.name).stem if self.kind == "image" or "." in self.name else self.name

    def frame_name(self, frame: int, suffix: str = ".jpg") -> str:
        """File name of one frame: the image name, a frame file of a folder, or NAME/00000.jpg."""
        if self.kind == "image":
            return self.name
        if self.frame_names is not None and frame < len(self.frame_names):
            return f"{self.stem}/{self.frame_names[frame]}"
        return f"{self.stem}/{frame:05d}{suffix}"

    def frames_with_masks(self) -> list[int]:
        """Frames on which any object has a mask, sorted."""
        return sorted({frame for obj in self.objects for frame in obj.masks})


@dataclass
class Dataset:
    """Labels and items with their objects and masks."""

    labels: list[LabelData] = field(default_factory=list)
    items: list[ItemData] = field(default_factory=list)
    root: str | None = None
    missing: list[str] = field(default_factory=list)
    """Images that the file names but whose media a reader that needs them (YOLO, PNG) did not find."""
    skipped: list[str] = field(default_factory=list)
    """What a reader left out, one line per reason with its count and where ('3 box-only annotations
    (no mask) in train.json'); import and convert report every line. Add with `skip`."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Top-level keys of the file it was read from that no other field holds (COCO info, licenses),
    written back by the writer of that format."""

    def skip(self, count: int, what: str, where: str | Path) -> None:
        """Record that `count` things (`what`: a plural noun phrase with its reason) in `where` were left out."""
        if count:
            self.skipped.append(f"{count} {what} in {Path(where).name or where}")

    def crowd_count(self) -> int:
        """Number of crowd regions (objects with `iscrowd`)."""
        return sum(1 for item in self.items for obj in item.objects if obj.iscrowd)

    def without_crowd(self, where: str | Path, why: str) -> Dataset:
        """A copy without crowd regions, their count recorded in its `skipped` (`why`: what cannot keep them).

        For formats without a crowd flag: a crowd region is no instance, so it must not become one.
        Masks are shared, not copied; the dataset itself is unchanged.
        """
        count = self.crowd_count()
        if not count:
            return self
        log.info("%s: %d crowd regions left out (%s)", where, count, why)
        items = [replace(item, objects=[o for o in item.objects if not o.iscrowd]) for item in self.items]
        copy = replace(self, items=items, skipped=list(self.skipped))
        copy.skip(count, f"crowd regions (iscrowd 1: {why})", where)
        return copy

    def label_names(self) -> list[str]:
        """Label names in order."""
        return [label.name for label in self.labels]

    def ensure_label(self, name: str) -> None:
        """Add a label of this name when there is none yet."""
        if name not in self.label_names():
            self.labels.append(LabelData(name, palette_color(len(self.labels))))

    def ensure_labels_of_objects(self) -> None:
        """Add a label for every label name that objects use but `labels` lacks."""
        for item in self.items:
            for obj in item.objects:
                if obj.label:
                    self.ensure_label(obj.label)

    def mask_count(self) -> int:
        """Number of (object, frame) masks."""
        return sum(len(obj.masks) for item in self.items for obj in item.objects)

    def unlabelled_count(self) -> int:
        """Number of objects without a label."""
        return sum(1 for item in self.items for obj in item.objects if not obj.label)

    def with_unlabelled(self, name: str | None) -> Dataset:
        """A copy for formats that need a class: objects without a label left out (None) or labelled `name`.

        Masks are shared, not copied; the dataset itself is unchanged.
        """
        name = name.strip() if name else None
        if not self.unlabelled_count():
            return self
        copy = replace(self, labels=list(self.labels), items=[])
        if name:
            copy.ensure_label(name)
        for item in self.items:
            objects = [obj if obj.label else replace(obj, label=name) for obj in item.objects if obj.label or name]
            copy.items.append(replace(item, objects=objects))
        return copy


def image_root(dataset: Dataset, given: Path | None, default: Path) -> Path:
    """The folder that an export names images relative to: `given`, else the dataset's root, else `default`."""
    if given is not None:
        return Path(given)
    return Path(dataset.root) if dataset.root else Path(default)


def label_index(dataset: Dataset) -> dict[str, int]:
    """1-based index of each label name (0 is kept for the background / no label)."""
    return {name: index + 1 for index, name in enumerate(dataset.label_names())}
