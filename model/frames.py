"""Frame sources: a folder of frame images read lazily, an in-memory list, read-ahead in a thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from model.errors import EngineError
from model.protocol import Direction, FrameSource, check_image

T = TypeVar("T")

log = logging.getLogger(__name__)

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class FolderFrames:
    """The frame images of a folder in name order, read on demand; keeps the last `keep` decoded."""

    def __init__(self, folder: Path | str, keep: int = 4) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise EngineError(f"{self.folder}: is not a folder of frames")
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        if not self.paths:
            raise EngineError(f"{self.folder}: holds no frame images ({', '.join(FRAME_SUFFIXES)})")
        self._keep = max(0, keep)
        self._recent: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        if not -len(self.paths) <= index < len(self.paths):
            raise IndexError(f"frame {index} out of range (0..{len(self.paths) - 1})")
        index %= len(self.paths)
        with self._lock:
            if index in self._recent:
                self._recent.move_to_end(index)
                return self._recent[index]
        frame = read_frame(self.paths[index])
        with self._lock:
            self._recent[index] = frame
            while len(self._recent) > self._keep:
                self._recent.popitem(last=False)
        return frame


class ListFrames:
    """Frames held in memory (tests, short clips): a sequence of HxWx3 uint8 RGB arrays."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames = [check_image(f) for f in frames]

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> np.ndarray:
        return self._frames[index]


def read_frame(path: Path) -> np.ndarray:
    """Read one frame image as HxWx3 uint8 RGB; raises EngineError naming the file."""
    data = np.fromfile(str(path), np.uint8) if Path(path).is_file() else np.zeros(0, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise EngineError(f"{path}: cannot read this frame image")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return check_image(image)


def read_ahead(frames: FrameSource, order: Iterable[int], depth: int = 4) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index, frame) in `order`, decoding up to `depth` frames ahead in a thread.

    Closing the generator early stops the reader thread after at most one more frame.
    """
    slots: queue.Queue[tuple[int, np.ndarray] | BaseException | None] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def reader() -> None:
        try:
            for index in order:
                if stop.is_set():
                    return
                slots.put((index, frames[index]))
        except BaseException as error:  # handed to the consumer, which re-raises it
            slots.put(error)
            return
        slots.put(None)

    thread = threading.Thread(target=reader, name="frame-reader", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def frame_order(start: int, count: int, direction: Direction) -> list[range]:
    """The runs of frames a propagation visits: forward from `start`, backward from it, or both (in that order)."""
    if direction not in ("forward", "backward", "both"):
        raise EngineError(f"unknown direction '{direction}'")
    if not 0 <= start < count:
        raise EngineError(f"frame {start} is outside the video (0..{count - 1})")
    runs = []
    if direction in ("forward", "both"):
        runs.append(range(start, count))
    if direction in ("backward", "both"):
        runs.append(range(start, -1, -1))
    return runs


def stream_runs(
    runs: list[range],
    start: int,
    run: Callable[[range, threading.Event | None], Iterator[tuple[int, T]]],
    cancel: threading.Event | None,
) -> Iterator[tuple[int, T]]:
    """Chain a propagation's runs (`run(order, cancel)` streams one): the start frame comes once, and the
    stream stops right after the frame during which `cancel` was set."""
    for number, order in enumerate(runs):
        for index, result in run(order, cancel):
            if number > 0 and index == start:
                continue
            yield index, result
            if cancel is not None and cancel.is_set():
                return
