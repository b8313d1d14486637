"""The labelling worker: one engine per process, reads its own images, returns compact outcomes.

`start` runs once in each worker process (or once in the parent with one worker): it caps the
thread pools of OpenCV, torch and the BLAS libraries so that workers x threads stays within the
cores, then builds the engine. `label_batch` never raises for one item: a corrupt image or an
unreadable frame becomes a 'failed' outcome naming the file and the problem.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from annotator.label.spec import EngineChoice, Made, Outcome, PromptSpec, Task

log = logging.getLogger(__name__)

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class _State:
    """What a worker process keeps between batches."""

    engine: Any = None
    prompt: PromptSpec | None = None
    frames: Any = None  # the open video of the last video task
    frames_path: str | None = None
    error: str | None = None  # why the engine could not be built (reported by describe)


_state = _State()


def set_threads(threads: int) -> None:
    """Cap this process's compute threads (OpenCV, torch, BLAS, ONNX Runtime through OMP)."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def start(engine: EngineChoice, prompt: PromptSpec, threads: int, in_pool: bool = True) -> None:
    """Build this process's engine for `prompt` with `threads` compute threads."""
    if in_pool:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    set_threads(threads)
    from model import registry

    _state.prompt = prompt
    try:
        if engine.name != "classic":
            import torch

            torch.set_num_threads(threads)
        _state.engine = registry.create(engine.name, **engine.options())
    except Exception as error:  # kept for describe(): a pool would only say that a process failed
        if not in_pool:
            raise
        _state.error = str(error) or type(error).__name__


def describe() -> tuple[str, dict[str, bool]]:
    """The loaded engine's model id and which optional steps it offers (the parent's fingerprint and checks)."""
    from model.errors import EngineError
    from model.protocol import supports

    if _state.error is not None:
        raise EngineError(_state.error)
    engine = _state.engine
    steps = {step: supports(engine, step) for step in ("find", "everything")}
    return str(engine.model_id), {**steps, "predict": callable(getattr(engine, "predict", None))}


def _image(task: Task) -> np.ndarray:
    """The task's image or frame as HxWx3 uint8 RGB (MediaError when it cannot be read)."""
    from annotator.io.media import read_image
    from annotator.io.video import open_frames

    if task.kind == "image":
        return read_image(Path(task.media))
    if _state.frames_path != task.media:
        if _state.frames is not None:
            _state.frames.close()
        _state.frames, _state.frames_path = None, None
        _state.frames = open_frames(Path(task.media))
        _state.frames_path = task.media
    return np.asarray(_state.frames[task.frame])


def _compact(mask: np.ndarray, score: float, phrase: str | None, label_id: int | None) -> Made:
    from annotator.document.mask import Mask

    encoded = Mask.from_array(np.asarray(mask, bool)).to_rle()
    height, width = encoded["size"]
    return Made(encoded["counts"], int(height), int(width), float(min(1.0, max(0.0, score))), phrase, label_id)


def _instances(task: Task, image: np.ndarray) -> list[Made]:
    """Everything the prompt asks for on one image, best first within each prompt, thresholded."""
    from model.protocol import Concept, Prompt

    engine, prompt = _state.engine, _state.prompt
    assert engine is not None and prompt is not None
    embedding = engine.embed(image)
    made: list[Made] = []
    if prompt.kind == "everything":
        for instance in engine.everything(embedding, prompt.everything):
            made.append(_compact(instance.mask, instance.score, None, None))
    elif prompt.kind == "concepts":
        for phrase, label_id in prompt.concepts:
            # The detector's own floor applies unless a threshold was asked for (which may be lower).
            concept = Concept(text=phrase, min_score=prompt.threshold) if prompt.threshold > 0 else Concept(text=phrase)
            for instance in engine.find(embedding, concept):
                made.append(_compact(instance.mask, instance.score, phrase, label_id))
    else:
        for label_id, *box in task.boxes:
            prediction = engine.predict(embedding, Prompt(box=np.array(box, np.float32), multimask=False))
            if len(prediction.scores):
                best = prediction.best
                made.append(_compact(prediction.masks[best], float(prediction.scores[best]), None, label_id))
    return [m for m in made if m.score >= prompt.threshold]


def label_batch(tasks: list[Task]) -> list[Outcome]:
    """Label every task of a batch; a task that fails is reported as failed, never raised (only an
    engine that could not be built stops the run)."""
    if _state.error is not None:
        from model.errors import EngineError

        raise EngineError(_state.error)
    outcomes = []
    for task in tasks:
        began = time.perf_counter()
        try:
            image = _image(task)
            height, width = image.shape[:2]
            if task.size != (0, 0) and task.size != (height, width):
                raise ValueError(f"{task.media}: is {width}x{height}, the project says {task.size[1]}x{task.size[0]}")
            made = _instances(task, image)
        except Exception as error:  # one bad item must not stop the run: it is reported and skipped
            reason = str(error) or type(error).__name__
            if task.media not in reason:
                reason = f"{task.media}: {reason}"
            log.warning("%s (frame %d): %s", task.media, task.frame, reason)
            outcomes.append(Outcome(task.item_id, task.frame, "failed", (), reason, time.perf_counter() - began))
            continue
        outcomes.append(Outcome(task.item_id, task.frame, "done", tuple(made), None, time.perf_counter() - began))
    return outcomes
