"""PyAV reading: exact frame indices after random seeks, for several codecs and containers."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from videos import HEIGHT, WIDTH, index_frame, index_of, write_video

from annotator.errors import MediaError
from annotator.io.video import CachedFrames, FrameFolder, VideoReader


@pytest.mark.parametrize(("codec", "suffix"), [("libx264", ".mp4"), ("mpeg4", ".avi"), ("libvpx-vp9", ".webm")])
def test_random_seeks_give_exact_frames(tmp_path: Path, codec: str, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    write_video(path, codec, 90)
    reader = VideoReader(path)
    assert len(reader) == 90 and (reader.width, reader.height) == (WIDTH, HEIGHT)
    order = list(range(90))
    random.Random(7).shuffle(order)
    for index in [*order[:40], 0, 89, 45, 46, 47, 10]:
        assert index_of(reader[index]) == index, f"{codec}: asked for {index}"
    reader.close()


def test_variable_frame_rate_keeps_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mkv"
    write_video(path, "libx264", 30, vfr=True)
    reader = VideoReader(path)
    stamps = reader.timestamps
    assert len(stamps) == 30 and stamps[0] == 0.0
    gaps = np.diff(stamps)
    assert set(np.round(gaps, 3)) == {0.04, 0.09}
    assert all(index_of(reader[i]) == i for i in (29, 3, 17, 18, 0))


def test_cached_frames_read_ahead_and_bound_memory(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, "libx264", 60)
    frames = CachedFrames(path, max_bytes=10 * WIDTH * HEIGHT * 3, read_ahead=5)
    assert index_of(frames[20]) == 20
    deadline = time.monotonic() + 5
    while frames.cached(24) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert frames.cached(24) is not None and index_of(frames.cached(24)) == 24
    for index in range(0, 60, 3):
        assert index_of(frames[index]) == index
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
    assert index_of(reader[len(reader) - 1]) == len(reader) - 1
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.webm"):
        VideoReader(empty)


def test_frame_folder(tmp_path: Path) -> None:
    import cv2

    for index in range(5):
        cv2.imwrite(str(tmp_path / f"{index:05d}.png"), index_frame(index))
    folder = FrameFolder(tmp_path)
    assert len(folder) == 5 and index_of(folder[3]) == 3
    (tmp_path / "nothing").mkdir()
    with pytest.raises(MediaError, match="no frame images"):
        FrameFolder(tmp_path / "nothing")
