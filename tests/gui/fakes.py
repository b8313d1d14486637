"""A test double engine: discs around clicks, filled boxes, an optional slow embed."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from model.protocol import Embedding, Prediction, Prompt


@dataclass
class DiscEngine:
    """Deterministic engine: positive points add discs, negative remove them, a box fills in."""

    embed_seconds: float = 0.0
    radius: int = 25
    name: str = "disc"
    model_id: str = "disc-test"
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.embed_calls = 0
        self.predict_calls = 0
        self.lock = threading.Lock()

    def embed(self, image: np.ndarray) -> Embedding:
        """Sleep as a slow model would, then remember the size."""
        time.sleep(self.embed_seconds)
        with self.lock:
            self.embed_calls += 1
        return Embedding(self.model_id, image.shape[:2], {"size": np.array(image.shape[:2])})

    def predict(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """Two candidates: the disc/box mask and a smaller one."""
        with self.lock:
            self.predict_calls += 1
        height, width = embedding.image_size
        yy, xx = np.mgrid[:height, :width]
        mask = np.zeros((height, width), bool)
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box.astype(int)
            mask[y0 : y1 + 1, x0 : x1 + 1] = True
        for (x, y), label in zip(prompt.points, prompt.labels, strict=True):
            disc = (xx - x) ** 2 + (yy - y) ** 2 <= self.radius**2
            mask = mask | disc if label == 1 else mask & ~disc
        small = mask & ((xx % 2) == 0)
        logits = np.zeros((2, 64, 64), np.float32)
        return Prediction(np.stack([mask, small]), np.array([0.9, 0.5], np.float32), logits)

    def open_video(self, frames: object) -> object:
        """Not needed by the image tests."""
        raise NotImplementedError


def disc_factory(engine: DiscEngine):  # type: ignore[no-untyped-def]
    """A bridge factory that always returns `engine`."""

    def create(name: str, **options: object) -> DiscEngine:
        return engine

    return create


class ShiftSession:
    """Video session double: each frame the prompted mask moves `shift` pixels to the right."""

    def __init__(self, frames: object, shift: int = 2, delay: float = 0.0) -> None:
        self.frames = frames
        self.shift = shift
        self.delay = delay
        self.prompts: dict[int, tuple[int, np.ndarray]] = {}
        self.closed = False

    def add_prompt(self, frame: int, obj_id: int, prompt: Prompt) -> np.ndarray:
        """Remember the mask given on `frame`."""
        assert prompt.mask is not None
        self.prompts[obj_id] = (frame, prompt.mask)
        return prompt.mask

    def remove_object(self, obj_id: int) -> None:
        """Forget an object."""
        self.prompts.pop(obj_id, None)

    def propagate(self, start: int, direction: str = "forward", cancel: threading.Event | None = None):  # type: ignore[no-untyped-def]
        """Shifted masks frame by frame, forward then backward."""
        steps = []
        if direction in ("forward", "both"):
            steps += list(range(start, len(self.frames)))  # type: ignore[arg-type]
        if direction in ("backward", "both"):
            steps += list(range(start, -1, -1))
        for frame in steps:
            if cancel is not None and cancel.is_set():
                return
            time.sleep(self.delay)
            out = {}
            for obj_id, (origin, mask) in self.prompts.items():
                out[obj_id] = np.roll(mask, self.shift * (frame - origin), axis=1)
            yield frame, out

    def close(self) -> None:
        """Done."""
        self.closed = True


class VideoDiscEngine(DiscEngine):
    """DiscEngine with ShiftSession video sessions."""

    frame_delay: float = 0.0

    def open_video(self, frames: object) -> ShiftSession:
        """A shifting session over `frames`."""
        self.session = ShiftSession(frames, delay=self.frame_delay)
        return self.session
