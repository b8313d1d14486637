"""Run a labelling job over a project's items: on a pool of worker processes, resumable, as proposals.

The parent alone writes the project. Each batch of outcomes is one transaction: its proposals
(AddProposals, joining the run) and the per-item completion rows (label_items: done with N
instances, zero included, or failed with why). A run is found again by its fingerprint, so the same
command after a crash, Ctrl-C or SIGKILL does only the work not yet recorded; what was in flight
when it stopped (at most the batches submitted and not yet written) is done again.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from annotator.document import AddProposals, AddRun, Batch, Found, Mask, Project
from annotator.document.model import Run
from annotator.errors import ProjectError
from annotator.io.matching import media_file
from annotator.label import worker
from annotator.label.spec import STEP_OF, EngineChoice, Outcome, PromptSpec, Task, fingerprint
from model.errors import EngineError

log = logging.getLogger(__name__)

NEEDS = {
    "everything": "an engine with 'everything' (classic, SAM, SAM 2.1)",
    "find": "an engine with 'find' (SAM 3)",
    "predict": "an engine that predicts from a box (every engine)",
}


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(engine: str) -> int:
    """Workers for `engine` when not given: every core for the light classic engine, a quarter of
    them (each with several threads) for a model with weights."""
    return cores() if engine == "classic" else max(1, cores() // 4)


@dataclass(frozen=True)
class LabelJob:
    """What to run: engine, prompt, pool size, batch size and which work to skip.

    boxes: for a 'boxes' prompt, (item id, frame) -> its boxes (label id, x0, y0, x1, y1);
    item_ids: label only these items (None: all); only_unlabelled: skip items with any object.
    """

    engine: EngineChoice
    prompt: PromptSpec
    workers: int = 1
    threads: int | None = None
    batch_size: int = 8
    only_unlabelled: bool = False
    item_ids: frozenset[int] | None = None
    ray: str | None = None
    """A Ray cluster's address ('local': start one here) to run on instead of the local pool."""
    gpus: float = 0.0
    """GPUs per Ray actor (fractions share a GPU)."""
    boxes: dict[tuple[int, int], tuple[tuple[int | None, float, float, float, float], ...]] = field(
        default_factory=dict
    )


@dataclass
class Summary:
    """What a run did: work units to do and done, instances proposed, failures, time."""

    run: Run | None = None
    model: str = ""
    total: int = 0
    already_done: int = 0
    skipped_labelled: int = 0
    done: int = 0
    failed: int = 0
    instances: int = 0
    batches: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def rate(self) -> float:
        """Work units (images or frames) per second of this session."""
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict:
        """The summary as a JSON object."""
        return {
            "run": self.run.id if self.run else None,
            "model": self.model,
            "todo": self.total,
            "already_done": self.already_done,
            "skipped_labelled": self.skipped_labelled,
            "done": self.done,
            "failed": self.failed,
            "instances": self.instances,
            "seconds": round(self.seconds, 3),
            "items_per_s": round(self.rate, 3),
            "interrupted": self.interrupted,
        }


Report = Callable[[Summary, list[Outcome]], None]
"""Called after each batch is written, with the running summary and that batch's outcomes."""


def find_run(project: Project, digest: str) -> Run | None:
    """The project's labelling run with this fingerprint, or None."""
    for run in project.runs:
        try:
            settings = json.loads(run.settings)
        except ValueError:
            continue
        if isinstance(settings, dict) and settings.get("fingerprint") == digest:
            return run
    return None


def _tasks(project: Project, job: LabelJob, statuses: dict[tuple[int, int], str], summary: Summary) -> Iterator[Task]:
    """The work not yet done, item by item and frame by frame (counting what is skipped)."""
    store = project.store
    labelled = store.items_with_objects() if (job.only_unlabelled and store is not None) else set()
    for item in project.items:
        if job.item_ids is not None and item.id not in job.item_ids:
            continue
        frames = range(item.frame_count if item.kind == "video" else 1)
        if job.prompt.kind == "boxes":
            frames = [f for f in frames if (item.id, f) in job.boxes]
        if item.id in labelled:
            summary.skipped_labelled += len(frames)
            continue
        media = str(media_file(project, item.path))
        for frame in frames:
            if statuses.get((item.id, frame)) == "done":
                summary.already_done += 1
                continue
            boxes = job.boxes.get((item.id, frame), ())
            yield Task(item.id, frame, media, item.kind, (item.height, item.width) if item.width else (0, 0), boxes)


def _batches(tasks: Iterator[Task], size: int) -> Iterator[list[Task]]:
    batch: list[Task] = []
    for task in tasks:
        batch.append(task)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_outcomes(project: Project, run: Run, outcomes: list[Outcome]) -> int:
    """Write one batch in one transaction: its proposals and its completion rows; returns the instances."""
    store = project.store
    if store is None:
        raise ProjectError("<memory>", "a labelling run needs a project file")
    adds, rows, count = [], [], 0
    for outcome in outcomes:
        if outcome.status == "done" and outcome.made:
            found = tuple(
                Found(Mask.from_rle({"size": [m.height, m.width], "counts": m.counts}), m.score, m.phrase, m.label_id)
                for m in outcome.made
            )
            adds.append(AddProposals(outcome.item_id, found, run.source, frame=outcome.frame, run_id=run.id))
            count += len(found)
        made = len(outcome.made) if outcome.status == "done" else 0
        rows.append((outcome.item_id, outcome.frame, outcome.status, made, outcome.error, outcome.seconds))
    with store.transaction():
        if adds:
            project.execute(Batch(tuple(adds), "Pre-label"))
            if project.unsaved:
                raise ProjectError(store.path, "could not save the batch; the run stops (run it again to resume)")
        store.write_label_items(run.id, rows)
    project.history.clear()  # a long run keeps no undo history: memory stays flat
    project.release(sorted({o.item_id for o in outcomes}))
    return count


