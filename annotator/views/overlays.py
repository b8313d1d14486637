"""Mask overlays: a bool crop turned into a translucent indexed QImage with an outline."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage, qRgba

from annotator.document.model import Color

_RING = np.ones((3, 3), np.uint8)


def _erode(pixels: np.ndarray) -> np.ndarray:
    """One pixel off every edge of a 0/1 uint8 image (outside the image counts as empty)."""
    return cv2.erode(pixels, _RING, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def mask_image(crop: np.ndarray, color: Color, opacity: float, selected: bool = False) -> QImage:
    """An Indexed8 QImage of `crop`: translucent fill, a dark outer ring and a coloured (white when
    selected) inner ring, so the outline shows on any background, even one of the object's colour."""
    height, width = crop.shape
    if height == 0 or width == 0:
        return QImage()
    image = QImage(width, height, QImage.Format.Format_Indexed8)
    rows = np.frombuffer(image.bits(), np.uint8).reshape(height, image.bytesPerLine())[:, :width]
    pixels = np.ascontiguousarray(crop).view(np.uint8)
    if min(height, width) > 4:
        # Colour-table indices: 3 on the outer ring (inside, within 1 px of the edge), 2 on the inner
        # ring (the next pixel in), 1 deeper inside, 0 outside: 3 * inside - eroded once - eroded twice
        # (a 3x3 erosion twice is the 5x5 one).
        once = _erode(pixels)
        twice = _erode(once)
        np.subtract(pixels * np.uint8(3), once, out=rows)
        rows -= twice
    else:
        rows[...] = pixels
    red, green, blue = color
    fill = int(255 * max(0.0, min(1.0, opacity + (0.15 if selected else 0.0))))
    line = (255, 255, 255) if selected else (red, green, blue)
    image.setColorTable([qRgba(0, 0, 0, 0), qRgba(red, green, blue, fill), qRgba(*line, 255), qRgba(20, 20, 20, 220)])
    return image


HATCH = 6  # period in pixels of a proposal's diagonal stripes
DASH = 8  # length in pixels of one dash of a proposal's outline (and of the gap after it)


def proposal_image(crop: np.ndarray, color: Color, origin: tuple[int, int], highlighted: bool = False) -> QImage:
    """An Indexed8 QImage of a proposal's `crop` (placed at image pixel `origin`, so that stripes and
    dashes line up across proposals): diagonal stripes of `color` over a clear inside and a dashed
    outline (white when highlighted), never the solid fill of an accepted object."""
    height, width = crop.shape
    if height == 0 or width == 0:
        return QImage()
    image = QImage(width, height, QImage.Format.Format_Indexed8)
    rows = np.frombuffer(image.bits(), np.uint8).reshape(height, image.bytesPerLine())[:, :width]
    pixels = np.ascontiguousarray(crop).view(np.uint8)
    ys, xs = np.mgrid[origin[1] : origin[1] + height, origin[0] : origin[0] + width]
    stripes = ((xs + ys) % HATCH < 2).astype(np.uint8)
    dashes = ((xs + ys) // DASH % 2 == 0).astype(np.uint8)
    ring = pixels - _erode(pixels) if min(height, width) > 2 else pixels
    # 0 outside or clear inside, 1 stripe, 2 a dash of the outline, 3 the gap between dashes
    rows[...] = pixels * stripes
    rows[ring.astype(bool)] = (2 + (1 - dashes))[ring.astype(bool)]
    red, green, blue = color
    line = (255, 255, 255) if highlighted else (red, green, blue)
    image.setColorTable([qRgba(0, 0, 0, 0), qRgba(red, green, blue, 200), qRgba(*line, 255), qRgba(20, 20, 20, 200)])
    return image
