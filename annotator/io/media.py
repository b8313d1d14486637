"""Reading images: RGB uint8 arrays and sizes, with a MediaError naming the file on failure."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from annotator.errors import MediaError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})

# Refuse decompression bombs but allow real large images (e.g. 16k x 16k scans).
Image.MAX_IMAGE_PIXELS = 300_000_000


def is_image(path: Path) -> bool:
    """True when the file name looks like an image we read."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: Path) -> list[Path]:
    """Images directly inside `folder`, sorted by name (hidden files skipped)."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name.lower())
    except OSError as error:
        raise MediaError(folder, f"cannot list the folder: {error.strerror or error}") from error
    return [p for p in entries if p.is_file() and is_image(p) and not p.name.startswith(".")]


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise MediaError(path, f"cannot be read as an image ({error})") from error


def read_image(path: Path) -> np.ndarray:
    """The image as HxWx3 uint8 RGB (grayscale, alpha and 16-bit are converted)."""
    data = None
    try:
        raw = np.fromfile(str(path), np.uint8)
        data = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    except (OSError, cv2.error) as error:
        raise MediaError(path, f"cannot be read: {error}") from error
    if data is None:
        raise MediaError(path, "cannot be decoded as an image (corrupt or unsupported)")
    if data.dtype == np.uint16:
        data = (data >> 8).astype(np.uint8)
    elif data.dtype != np.uint8:
        data = cv2.normalize(data, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if data.ndim == 2:
        return cv2.cvtColor(data, cv2.COLOR_GRAY2RGB)
    if data.shape[2] == 4:
        return cv2.cvtColor(data, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
