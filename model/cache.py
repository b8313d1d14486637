"""Embedding cache: in memory (LRU bounded by bytes) and on disk, keyed by image content + model.

The disk part lives under `model.paths.cache_dir() / "embeddings"`, one .npz file per entry,
written atomically, so another process (or the next session) reuses it. Like the engine, a
cache is used from one thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from model.paths import cache_dir
from model.protocol import Embedding, Engine, check_image

log = logging.getLogger(__name__)

_PREFIX = "data__"


def embedding_key(image: np.ndarray, model_id: str) -> str:
    """Cache key: hash of the image's pixels, shape and dtype, plus the model id."""
    array = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{model_id}|{array.shape}|{array.dtype}|".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def embedding_nbytes(embedding: Embedding) -> int:
    """Bytes held by an embedding's arrays."""
    return int(sum(np.asarray(a).nbytes for a in embedding.data.values()))


class EmbeddingCache:
    """Memory LRU (at most `max_bytes`) in front of a disk store (at most `max_disk_bytes`)."""

    def __init__(
        self, max_bytes: int = 512 << 20, folder: Path | None = None, max_disk_bytes: int = 4 << 30, disk: bool = True
    ) -> None:
        self.max_bytes = max_bytes
        self.max_disk_bytes = max_disk_bytes
        self.folder = (folder or cache_dir() / "embeddings") if disk else None
        self._memory: OrderedDict[str, Embedding] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.disk_hits = self.misses = 0

    @property
    def memory_bytes(self) -> int:
        """Bytes held in memory now."""
        return self._bytes

    def __contains__(self, key: str) -> bool:
        if key in self._memory:
            return True
        path = self._path(key)
        return path is not None and path.is_file()

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> Embedding | None:
        """The cached embedding for `key` (memory, else disk), or None."""
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
                self.hits += 1
                return found
        found = self._load(key)
        if found is None:
            self.misses += 1
            return None
        self.disk_hits += 1
        self._remember(key, found)
        return found

    def put(self, key: str, embedding: Embedding, disk: bool = True) -> None:
        """Keep `embedding` under `key` in memory and (unless disk=False) on disk."""
        self._remember(key, embedding)
        if disk:
            self._save(key, embedding)

    def get_or_embed(self, engine: Engine, image: np.ndarray) -> Embedding:
        """The embedding of `image` by `engine`, from the cache when it holds one."""
        image = check_image(image)
        key = embedding_key(image, engine.model_id)
        found = self.get(key)
        if found is None:
            found = engine.embed(image)
            self.put(key, found)
        return found

    def prefetch(
        self,
        engine: Engine,
        images: Iterable[np.ndarray | Callable[[], np.ndarray]],
        cancel: threading.Event | None = None,
    ) -> int:
        """Embed the upcoming images that the cache lacks (call it on the engine's thread); returns how many."""
        done = 0
        for item in images:
            if cancel is not None and cancel.is_set():
                break
            image = check_image(item() if callable(item) else item)
            key = embedding_key(image, engine.model_id)
            if key not in self:
                self.put(key, engine.embed(image))
                done += 1
        return done

    def clear_memory(self) -> None:
        """Drop the memory part (the disk part stays)."""
        with self._lock:
            self._memory.clear()
            self._bytes = 0

    def _remember(self, key: str, embedding: Embedding) -> None:
        size = embedding_nbytes(embedding)
        with self._lock:
            if key in self._memory:
                self._bytes -= embedding_nbytes(self._memory.pop(key))
            if size > self.max_bytes:
                return
            self._memory[key] = embedding
            self._bytes += size
            while self._bytes > self.max_bytes and self._memory:
                _, dropped = self._memory.popitem(last=False)
                self._bytes -= embedding_nbytes(dropped)

    def _save(self, key: str, embedding: Embedding) -> None:
        path = self._path(key)
        if path is None:
            return
        arrays = {_PREFIX + name: np.asarray(value) for name, value in embedding.data.items()}
        arrays["model_id"] = np.array(embedding.model_id)
        arrays["image_size"] = np.array(embedding.image_size, np.int64)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
            with open(temporary, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(temporary, path)
        except OSError as error:
            log.warning("could not write the embedding cache file %s: %s", path, error)
            return
        self._prune()

    def _load(self, key: str) -> Embedding | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                data = {name[len(_PREFIX) :]: stored[name] for name in stored.files if name.startswith(_PREFIX)}
                model_id = str(stored["model_id"])
                image_size = tuple(int(v) for v in stored["image_size"])
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring the unreadable embedding cache file %s: %s", path, error)
            return None
        nbytes = int(sum(a.nbytes for a in data.values()))
        return Embedding(model_id, image_size, data, nbytes)  # type: ignore[arg-type]

    def _prune(self) -> None:
        """Delete the least recently written files while the disk part is over its bound."""
        if self.folder is None:
            return
        files = []
        for path in self.folder.glob("*/*.npz"):
            try:
                stat = path.stat()
            except OSError:  # removed by another process meanwhile
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
