"""Generated data folders in the layout of ../shared/data, for harness tests that need no real data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image


def scene(size: tuple[int, int], centre: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, bool mask) of a red disk-and-box object on a noisy green-grey background."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = np.clip(rng.normal(110, 15, (height, width, 3)), 0, 255).astype(np.uint8)
    image[..., 1] = np.clip(image[..., 1].astype(int) + 40, 0, 255)
    mask = np.zeros(size, np.uint8)
    cv2.circle(mask, centre, min(size) // 5, 1, -1)
    cv2.rectangle(mask, (centre[0], centre[1] - 5), (centre[0] + min(size) // 3, centre[1] + 5), 1, -1)
    image[mask > 0] = np.clip(rng.normal((200, 50, 40), 12, (int(mask.sum()), 3)), 0, 255).astype(np.uint8)
    return image, mask > 0


def write_data_folder(root: Path, images: int = 2, frames: int = 8) -> Path:
    """Write images/, masks/, ignore/ and videos/SEQ/{frames,masks}/ under `root`."""
    for sub in ("images", "masks", "ignore"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for index in range(images):
        image, mask = scene((120, 160), (70 + 5 * index, 60), seed=index)
        Image.fromarray(image).save(root / "images" / f"item{index}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / "masks" / f"item{index}.png")
    ignore = np.zeros((120, 160), np.uint8)
    ignore[:5] = 255
    Image.fromarray(ignore).save(root / "ignore" / "item0.png")
    seq = root / "videos" / "square"
    (seq / "frames").mkdir(parents=True, exist_ok=True)
    (seq / "masks").mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        image, mask = scene((120, 160), (60 + 3 * index, 60), seed=100 + index)
        Image.fromarray(image).save(seq / "frames" / f"{index:05d}.jpg", quality=95)
        Image.fromarray(mask.astype(np.uint8)).save(seq / "masks" / f"{index:05d}.png")
    return root


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    """A small generated data folder."""
    return write_data_folder(tmp_path / "data")
