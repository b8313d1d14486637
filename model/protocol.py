"""The engine protocol: numpy in, numpy out, shared by every backend.

Conventions (stated once, used everywhere):
- images are HxWx3 uint8 RGB arrays;
- masks are HxW bool arrays in image pixels;
- points are Nx2 float32 arrays of (x, y) in image pixels, labels N int32 (1 positive, 0 negative);
- boxes are 4 float32 (x0, y0, x1, y1) in image pixels;
- frames are 0-based indices.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Direction = Literal["forward", "backward", "both"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Prompt:
    """What the user gave for one object: points, a box, and/or a previous result.

    points: Nx2 float32 (x, y) image pixels; labels: N int32 (1 positive, 0 negative);
    box: 4 float32 xyxy or None; logits: previous low-res logits (h x w float32) or None;
    mask: a previous or user-drawn HxW bool mask or None; multimask: ask for several candidates.
    """

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    box: np.ndarray | None = None
    logits: np.ndarray | None = None
    mask: np.ndarray | None = None
    multimask: bool = True

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float32).reshape(-1, 2)
        labels = np.asarray(self.labels, dtype=np.int32).reshape(-1)
        if len(points) != len(labels):
            raise ValueError(f"prompt has {len(points)} points but {len(labels)} labels")
        object.__setattr__(self, "points", _readonly(points))
        object.__setattr__(self, "labels", _readonly(labels))
        if self.box is not None:
            box = np.asarray(self.box, dtype=np.float32).reshape(4)
            object.__setattr__(self, "box", _readonly(box))
        if self.mask is not None:
            object.__setattr__(self, "mask", np.asarray(self.mask, dtype=bool))

    @classmethod
    def from_clicks(
        cls, clicks: list[tuple[float, float, bool]], box: tuple[float, float, float, float] | None = None
    ) -> Prompt:
        """Build a prompt from (x, y, positive) clicks and an optional xyxy box."""
        points = np.array([(x, y) for x, y, _ in clicks], np.float32).reshape(-1, 2)
        labels = np.array([1 if positive else 0 for _, _, positive in clicks], np.int32)
        return cls(points=points, labels=labels, box=None if box is None else np.array(box, np.float32))

    @property
    def is_empty(self) -> bool:
        """True when the prompt carries nothing to segment from."""
        return len(self.points) == 0 and self.box is None and self.mask is None and self.logits is None


@dataclass(frozen=True, eq=False)
class Embedding:
    """The heavy per-image result of `embed`.

    `data` is private to the backend that made it, but always a dict of str -> numpy array, so
    that the embedding cache can keep it in memory and write it to disk (np.savez) unchanged.
    """

    model_id: str
    image_size: tuple[int, int]  # (H, W)
    data: dict[str, Any]
    nbytes: int = 0


@dataclass(frozen=True, eq=False)
class Prediction:
    """K candidate masks (KxHxW bool), their scores (K float32), low-res logits (Kxhxw float32)."""

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray

    @property
    def best(self) -> int:
        """Index of the highest-scoring candidate."""
        return int(np.argmax(self.scores)) if len(self.scores) else 0

    @property
    def best_mask(self) -> np.ndarray:
        """The highest-scoring candidate mask, HxW bool."""
        return self.masks[self.best]


@runtime_checkable
class FrameSource(Protocol):
    """Random access to the frames of a video: len() and [index] -> HxWx3 uint8 RGB."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


PRESENT = 0.5
"""A tracked object whose confidence is below this is judged absent on that frame (its mask is empty)."""


