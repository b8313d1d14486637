"""A small generated sample (shapes on textured backgrounds) so `make run` has something to open."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model.paths import cache_dir


def _scene(seed: int, size: tuple[int, int] = (540, 960)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[:height, :width]
    base = rng.integers(40, 200, 3)
    image = np.empty((height, width, 3), np.float32)
    for channel in range(3):
        image[..., channel] = base[channel] + 30 * np.sin(xx / (25 + 10 * channel) + yy / 40)
    image += rng.normal(0, 6, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(4):
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        center = (int(rng.integers(100, width - 100)), int(rng.integers(100, height - 100)))
        if rng.random() < 0.5:
            axes = (int(rng.integers(40, 140)), int(rng.integers(40, 120)))
            cv2.ellipse(image, center, axes, float(rng.integers(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        else:
            half = int(rng.integers(40, 110))
            cv2.rectangle(image, (center[0] - half, center[1] - half), (center[0] + half, center[1] + half), color, -1)
    return image


def sample_folder() -> Path:
    """Folder with a few generated images, created once in the cache."""
    folder = cache_dir() / "sample"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(4):
        path = folder / f"sample_{index + 1}.png"
        if not path.exists():
            cv2.imwrite(str(path), cv2.cvtColor(_scene(index), cv2.COLOR_RGB2BGR))
    return folder
