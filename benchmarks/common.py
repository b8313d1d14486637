"""Shared pieces of the benchmark scripts (run as `python benchmarks/NAME.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from annotator.document import Mask


def ellipse_masks(count: int, margin: int, radii: tuple[int, int], height: int = 480, width: int = 640) -> list[Mask]:
    """`count` reproducible ellipse masks: centres `margin` px from the border, radii in `radii`."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, :width]
    pool = []
    for _ in range(count):
        cx, cy = rng.integers(margin, width - margin), rng.integers(margin, height - margin)
        rx, ry = rng.integers(*radii), rng.integers(*radii)
        pool.append(Mask.from_array(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1))
    return pool


def report(result: dict[str, Any], path: Path | None) -> None:
    """Print the figures as JSON, and write them to `path` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.write_text(text)
