"""The embedding cache: LRU by bytes in memory, files on disk, reuse by another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from model.cache import EmbeddingCache, embedding_key
from model.classic.engine import ClassicEngine
from model.protocol import Embedding

REPO = Path(__file__).resolve().parents[2]


def blob(nbytes: int, value: int = 0) -> Embedding:
    return Embedding("m", (1, 1), {"a": np.full(nbytes, value, np.uint8)}, nbytes)


class CountingEngine(ClassicEngine):
    """The classic engine, counting its embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embeds = 0

    def embed(self, image: np.ndarray) -> Embedding:
        self.embeds += 1
        return super().embed(image)


def test_key_depends_on_content_model_and_size() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    other = image.copy()
    other[0, 0, 0] = 1
    keys = {
        embedding_key(image, "a"),
        embedding_key(other, "a"),
        embedding_key(image, "b"),
        embedding_key(image.reshape(6, 4, 3), "a"),
    }
    assert len(keys) == 4 and embedding_key(image.copy(), "a") == embedding_key(image, "a")


def test_memory_is_an_lru_bounded_by_bytes() -> None:
    cache = EmbeddingCache(max_bytes=250, disk=False)
    for name in "abc":
        cache.put(name, blob(100))
    assert cache.get("a") is None and cache.memory_bytes == 200  # a was evicted
    assert cache.get("b") is not None  # b is now the most recent
    cache.put("d", blob(100))
    assert cache.get("c") is None and cache.get("b") is not None
    cache.put("huge", blob(1000))  # larger than the bound: not kept in memory
    assert cache.get("huge") is None and cache.memory_bytes <= 250


def test_disk_round_trip_and_bad_files(tmp_path: Path) -> None:
    cache = EmbeddingCache(folder=tmp_path)
    cache.put("k1", blob(10, 7))
    fresh = EmbeddingCache(folder=tmp_path)
    found = fresh.get("k1")
    assert found is not None and found.model_id == "m" and found.image_size == (1, 1)
    assert np.array_equal(found.data["a"], np.full(10, 7, np.uint8)) and fresh.disk_hits == 1
    path = next(tmp_path.glob("*/k1.npz"))
    path.write_bytes(b"garbage")
    assert EmbeddingCache(folder=tmp_path).get("k1") is None  # unreadable: a miss, not a crash


def test_disk_part_is_pruned_to_its_bound(tmp_path: Path) -> None:
    cache = EmbeddingCache(folder=tmp_path, max_disk_bytes=3000)
    for index in range(10):
        cache.put(f"key{index}", blob(1000, index))
    assert sum(p.stat().st_size for p in tmp_path.glob("*/*.npz")) <= 3000


def test_get_or_embed_and_prefetch(tmp_path: Path) -> None:
    engine = CountingEngine()
    cache = EmbeddingCache(folder=tmp_path)
    images = [np.full((30, 40, 3), v, np.uint8) for v in (10, 20, 30)]
    assert cache.prefetch(engine, [images[0], lambda: images[1]]) == 2
    assert engine.embeds == 2
    cache.get_or_embed(engine, images[1])
    assert engine.embeds == 2
    cache.get_or_embed(engine, images[2])
    assert engine.embeds == 3


def test_a_second_process_reuses_the_disk_cache(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        from model.cache import EmbeddingCache
        from model.classic.engine import ClassicEngine
        calls = []
        class Engine(ClassicEngine):
            def embed(self, image):
                calls.append(1)
                return super().embed(image)
        image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
        cache = EmbeddingCache()
        embedding = cache.get_or_embed(Engine(), image)
        print(json.dumps({"embeds": len(calls), "disk_hits": cache.disk_hits,
                          "sum": float(sum(v.astype(float).sum() for v in embedding.data.values()))}))
        """
    )
    env = {**os.environ, "ANNOTATOR_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    runs = [
        json.loads(
            subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
        )
        for _ in range(2)
    ]
    assert runs[0]["embeds"] == 1 and runs[0]["disk_hits"] == 0
    assert runs[1]["embeds"] == 0 and runs[1]["disk_hits"] == 1
    assert runs[0]["sum"] == runs[1]["sum"]
    assert list(tmp_path.glob("embeddings/*/*.npz"))
