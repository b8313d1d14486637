"""EngineBridge: the one QThread that owns the engine; the GUI thread never waits on it.

Requests carry ids and go into a priority queue (engine changes and embeddings of the image on
screen first, then interactive predictions, then prefetches and long jobs). Interactive requests
with the same `coalesce` tag replace each other while pending (latest wins), so a box drag never
queues stale work. Long jobs are generators that check a threading.Event between steps.
Results come back as past-tense signals; exceptions become `errored`, never a crash.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from model import registry
from model.cache import EmbeddingCache, embedding_key
from model.protocol import Embedding, Engine, Prompt, check_image, supports

log = logging.getLogger(__name__)

DISK_CACHE_AFTER_S = 0.25  # embeddings slower than this to compute are also kept on disk
Quick = Literal["none", "first", "only"]
PRIORITY_ENGINE, PRIORITY_EMBED, PRIORITY_INTERACTIVE, PRIORITY_PREFETCH, PRIORITY_JOB = range(5)


@dataclass(order=True)
class _Request:
    priority: int
    seq: int
    id: int = field(compare=False)
    kind: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False, default_factory=dict)
    coalesce: str | None = field(compare=False, default=None)
    cancelled: bool = field(compare=False, default=False)


class _Worker(QThread):
    """Runs requests one at a time on its own thread."""

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge

    def run(self) -> None:
        """Serve the queue until the bridge stops."""
        bridge = self.bridge
        while True:
            request = bridge._take()
            if request is None:
                return
            try:
                bridge._serve(request)
            except Exception as error:  # every failure becomes a message for the user
                log.exception("engine request %s (%s) failed", request.id, request.kind)
                bridge.errored.emit(request.id, request.kind, str(error) or type(error).__name__)
            bridge._pass_on_warnings()


class EngineBridge(QObject):
    """Asynchronous façade over an engine living on a worker thread."""

    engine_ready = Signal(str, str, str)  # engine name, model id, device
    embedded = Signal(int, object, float)  # request id, key, milliseconds
    predicted = Signal(int, object, object, float)  # request id, key, Prediction, milliseconds
    previewed = Signal(int, object, object, float)  # request id, key, quick first Prediction, milliseconds
    job_yielded = Signal(int, object)  # job id, one result of the generator
    job_finished = Signal(int, bool)  # job id, cancelled
    errored = Signal(int, str, str)  # request id, request kind, message
    warned = Signal(str, str)  # engine warning (e.g. out of memory: moved to the CPU), device now
    busy_changed = Signal(bool)

    def __init__(
        self,
        factory: Callable[..., Engine] = registry.create,
        cache_size: int = 6,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = factory
        self._engine: Engine | None = None
        self._embeddings: OrderedDict[Any, Embedding] = OrderedDict()
        # What each key was embedded from (an image or a loader), so that a prediction whose
        # embedding is gone (another engine was loaded, or the LRU dropped it) embeds it again.
        self._sources: OrderedDict[Any, np.ndarray | Callable[[], np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        self._cache = EmbeddingCache()
        self._cond = threading.Condition()
        self._heap: list[_Request] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._stopping = False
        self._jobs: dict[int, threading.Event] = {}
        self._warnings_seen = 0
        self._worker = _Worker(self)
        self._worker.start()

    # -- public API (GUI thread) -----------------------------------------------------------------
    def set_engine(self, name: str, **options: Any) -> int:
        """Load engine `name` (options such as device go to its factory)."""
        return self._submit(PRIORITY_ENGINE, "engine", {"name": name, "options": options}, coalesce="engine")

    def embed(
        self,
        key: Any,
        image: np.ndarray | Callable[[], np.ndarray],
        prefetch: bool = False,
        coalesce: str | None = None,
    ) -> int:
        """Compute (or reuse) the embedding of `image` (or of what a loader returns) under `key`."""
        priority = PRIORITY_PREFETCH if prefetch else PRIORITY_EMBED
        with self._cond:
            self._sources[key] = image
            self._sources.move_to_end(key)
            while len(self._sources) > 2 * self._cache_size:
                self._sources.popitem(last=False)
        return self._submit(priority, "embed", {"key": key, "image": image}, coalesce=coalesce)

    def predict(self, key: Any, prompt: Prompt, coalesce: str | None = None, quick: Quick = "none") -> int:
        """Masks for `prompt` on the image embedded under `key`; same `coalesce` tags replace each other.

        With an engine that has a `preview` step, quick="first" emits its quick mask (previewed)
        before the full prediction, and quick="only" answers with the quick mask alone (predicted).
        """
        payload = {"key": key, "prompt": prompt, "quick": quick}
        return self._submit(PRIORITY_INTERACTIVE, "predict", payload, coalesce=coalesce)

    def run_job(self, make: Callable[[Engine, threading.Event], Iterator[Any]]) -> int:
        """Run a long generator job `make(engine, cancel)`; each yielded value arrives via job_yielded."""
        cancel = threading.Event()
        request_id = self._submit(PRIORITY_JOB, "job", {"make": make, "cancel": cancel})
        self._jobs[request_id] = cancel
        return request_id

    def cancel(self, request_id: int) -> None:
        """Cancel a pending request, or ask a running job to stop after its current step."""
        if request_id in self._jobs:
            self._jobs[request_id].set()
        with self._cond:
            for request in self._heap:
                if request.id == request_id:
                    request.cancelled = True

    def embedding_for(self, key: Any, image: np.ndarray | Callable[[], np.ndarray]) -> Embedding:
        """The embedding under `key`, made from `image` when missing; call it only on the engine
        thread, from inside a job (a Find or Everything run on the image on screen)."""
        with self._cond:
            cached = self._embeddings.get(key)
        if cached is None:
            self._embed_now(0, key, image)
            with self._cond:
                cached = self._embeddings[key]
        return cached

    def has_embedding(self, key: Any) -> bool:
        """True when `key` has been embedded (a cheap, thread-safe look)."""
        with self._cond:
            return key in self._embeddings

    def stop(self, wait_ms: int = 5000) -> None:
        """Stop the worker thread (cancelling running jobs)."""
        for cancel in self._jobs.values():
            cancel.set()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._worker.wait(wait_ms)

    @property
    def engine(self) -> Engine | None:
        """The loaded engine (read its attributes only; call it only through requests)."""
        return self._engine

    # -- queue ------------------------------------------------------------------------------------
    def _submit(self, priority: int, kind: str, payload: dict[str, Any], coalesce: str | None = None) -> int:
        request = _Request(priority, next(self._seq), next(self._ids), kind, payload, coalesce)
        with self._cond:
            if coalesce is not None:
                for pending in self._heap:
                    if pending.coalesce == coalesce:
                        pending.cancelled = True
            heapq.heappush(self._heap, request)
            self._cond.notify()
        return request.id

    def _take(self) -> _Request | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                while self._heap and self._heap[0].cancelled:
                    heapq.heappop(self._heap)
                if self._heap:
                    return heapq.heappop(self._heap)
                self.busy_changed.emit(False)
                self._cond.wait()

    # -- serving (worker thread) -------------------------------------------------------------------
    def _serve(self, request: _Request) -> None:
        self.busy_changed.emit(True)
        payload = request.payload
        if request.kind == "engine":
            engine = self._factory(payload["name"], **payload["options"])
            with self._cond:
                self._engine = engine
                self._embeddings.clear()
            self._warnings_seen = len(getattr(engine, "warnings", None) or [])
            self.engine_ready.emit(payload["name"], engine.model_id, engine.device)
        elif request.kind == "embed":
            self._serve_embed(request)
        elif request.kind == "predict":
            engine = self._require_engine()
            with self._cond:
                embedding = self._embeddings.get(payload["key"])
                source = self._sources.get(payload["key"])
            if embedding is None and source is not None:
                self._embed_now(request.id, payload["key"], source)
                with self._cond:
                    embedding = self._embeddings.get(payload["key"])
            if embedding is None:
                raise RuntimeError("this image was never given to the engine; open it again")
            started = time.perf_counter()
            quick = payload.get("quick", "none")
            if quick != "none" and supports(engine, "preview"):
                first = engine.preview(embedding, payload["prompt"])  # type: ignore[attr-defined]
                ms = (time.perf_counter() - started) * 1000
                if quick == "only":
                    self.predicted.emit(request.id, payload["key"], first, ms)
                    return
                self.previewed.emit(request.id, payload["key"], first, ms)
                started = time.perf_counter()
            prediction = engine.predict(embedding, payload["prompt"])
            self.predicted.emit(request.id, payload["key"], prediction, (time.perf_counter() - started) * 1000)
        elif request.kind == "job":
            self._serve_job(request)

    def _serve_embed(self, request: _Request) -> None:
        self._embed_now(request.id, request.payload["key"], request.payload["image"])

    def _embed_now(self, request_id: int, key: Any, image: np.ndarray | Callable[[], np.ndarray]) -> None:
        engine = self._require_engine()
        started = time.perf_counter()
        with self._cond:
            cached = self._embeddings.get(key)
        if cached is None:
            image = check_image(image() if callable(image) else image)
            content_key = embedding_key(image, engine.model_id)
            cached = self._cache.get(content_key)
            if cached is None:
                cached = engine.embed(image)
                # Only embeddings that were slow to make are worth a file for the next session.
                slow = time.perf_counter() - started > DISK_CACHE_AFTER_S
                self._cache.put(content_key, cached, disk=slow)
        with self._cond:
            self._embeddings[key] = cached
            self._embeddings.move_to_end(key)
            while len(self._embeddings) > self._cache_size:
                self._embeddings.popitem(last=False)
        self.embedded.emit(request_id, key, (time.perf_counter() - started) * 1000)

    def _serve_job(self, request: _Request) -> None:
        cancel: threading.Event = request.payload["cancel"]
        try:
            for value in request.payload["make"](self._require_engine(), cancel):
                self.job_yielded.emit(request.id, value)
                if cancel.is_set():
                    break
        except Exception as error:  # reported before job_finished, so listeners still know the job
            log.exception("job %s failed", request.id)
            self.errored.emit(request.id, request.kind, str(error) or type(error).__name__)
        finally:
            self._jobs.pop(request.id, None)
            self.job_finished.emit(request.id, cancel.is_set())

    def _pass_on_warnings(self) -> None:
        """Emit the warnings the engine added while serving (engines keep them in `warnings`)."""
        warnings = getattr(self._engine, "warnings", None) or []
        for message in warnings[self._warnings_seen :]:
            self.warned.emit(message, str(getattr(self._engine, "device", "")))
        self._warnings_seen = len(warnings)

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("no engine is loaded")
        return self._engine
