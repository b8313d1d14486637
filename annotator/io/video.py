"""Video frames by index: PyAV with frame-accurate seeking, frame folders, and a byte-bounded cache.

The frame index is the unit: frame i is the i-th frame in presentation order, whatever the frame
rate does; each frame's timestamp (seconds) is kept. An index of packet timestamps is built by
demuxing once (no decoding), so seeking to frame i means: seek to the keyframe at or before its
timestamp, then decode forward until that exact timestamp.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from annotator.errors import MediaError
from annotator.io.media import list_images, read_image

log = logging.getLogger(__name__)


class VideoReader:
    """Random access to the frames of one video file (not thread-safe: one per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError, OSError) as error:
            raise MediaError(self.path, f"cannot be opened as a video ({error})") from error
        self._stream.thread_type = "AUTO"
        self._pts = self._index_packets()
        if not self._pts:
            raise MediaError(self.path, "contains no video frames (empty or truncated)")
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        self.fps = float(rate)
        self.time_base = self._stream.time_base or Fraction(1, 1000)
        context = self._stream.codec_context
        self.width, self.height = int(context.width), int(context.height)
        self._position = -1  # index of the last decoded frame
        self._decoder = None

    def _index_packets(self) -> list[int]:
        points: list[int] = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.pts is not None and packet.size:
                    points.append(int(packet.pts))
        except av.error.FFmpegError as error:
            log.warning("%s: demuxing stopped early: %s", self.path, error)
        return sorted(set(points))

    def __len__(self) -> int:
        return len(self._pts)

    @property
    def timestamps(self) -> list[float]:
        """Presentation time of every frame, in seconds."""
        return [float(p * self.time_base) for p in self._pts]

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame `index` as HxWx3 uint8 RGB."""
        if not 0 <= index < len(self._pts):
            raise IndexError(f"frame {index} outside 0..{len(self._pts) - 1}")
        if index != self._position + 1 or self._decoder is None:
            self._seek(index)
        target = self._pts[index]
        try:
            for frame in self._decoder:  # type: ignore[union-attr]
                if frame.pts is None:
                    continue
                if frame.pts >= target:
                    self._position = index
                    return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as error:
            raise MediaError(self.path, f"frame {index} cannot be decoded ({error})") from error
        raise MediaError(self.path, f"frame {index} is missing (the file may be truncated)")

    def _seek(self, index: int) -> None:
        try:
            self._container.seek(self._pts[index], stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as error:
            raise MediaError(self.path, f"cannot seek to frame {index} ({error})") from error
        self._decoder = self._container.decode(self._stream)

    def close(self) -> None:
        """Release the file."""
        self._container.close()


class FrameFolder:
    """A folder of frame images, in name order, as a frame source."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.files = list_images(self.path)
        if not self.files:
            raise MediaError(self.path, "contains no frame images")
        first = read_image(self.files[0])
        self.height, self.width = first.shape[:2]
        self.fps = 0.0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame `index` as HxWx3 uint8 RGB."""
        return read_image(self.files[index])

    def close(self) -> None:
        """Nothing to release."""


def open_frames(path: Path) -> VideoReader | FrameFolder:
    """A video file or a folder of frames."""
    return FrameFolder(path) if Path(path).is_dir() else VideoReader(path)


class CachedFrames:
    """A thread-safe frame source over a video or frame folder: byte-bounded LRU and read-ahead.

    Reads for the caller and the background read-ahead use separate decoders, so a scrub never
    waits behind read-ahead decoding.
    """

    def __init__(self, path: Path, max_bytes: int = 512 * 1024 * 1024, read_ahead: int = 8) -> None:
        self.path = Path(path)
        self._front = open_frames(self.path)
        self._back: VideoReader | FrameFolder | None = None
        self.width, self.height, self.fps = self._front.width, self._front.height, self._front.fps
        self._count = len(self._front)
        self.max_bytes = max_bytes
        self.read_ahead = read_ahead
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._front_lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._next_ahead: int | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._read_ahead_loop, name="frame-read-ahead", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        return self._count

    def cached(self, index: int) -> np.ndarray | None:
        """The frame if it is in the cache (never decodes)."""
        with self._lock:
            return self._cache.get(index)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame `index` (HxWx3 uint8 RGB), from the cache or decoded now; starts read-ahead after it."""
        if not 0 <= index < self._count:
            raise IndexError(f"frame {index} outside 0..{self._count - 1}")
        with self._lock:
            frame = self._cache.get(index)
            if frame is not None:
                self._cache.move_to_end(index)
            self._next_ahead = index + 1
            self._wanted.notify()
        if frame is None:
            with self._front_lock:
                frame = self._front[index]
            self._store(index, frame)
        return frame

    def _store(self, index: int, frame: np.ndarray) -> None:
        frame.setflags(write=False)
        with self._lock:
            if index in self._cache:
                return
            self._cache[index] = frame
            self._bytes += frame.nbytes
            while self._bytes > self.max_bytes and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._bytes -= old.nbytes

    def _read_ahead_loop(self) -> None:
        while True:
            with self._lock:
                while self._next_ahead is None and not self._closed:
                    self._wanted.wait()
                if self._closed:
                    return
                start, self._next_ahead = self._next_ahead, None
            for index in range(start, min(start + self.read_ahead, self._count)):
                with self._lock:
                    if self._closed or self._next_ahead is not None:
                        break
                    if index in self._cache:
                        continue
                try:
                    if self._back is None:
                        self._back = open_frames(self.path)
                    self._store(index, self._back[index])
                except (MediaError, IndexError) as error:
                    log.debug("read-ahead stopped at frame %d: %s", index, error)
                    break

    @property
    def nbytes(self) -> int:
        """Bytes held by the cache."""
        with self._lock:
            return self._bytes

    def close(self) -> None:
        """Stop read-ahead and release the files."""
        with self._lock:
            self._closed = True
            self._wanted.notify_all()
        self._thread.join(timeout=5)
        self._front.close()
        if self._back is not None:
            self._back.close()
