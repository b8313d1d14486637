"""Mask overlays: a bool crop turned into a translucent indexed QImage with an outline."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage, qRgba

from annotator.document.model import Color


def _erode(crop: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return cv2.erode(crop.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def mask_image(crop: np.ndarray, color: Color, opacity: float, selected: bool = False) -> QImage:
    """An Indexed8 QImage of `crop`: translucent fill, a dark outer ring and a coloured (white when
    selected) inner ring, so the outline shows on any background, even one of the object's colour."""
    height, width = crop.shape
    if height == 0 or width == 0:
        return QImage()
    indices = crop.astype(np.uint8)
    if min(height, width) > 4:
        inner = _erode(crop, 1)
        indices[crop & ~inner] = 3
        indices[inner & ~_erode(crop, 2 if selected else 1 + 1)] = 2
    stride = (width + 3) // 4 * 4
    buffer = np.zeros((height, stride), np.uint8)
    buffer[:, :width] = indices
    image = QImage(buffer.data, width, height, stride, QImage.Format.Format_Indexed8)
    red, green, blue = color
    fill = int(255 * max(0.0, min(1.0, opacity + (0.15 if selected else 0.0))))
    line = (255, 255, 255) if selected else (red, green, blue)
    image.setColorTable([qRgba(0, 0, 0, 0), qRgba(red, green, blue, fill), qRgba(*line, 255), qRgba(20, 20, 20, 220)])
    return image.copy()  # own the pixels: `buffer` goes away
