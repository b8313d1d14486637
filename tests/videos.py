"""Test helper: write small videos whose frames spell their own index (robust to lossy codecs)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 8
WIDTH, HEIGHT = 128, 96


def index_frame(index: int) -> np.ndarray:
    """A frame whose eight vertical bands spell its index in binary (robust to lossy codecs)."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    band = WIDTH // BITS
    for bit in range(BITS):
        if index >> bit & 1:
            image[:, bit * band : (bit + 1) * band] = 255
    return image


def index_of(frame: np.ndarray) -> int:
    band = WIDTH // BITS
    means = [frame[:, bit * band + 3 : (bit + 1) * band - 3].mean() for bit in range(BITS)]
    return sum(1 << bit for bit, mean in enumerate(means) if mean > 128)


def write_video(path: Path, codec: str, count: int, fps: int = 25, vfr: bool = False) -> None:
    """Encode `count` index frames with PyAV (variable frame intervals when `vfr`)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"g": "12"}
        pts = 0
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(index_frame(index), format="rgb24")
            frame.pts = pts
            frame.time_base = Fraction(1, 1000)
            pts += (40 if index % 3 else 90) if vfr else 40
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def link_first(source: Path, target: Path, count: int) -> Path:
    """Symlink the first `count` files of `source` (by name) into `target`: the shared evaluation
    data is used by path, never copied."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir())[:count]:
        (target / path.name).symlink_to(path)
    return target
