"""Images embedded in annotation files (labelme's `imageData`): decoded, measured, extracted.

labelme stores the image file's bytes base64-encoded in `imageData` when asked to, so a file can
travel without its image. A reader keeps those bytes on the item (`ItemData.embedded`) when the
image file is absent; before the dataset reaches a writer or a project, `extract_embedded` writes
them out as image files (next to the output, or into the project's folder) and points the items
at them.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from annotator.document.project import Project
from annotator.errors import FormatError, MediaError
from annotator.io.common import write_bytes_atomic
from annotator.io.dataset import Dataset, ItemData
from annotator.io.matching import media_root, place_items

log = logging.getLogger(__name__)

SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp", "GIF": ".gif"}
"""File suffix of each image format PIL names, for an embedded image whose file name has none."""


@dataclass(frozen=True)
class EmbeddedImage:
    """The bytes of an embedded image file, its size in pixels and the suffix of its format."""

    data: bytes
    width: int
    height: int
    suffix: str


def decode_embedded(text: str, path: Path, element: str) -> EmbeddedImage:
    """The image that base64 `text` holds (FormatError naming `path` and `element` when it is none)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise FormatError(path, element, f"is not base64 ({error})") from error
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            kind = image.format or ""
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise FormatError(path, element, f"holds no readable image ({error})") from error
    return EmbeddedImage(data, width, height, SUFFIXES.get(kind, ".png"))


def _free_name(target: Path, data: bytes) -> Path:
    """`target`, or the first 'name-N.ext' beside it that is free or already holds these bytes."""
    candidate, number = target, 1
    while candidate.exists():
        if candidate.is_file() and candidate.read_bytes() == data:
            return candidate
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
        number += 1
    return candidate


def extract_embedded(items: Iterable[ItemData], folder: Path) -> int:
    """Write the embedded image of each item whose media is absent into `folder`; returns how many.

    Each goes under its own file name (`name-1.jpg` when that name holds other bytes); the item's
    path becomes the written file and its embedded bytes are dropped.
    """
    count = 0
    for item in items:
        if item.embedded is None or Path(item.path).is_file():
            continue
        target = _free_name(Path(folder) / item.name, item.embedded)
        if not target.exists():
            try:
                write_bytes_atomic(target, item.embedded)
            except OSError as error:
                raise MediaError(target, f"cannot write the image embedded in the annotations: {error}") from error
        log.info("extracted the image embedded for %s to %s", item.ref or item.name, target)
        item.path, item.embedded = str(target), None
        count += 1
    return count


def extract_for_output(dataset: Dataset, folder: Path) -> int:
    """Before a conversion writes its output: extract the embedded images into `folder` (beside it).

    When every item's image came from there, the folder becomes the dataset's image root, so the
    output names the images from it.
    """
    count = extract_embedded(dataset.items, folder)
    if count:
        log.info("extracted %d image%s embedded in the annotations into %s", count, "s" if count > 1 else "", folder)
        if count == len(dataset.items):
            dataset.root = str(Path(os.path.abspath(folder)))
    return count


def extract_for_import(project: Project, dataset: Dataset) -> int:
    """Before an import: extract the embedded images that match no project item and are not in the
    project's folder into that folder, where the import then takes them as new items."""
    root = media_root(project)
    if root is None or not any(item.embedded for item in dataset.items):
        return 0
    placement = place_items(project, dataset)
    absent = [item for item, target in zip(dataset.items, placement.targets, strict=True) if target is None]
    return extract_embedded(absent, root)