class VideoSession(Protocol):
    """Per-video tracking state over one loaded model; object ids are the caller's.

    `scores` is each object's confidence in [0, 1] on the frame `propagate` yielded last (set
    before each yield; read it right after receiving the frame): SAM sessions give their object
    score (the sigmoid of its logit), the classic tracker how far its refined mask agrees with the
    motion and how reliable that motion was. Below PRESENT the object is judged absent there.
    """

    scores: dict[int, float]

    def add_prompt(self, frame: int, obj_id: int, prompt: Prompt) -> np.ndarray:
        """Prompt one object on one frame; returns its HxW bool mask on that frame."""
        ...

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and all its prompts."""
        ...

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """Stream (frame, {obj_id: HxW bool mask}) from `start`, stopping soon after `cancel` is set."""
        ...

    def close(self) -> None:
        """Release what the session holds."""
        ...


class Engine(Protocol):
    """A loaded model: embed once per image, predict per prompt, open video sessions."""

    name: str
    model_id: str
    device: str

    def embed(self, image: np.ndarray) -> Embedding:
        """Compute the per-image embedding of an HxWx3 uint8 RGB image."""
        ...

    def predict(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """Masks for a prompt on an embedded image."""
        ...

    def open_video(self, frames: FrameSource) -> VideoSession:
        """Start a tracking session over a frame source."""
        ...


@dataclass(frozen=True, eq=False)
class Concept:
    """What to find on an image: a noun phrase and/or exemplar boxes.

    text: a short noun phrase ("yellow school bus") or None; boxes: Nx4 float32 xyxy image pixels
    on instances that are (label 1) or are not (label 0) what is sought; box_labels: N int32;
    min_score: instances scoring below this are not returned (a review slider can raise it).
    """

    text: str | None = None
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    box_labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    min_score: float = 0.3

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        box_labels = np.asarray(self.box_labels, dtype=np.int32).reshape(-1)
        if len(boxes) != len(box_labels):
            raise ValueError(f"concept has {len(boxes)} boxes but {len(box_labels)} box labels")
        text = self.text.strip() if isinstance(self.text, str) else None
        if not text and not len(boxes):
            raise ValueError("a concept needs a phrase or at least one exemplar box")
        object.__setattr__(self, "text", text or None)
        object.__setattr__(self, "boxes", _readonly(boxes))
        object.__setattr__(self, "box_labels", _readonly(box_labels))


@dataclass(frozen=True, eq=False)
class Instance:
    """One model-made instance: HxW bool mask, 4 float32 xyxy box, score in [0, 1], and the
    phrase that found it (None for region proposals and exemplar-only concepts)."""

    mask: np.ndarray
    box: np.ndarray
    score: float
    label: str | None = None


@dataclass(frozen=True)
class EverythingSettings:
    """How densely `everything` samples an image and what it keeps.

    points_per_side: the point grid is this many points on each side (SAM's default 32);
    min_score: lowest predicted quality kept; min_stability: lowest stability score kept;
    nms_iou: boxes overlapping more than this are suppressed; min_area: regions and holes smaller
    than this many pixels are removed; concepts: phrases (e.g. the project's labels) that an engine
    finding concepts (SAM 3) looks for instead of sampling a grid, each instance labelled with its
    phrase, keeping those scoring >= concept_min_score.
    """

    points_per_side: int = 32
    min_score: float = 0.88
    min_stability: float = 0.95
    nms_iou: float = 0.7
    min_area: int = 100
    concepts: tuple[str, ...] = ()
    concept_min_score: float = 0.3


Progress = Any
"""A callable (done: int, total: int) -> None, called as a long step advances."""


@runtime_checkable
class Previewer(Protocol):
    """An engine whose full `predict` is slow enough to show a quick first mask before it (classic)."""

    def preview(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """One quick candidate for `prompt`, which `predict` on the same prompt then refines."""
        ...


@runtime_checkable
class ConceptFinder(Protocol):
    """An engine that finds every instance of a concept on an embedded image (SAM 3)."""

    def find(self, embedding: Embedding, concept: Concept) -> list[Instance]:
        """Every instance matching `concept`, best score first."""
        ...


@runtime_checkable
class ProposalMaker(Protocol):
    """An engine that proposes every object region of an embedded image ("segment everything")."""

    def everything(
        self,
        embedding: Embedding,
        settings: EverythingSettings = EverythingSettings(),
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> list[Instance]:
        """Object proposals, best score first; raises Cancelled soon after `cancel` is set."""
        ...


def supports(engine: object, step: Literal["find", "everything", "preview"]) -> bool:
    """Whether a loaded engine offers an optional protocol step (the GUI offers only those)."""
    return callable(getattr(engine, step, None))


def check_image(image: np.ndarray) -> np.ndarray:
    """Return `image` as HxWx3 uint8 RGB; grayscale, RGBA and 16-bit inputs are converted.

    Raises EngineError for anything that is not an image array.
    """
    from model.errors import EngineError

    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.shape[0] < 1 or array.shape[1] < 1:
        raise EngineError(f"expected an HxWx3 image, got an array of shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 1.0
        array = np.clip(np.nan_to_num(array) * scale, 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)
