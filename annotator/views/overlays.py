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
