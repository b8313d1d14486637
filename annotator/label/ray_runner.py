"""The labelling job on a Ray cluster (`--ray ADDRESS`, the optional `annotator[ray]` extra).

Ray Data runs the same worker code as the local pool: an actor pool (ActorPoolStrategy, one engine
per actor, `num_gpus` per actor when asked), each actor reading its own images (a Ray read task
would need a CPU that actors holding every CPU of a small cluster never free). The driver streams
the outcomes back with `iter_batches` and alone writes the project, one transaction per batch, so
resuming works as with the pool. Ray restarts a dead actor and retries its batch (at least once);
a batch delivered twice is written once.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from annotator.label import worker
from annotator.label.spec import EngineChoice, Outcome, PromptSpec, Task
from model.errors import EngineError

log = logging.getLogger(__name__)


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise EngineError(f"--ray needs Ray Data: pip install 'annotator[ray]' ({error})") from None
    return ray


def connect(address: str, cpus: int) -> Any:
    """Join the cluster at `address` ('local': start one here with `cpus` CPUs); returns the ray module."""
    ray = _ray()
    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the run draws its own
    return ray


class LabelActor:
    """One Ray Data actor: builds its engine once, labels one of our batches per call."""

    def __init__(self, engine: EngineChoice, prompt: PromptSpec, threads: int) -> None:
        worker.start(engine, prompt, threads, in_pool=False)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Label each pickled batch of tasks; the outcomes go back pickled, keyed by batch index."""
        outcomes = [pickle.dumps(worker.label_batch(pickle.loads(blob))) for blob in batch["tasks"]]
        return {"index": np.asarray(batch["index"]), "outcomes": np.array(outcomes, dtype=object)}


def describe(ray: Any, engine: EngineChoice, prompt: PromptSpec, threads: int, gpus: float) -> tuple[str, dict]:
    """The model id and steps of the engine as a cluster worker builds it."""

    def probe() -> tuple[str, dict[str, bool]]:
        worker.start(engine, prompt, threads, in_pool=False)
        return worker.describe()

    return ray.get(ray.remote(num_cpus=threads, num_gpus=gpus)(probe).remote())


def drive(
    ray: Any,
    batches: Iterator[list[Task]],
    engine: EngineChoice,
    prompt: PromptSpec,
    workers: int,
    threads: int,
    gpus: float,
    written: Callable[[list[Outcome]], None],
) -> None:
    """Label every batch on an actor pool of `workers` actors and hand each outcome list to `written`."""
    rows = [{"index": index, "tasks": pickle.dumps(batch)} for index, batch in enumerate(batches)]
    if not rows:
        return
    dataset = ray.data.from_items(rows).map_batches(
        LabelActor,
        fn_constructor_kwargs={"engine": engine, "prompt": prompt, "threads": threads},
        compute=ray.data.ActorPoolStrategy(size=workers),
        batch_size=1,
        num_cpus=threads,
        num_gpus=gpus or None,
    )
    seen: set[int] = set()
    for result in dataset.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=1):
        for index, blob in zip(result["index"], result["outcomes"], strict=True):
            if int(index) in seen:  # retried by Ray after it was delivered: written once
                continue
            seen.add(int(index))
            written(pickle.loads(blob))