def _check_engine(name: str, kind: str, steps: dict[str, bool]) -> None:
    step = STEP_OF[kind]
    if not steps.get(step, False):
        raise EngineError(f"engine '{name}' cannot do this: the prompt needs {NEEDS[step]}; choose one with --engine")


MAX_RESTARTS = 3
"""A run stops (resumable) when its worker processes died more often than this."""


class _Pool:
    """The worker processes (spawned, each with its own engine), restartable when one dies."""

    def __init__(self, workers: int, job: LabelJob, threads: int) -> None:
        self._args = (workers, multiprocessing.get_context("spawn"), worker.start, (job.engine, job.prompt, threads))
        self.executor = ProcessPoolExecutor(*self._args)

    def restart(self) -> ProcessPoolExecutor:
        """A fresh pool in place of a broken one."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = ProcessPoolExecutor(*self._args)
        return self.executor

    def shutdown(self) -> None:
        """Stop the workers (batches not started are dropped)."""
        self.executor.shutdown(wait=True, cancel_futures=True)


def label(project: Project, job: LabelJob, report: Report | None = None) -> Summary:
    """Run `job` over the project's items (resuming its run when one has the same fingerprint)."""
    workers = max(1, job.workers)
    threads = job.threads or max(1, cores() // workers)
    began = time.perf_counter()
    pool = _Pool(workers, job, threads) if workers > 1 and job.ray is None else None
    summary = Summary()
    ray = None
    try:
        if job.ray is not None:
            from annotator.label import ray_runner

            ray = ray_runner.connect(job.ray, cores())
            model_id, steps = ray_runner.describe(ray, job.engine, job.prompt, threads, job.gpus)
        elif pool is None:
            worker.start(job.engine, job.prompt, threads, in_pool=False)
            model_id, steps = worker.describe()
        else:
            model_id, steps = pool.executor.submit(worker.describe).result()
        _check_engine(job.engine.name, job.prompt.kind, steps)
        digest, settings = fingerprint(job.engine, model_id, job.prompt)
        run = find_run(project, digest)
        if run is None:
            text = json.dumps({"fingerprint": digest, **settings})
            run = project.execute(AddRun(job.prompt.source, job.engine.name, model_id, text))
            project.history.clear()
        summary.run, summary.model = run, model_id
        assert project.store is not None
        statuses = project.store.label_statuses(run.id)
        summary.total = sum(1 for _ in _tasks(project, job, statuses, Summary()))
        batches = _batches(_tasks(project, job, statuses, summary), job.batch_size)
        try:
            _drive(project, run, batches, pool, workers, summary, report, (ray, job, threads))
        except KeyboardInterrupt:
            summary.interrupted = True
            log.warning("interrupted: what was written stays; run the same command again to resume")
        summary.errors = [
            f"{media_file(project, project.item(i).path)} (frame {f}): {why}"
            if project.item(i).kind == "video"
            else why
            for i, f, why in project.store.label_failures(run.id)
        ]
    finally:
        if pool is not None:
            pool.shutdown()
        if ray is not None:
            ray.shutdown()  # leaves a cluster it joined running; stops one it started ('local')
    summary.seconds = time.perf_counter() - began
    return summary


def _drive(
    project: Project,
    run: Run,
    batches: Iterator[list[Task]],
    pools: _Pool | None,
    workers: int,
    summary: Summary,
    report: Report | None,
    on_ray: tuple[Any, LabelJob, int],
) -> None:
    """Compute and write the batches: in this process, on Ray, or with at most 2 per worker in flight."""

    def written(outcomes: list[Outcome]) -> None:
        summary.instances += write_outcomes(project, run, outcomes)
        summary.done += sum(o.status == "done" for o in outcomes)
        summary.failed += sum(o.status == "failed" for o in outcomes)
        summary.batches += 1
        if report is not None:
            report(summary, outcomes)

    ray, job, threads = on_ray
    if ray is not None:
        from annotator.label import ray_runner

        ray_runner.drive(ray, batches, job.engine, job.prompt, workers, threads, job.gpus, written)
        return
    if pools is None:
        for batch in batches:
            written(worker.label_batch(batch))
        return
    pool = pools.executor
    in_flight: dict[Future, list[Task]] = {}
    limit = 2 * workers
    exhausted = False
    restarts = 0
    while True:
        while not exhausted and len(in_flight) < limit:
            batch = next(batches, None)
            if batch is None:
                exhausted = True
                break
            in_flight[pool.submit(worker.label_batch, batch)] = batch
        if not in_flight:
            return
        finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        try:
            for future in finished:
                outcomes = future.result()
                del in_flight[future]
                written(outcomes)
        except BrokenProcessPool as error:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise EngineError(f"worker processes died {restarts} times ({error}); run again to resume") from None
            log.warning("a worker process died (%s); restarting the pool and redoing its batches", error)
            pool = pools.restart()
            in_flight = {pool.submit(worker.label_batch, batch): batch for batch in in_flight.values()}
