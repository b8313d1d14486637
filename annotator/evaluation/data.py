"""Evaluation data in the layout of ../shared/data: images/, masks/, ignore/, videos/SEQ/."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from annotator.errors import AnnotatorError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class DataError(AnnotatorError):
    """An evaluation folder or one of its files cannot be used; names the path and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class ImageItem:
    """One scored image: its file, its binary GT mask file and an optional ignore file."""

    name: str
    image: Path
    mask: Path
    ignore: Path | None


@dataclass(frozen=True)
class VideoItem:
    """One scored sequence: a folder of frames and a folder of per-frame index masks."""

    name: str
    frames: Path
    masks: Path


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise DataError(root, "is not a folder")


def list_images(root: Path) -> list[ImageItem]:
    """The image items of a data folder (images/ with a masks/ PNG each); raises DataError if none."""
    root = Path(root)
    _check_root(root)
    images, masks, ignore = root / "images", root / "masks", root / "ignore"
    if not images.is_dir():
        raise DataError(root, "has no images/ folder (expected images/NAME.jpg|png and masks/NAME.png)")
    items = []
    for path in _images_in(images):
        mask = masks / f"{path.stem}.png"
        if not mask.is_file():
            log.warning("skipping %s: no ground-truth mask %s", path, mask)
            continue
        ignore_path = ignore / f"{path.stem}.png"
        items.append(ImageItem(path.stem, path, mask, ignore_path if ignore_path.is_file() else None))
    if not items:
        raise DataError(root, "holds no image with a ground-truth mask in masks/")
    return items


def list_videos(root: Path) -> list[VideoItem]:
    """The sequences of a data folder (videos/SEQ/frames + videos/SEQ/masks); raises DataError if none."""
    root = Path(root)
    _check_root(root)
    videos = root / "videos"
    if not videos.is_dir():
        raise DataError(root, "has no videos/ folder (expected videos/SEQ/frames and videos/SEQ/masks)")
    items = [
        VideoItem(seq.name, seq / "frames", seq / "masks")
        for seq in sorted(videos.iterdir())
        if (seq / "frames").is_dir() and (seq / "masks").is_dir()
    ]
    if not items:
        raise DataError(videos, "holds no sequence with frames/ and masks/ folders")
    return items


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB; raises DataError naming the file."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise DataError(path, f"cannot read the image ({error})") from error


def read_index(path: Path) -> np.ndarray:
    """Read a mask PNG as its raw HxW values (palette indices or grey levels)."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image if image.mode in ("P", "L", "I", "I;16", "1") else image.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise DataError(path, f"cannot read the mask ({error})") from error
    return array if array.ndim == 2 else array[..., 0]


def load_image_item(item: ImageItem) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(image RGB, GT HxW bool, ignore HxW bool or None) of an item; sizes checked."""
    image = read_rgb(item.image)
    gt = read_index(item.mask) > 0
    if gt.shape != image.shape[:2]:
        raise DataError(item.mask, f"mask size {gt.shape} differs from the image's {image.shape[:2]}")
    ignore = None
    if item.ignore is not None:
        ignore = read_index(item.ignore) == 255
        if ignore.shape != gt.shape:
            raise DataError(item.ignore, f"ignore size {ignore.shape} differs from the image's {gt.shape}")
    return image, gt, ignore


def video_masks(item: VideoItem) -> list[Path]:
    """The GT mask files of a sequence, in frame order."""
    return sorted(p for p in item.masks.iterdir() if p.suffix.lower() == ".png")


def read_video_gt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(object HxW bool, void HxW bool) from an index PNG: 255 is void, other non-zero values object."""
    index = read_index(path)
    void = index == 255
    return (index > 0) & ~void, void
