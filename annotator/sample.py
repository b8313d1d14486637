"""A small generated sample (shapes on textured backgrounds) so `make run` has something to open."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model.paths import cache_dir

SHAPE_CENTRES = ((0.2, 0.3), (0.45, 0.7), (0.7, 0.35), (0.85, 0.75))


def sample_scene(seed: int, size: tuple[int, int] = (540, 960)) -> np.ndarray:
    """A calm gradient background with four distinct, slightly textured shapes near the points of
    `SHAPE_CENTRES` (fractions of the width and height, within 30 px)."""
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    low, high = rng.integers(60, 120, 3), rng.integers(140, 200, 3)
    ramp = (xx / width * 0.7 + yy / height * 0.3)[..., None]
    image = low + (high - low) * ramp + rng.normal(0, 4, (height, width, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    cells = SHAPE_CENTRES
    for index, (fx, fy) in enumerate(cells):
        color = tuple(int(c) for c in rng.integers(20, 235, 3))
        center = (int(fx * width + rng.integers(-30, 30)), int(fy * height + rng.integers(-20, 20)))
        if index % 2 == 0:
            axes = (int(rng.integers(60, 110)), int(rng.integers(45, 90)))
            cv2.ellipse(image, center, axes, float(rng.integers(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        else:
            half = int(rng.integers(45, 80))
            cv2.rectangle(image, (center[0] - half, center[1] - half), (center[0] + half, center[1] + half), color, -1)
    grain = rng.normal(0, 5, image.shape)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def sample_folder() -> Path:
    """Folder with a few generated images, created once in the cache."""
    folder = cache_dir() / "sample"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(4):
        path = folder / f"sample_v2_{index + 1}.png"
        if not path.exists():
            cv2.imwrite(str(path), cv2.cvtColor(sample_scene(index), cv2.COLOR_RGB2BGR))
    return folder
