"""PyAV reading: exact frame indices after random seeks, for several codecs and containers."""

from __future__ import annotations

import random
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from annotator.errors import MediaError
from annotator.io.video import CachedFrames, FrameFolder, VideoReader

BITS = 8
WIDTH, HEIGHT = 128, 96


def _frame(index: int) -> np.ndarray:
    """A frame whose eight vertical bands spell its index in binary (robust to lossy codecs)."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    band = WIDTH // BITS
    for bit in range(BITS):
        if index >> bit & 1:
            image[:, bit * band : (bit + 1) * band] = 255
    return image


def _index_of(frame: np.ndarray) -> int:
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
            frame = av.VideoFrame.from_ndarray(_frame(index), format="rgb24")
            frame.pts = pts
            frame.time_base = Fraction(1, 1000)
            pts += (40 if index % 3 else 90) if vfr else 40
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize(("codec", "suffix"), [("libx264", ".mp4"), ("mpeg4", ".avi"), ("libvpx-vp9", ".webm")])
def test_random_seeks_give_exact_frames(tmp_path: Path, codec: str, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    write_video(path, codec, 90)
    reader = VideoReader(path)
    assert len(reader) == 90 and (reader.width, reader.height) == (WIDTH, HEIGHT)
    order = list(range(90))
    random.Random(7).shuffle(order)
    for index in [*order[:40], 0, 89, 45, 46, 47, 10]:
        assert _index_of(reader[index]) == index, f"{codec}: asked for {index}"
    reader.close()


def test_variable_frame_rate_keeps_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mkv"
    write_video(path, "libx264", 30, vfr=True)
    reader = VideoReader(path)
    stamps = reader.timestamps
    assert len(stamps) == 30 and stamps[0] == 0.0
    gaps = np.diff(stamps)
    assert set(np.round(gaps, 3)) == {0.04, 0.09}
    assert all(_index_of(reader[i]) == i for i in (29, 3, 17, 18, 0))


def test_cached_frames_read_ahead_and_bound_memory(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, "libx264", 60)
    frames = CachedFrames(path, max_bytes=10 * WIDTH * HEIGHT * 3, read_ahead=5)
    assert _index_of(frames[20]) == 20
    deadline = time.monotonic() + 5
    while frames.cached(24) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert frames.cached(24) is not None and _index_of(frames.cached(24)) == 24
    for index in range(0, 60, 3):
        assert _index_of(frames[index]) == index
    assert frames.nbytes <= 10 * WIDTH * HEIGHT * 3
    frames.close()


def test_corrupt_and_truncated_videos_raise_media_errors(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x18ftypmp42 definitely not a real movie")
    with pytest.raises(MediaError, match=r"bogus\.mp4"):
        VideoReader(bogus)
    good = tmp_path / "good.mkv"
    write_video(good, "libx264", 60)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    reader = VideoReader(cut)  # a truncated file opens with the frames that are there
    assert 0 < len(reader) < 60
    assert _index_of(reader[len(reader) - 1]) == len(reader) - 1
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.webm"):
        VideoReader(empty)


def test_frame_folder(tmp_path: Path) -> None:
    import cv2

    for index in range(5):
        cv2.imwrite(str(tmp_path / f"{index:05d}.png"), _frame(index))
    folder = FrameFolder(tmp_path)
    assert len(folder) == 5 and _index_of(folder[3]) == 3
    (tmp_path / "nothing").mkdir()
    with pytest.raises(MediaError, match="no frame images"):
        FrameFolder(tmp_path / "nothing")
