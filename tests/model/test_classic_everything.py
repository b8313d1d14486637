"""Classic "segment everything": proposals of a synthetic scene and of the shared images, settings, cancel."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.evaluation.bench import synthetic_scene
from annotator.evaluation.metrics import iou
from model import registry
from model.classic.engine import ClassicEngine
from model.errors import Cancelled, EngineError
from model.masks import fill_small
from model.protocol import Embedding, EverythingSettings, ProposalMaker, supports


@pytest.fixture(scope="module")
def engine() -> ClassicEngine:
    return registry.create("classic")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_scene((240, 320), seed=3)


def test_classic_offers_everything(engine: ClassicEngine) -> None:
    assert supports(engine, "everything") and isinstance(engine, ProposalMaker)
    assert not supports(engine, "find")


def test_proposals_find_the_object_best_first(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, gt = scene
    calls: list[tuple[int, int]] = []
    proposals = engine.everything(engine.embed(image), progress=lambda done, total: calls.append((done, total)))
    assert proposals
    scores = [p.score for p in proposals]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    best = max(iou(p.mask, gt) for p in proposals)
    assert best > 0.8
    # The object is among the first few, not only somewhere in the list.
    assert max(iou(p.mask, gt) for p in proposals[:5]) > 0.7
    for p in proposals:
        assert p.mask.shape == gt.shape and p.mask.dtype == bool and p.mask.any()
        ys, xs = np.nonzero(p.mask)
        assert p.box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


def test_settings_are_respected(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, _ = scene
    embedding = engine.embed(image)
    settings = EverythingSettings(points_per_side=16, nms_iou=0.5, min_area=2000)
    proposals = engine.everything(embedding, settings)
    assert proposals and all(p.mask.sum() >= 2000 for p in proposals)
    for i, a in enumerate(proposals):
        for b in proposals[i + 1 :]:
            # NMS ran on the grid; upsampling moves the overlap a little.
            assert iou(a.mask, b.mask) <= 0.55
    coarse = engine.everything(embedding, EverythingSettings(points_per_side=8, min_area=0))
    fine = engine.everything(embedding, EverythingSettings(points_per_side=32, min_area=0))
    assert len(coarse) < len(fine)


def test_cancel_raises(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, _ = scene
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        engine.everything(engine.embed(image), cancel=cancel)


def test_cancel_midway(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, _ = scene
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > total // 4:
            cancel.set()

    with pytest.raises(Cancelled):
        engine.everything(engine.embed(image), cancel=cancel, progress=progress)


def test_foreign_embedding_is_refused(engine: ClassicEngine) -> None:
    with pytest.raises(EngineError, match="embedding of model"):
        engine.everything(Embedding("sam2.1-tiny", (10, 10), {}))


def test_flat_image_gives_nothing(engine: ClassicEngine) -> None:
    assert engine.everything(engine.embed(np.full((50, 60, 3), 128, np.uint8))) == []


def test_flat_objects_on_a_white_background(engine: ClassicEngine) -> None:
    """A product photo: each flat object is one region at the top (the flat background is joined first)."""
    image = np.full((540, 960, 3), 245, np.uint8)
    circle, square = np.zeros((540, 960), np.uint8), np.zeros((540, 960), np.uint8)
    cv2.circle(circle, (300, 250), 100, 1, -1)
    cv2.rectangle(square, (550, 150), (750, 400), 1, -1)
    image[circle > 0] = (200, 30, 30)
    image[square > 0] = (30, 90, 200)
    image = np.clip(image + np.random.default_rng(0).normal(0, 2, image.shape), 0, 255).astype(np.uint8)
    proposals = engine.everything(engine.embed(image))
    for truth in (circle > 0, square > 0):
        assert max(iou(p.mask, truth) for p in proposals[:3]) > 0.85


def test_fill_small_removes_islands_and_holes() -> None:
    mask = np.zeros((40, 40), bool)
    mask[5:30, 5:30] = True
    mask[10:12, 10:12] = False  # a 4-pixel hole
    mask[35:37, 35:37] = True  # a 4-pixel island
    filled = fill_small(mask, 10)
    assert filled is not None
    assert filled[10:12, 10:12].all() and not filled[35:37, 35:37].any()
    assert fill_small(mask[33:, 33:], 10) is None


@pytest.mark.data
@pytest.mark.slow
def test_shared_images_have_a_matching_proposal(engine: ClassicEngine, shared_data: Path) -> None:
    """On the 18 shared images the best proposal matches the ground-truth object at IoU >= 0.6 on average."""
    best = []
    for path in sorted((shared_data / "images").iterdir()):
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(shared_data / "masks" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        ignore_path = shared_data / "ignore" / f"{path.stem}.png"
        ignore = cv2.imread(str(ignore_path), cv2.IMREAD_GRAYSCALE) > 127 if ignore_path.exists() else None
        proposals = engine.everything(engine.embed(image))
        best.append(max(iou(p.mask, gt, ignore) for p in proposals))
    assert float(np.mean(best)) >= 0.6


def test_fill_small_matches_whole_image_components() -> None:
    """Cropping to the mask's box changes nothing against connected components over the whole image."""
    rng = np.random.default_rng(5)
    for _ in range(60):
        # Blobs in a window that may or may not reach the image's edges.
        seeds = np.zeros((40, 50), bool)
        y0, x0 = rng.integers(0, 20, 2)
        y1, x1 = y0 + rng.integers(5, 25), x0 + rng.integers(5, 35)
        seeds[y0:y1, x0:x1] = rng.random((min(y1, 40) - y0, min(x1, 50) - x0)) > 0.8
        mask = cv2.dilate(seeds.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        min_area = int(rng.integers(1, 30))
        expected = mask.copy()
        count, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
        # The outside of the whole mask (the largest background part) is never a hole.
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] < min_area:
                expected |= labels == i
        count, labels, stats, _ = cv2.connectedComponentsWithStats(expected.astype(np.uint8), connectivity=8)
        expected = np.isin(labels, [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area])
        got = fill_small(mask, min_area)
        assert np.array_equal(got if got is not None else np.zeros_like(mask), expected)
