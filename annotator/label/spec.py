"""What a labelling run asks for (engine, prompts, thresholds), its fingerprint, and the work units.

Everything here is small, frozen and picklable: it travels to the worker processes, which build
their own engine from it and read their own images.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from model.protocol import EverythingSettings

PromptKind = Literal["everything", "concepts", "boxes"]

STEP_OF: dict[str, str] = {"everything": "everything", "concepts": "find", "boxes": "predict"}
"""The engine step each prompt kind needs (`supports(engine, step)`; every engine predicts)."""


@dataclass(frozen=True)
class EngineChoice:
    """Which engine the workers build: a registry name and its options (weights, device, runtime)."""

    name: str = "classic"
    weights: str | None = None
    device: str | None = None
    runtime: str | None = None

    def options(self) -> dict[str, str]:
        """The keyword options for `model.registry.create` (only those given)."""
        given = {"weights": self.weights, "device": self.device, "runtime": self.runtime}
        return {key: value for key, value in given.items() if value is not None}


@dataclass(frozen=True)
class PromptSpec:
    """What to ask the engine on every item.

    kind: 'everything' (every region), 'concepts' (each (phrase, label id) found with `find`) or
    'boxes' (each task's boxes turned into masks with `predict`); threshold: instances scoring
    below it are left out; everything: the grid and filters of 'everything'.
    """

    kind: PromptKind
    concepts: tuple[tuple[str, int | None], ...] = ()
    threshold: float = 0.0
    everything: EverythingSettings = field(default_factory=EverythingSettings)
    boxes_digest: str = ""

    @property
    def source(self) -> str:
        """The run's source, as the Find panel names its runs."""
        return {"everything": "everything", "concepts": "find", "boxes": "boxes"}[self.kind]


@dataclass(frozen=True)
class Task:
    """One unit of work: a frame (0 for an image) of an item, its media, and for 'boxes' its
    boxes as (label id or None, x0, y0, x1, y1) in image pixels."""

    item_id: int
    frame: int
    media: str
    kind: str  # 'image' or 'video'
    size: tuple[int, int]  # (height, width) the project expects; (0, 0) when unknown
    boxes: tuple[tuple[int | None, float, float, float, float], ...] = ()


@dataclass(frozen=True)
class Made:
    """One instance a worker found, compact: its mask as COCO RLE counts of an HxW image."""

    counts: str
    height: int
    width: int
    score: float
    phrase: str | None
    label_id: int | None


@dataclass(frozen=True)
class Outcome:
    """What a worker did with one task: 'done' (with its instances, maybe none) or 'failed' (why)."""

    item_id: int
    frame: int
    status: Literal["done", "failed"]
    made: tuple[Made, ...] = ()
    error: str | None = None
    seconds: float = 0.0


def fingerprint(engine: EngineChoice, model_id: str, prompt: PromptSpec) -> tuple[str, dict]:
    """The run's identity (hex digest) and the settings it is computed from: the same command on the
    same engine, model, weights, prompts and thresholds gives the same fingerprint, so it resumes."""
    settings = {
        "engine": engine.name,
        "model": model_id,
        "weights": engine.weights,
        "runtime": engine.runtime,
        "prompt": prompt.kind,
        "concepts": [list(c) for c in prompt.concepts],
        "threshold": prompt.threshold,
        "everything": asdict(prompt.everything) if prompt.kind == "everything" else None,
        "boxes": prompt.boxes_digest or None,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]
    return digest, settings
