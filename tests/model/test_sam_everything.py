"""Segment everything for SAM, SAM 2.1 and the SAM 3 tracker (tiny random models through the registry),
and the torch box NMS against a plain reference."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from tiny_sam import tiny_sam, tiny_sam2, tiny_sam3

from annotator.evaluation.metrics import iou
from model import registry
from model.errors import Cancelled, EngineError
from model.masks import box_nms, mask_box
from model.protocol import Embedding, EverythingSettings, Prompt, supports
from model.sam.everything import point_grid, stability_scores

torch = pytest.importorskip("torch")

BUILDERS = {"sam-vit-b": tiny_sam, "sam2.1-tiny": tiny_sam2, "sam3-tracker": tiny_sam3}
# No filter at all: every non-empty candidate of every click comes back.
OPEN = {"min_score": -1e9, "min_stability": 0.0, "nms_iou": 1.0, "min_area": 0}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.set_num_threads(1)
    return {name: build(tmp_path_factory.mktemp(name)) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def engines(folders: dict[str, Path]) -> dict[str, object]:
    return {name: registry.create(name, weights=str(folders[name]), device="cpu", runtime="torch") for name in folders}


def sharpened(name: str, folder: Path):  # type: ignore[no-untyped-def]
    """An engine whose masks' logits are some 50 000 times larger: random weights give logits of
    about 1e-4, all unstable at SAM's offset of 1; trained ones are in the tens."""
    engine = registry.create(name, weights=str(folder), device="cpu", runtime="torch")
    with torch.no_grad():
        for mlp in engine.model.mask_decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight *= 50000
            mlp.proj_out.bias *= 50000
    return engine


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 60, (96, 128, 3), dtype=np.uint8)
    image[20:70, 30:90] = (200, 80, 40)
    return image


def reference(engine, embedding: Embedding, per_side: int) -> list[tuple[float, np.ndarray, np.ndarray]]:  # type: ignore[no-untyped-def]
    """(score, mask, low-res logits) of every candidate of every grid click, one predict call per click."""
    height, width = embedding.image_size
    out = []
    for x, y in point_grid(per_side) * np.array([width, height]):
        prediction = engine.predict(embedding, Prompt.from_clicks([(float(x), float(y), True)]))
        out += list(zip(prediction.scores.tolist(), prediction.masks, prediction.logits, strict=True))
    return out


@pytest.mark.parametrize("name", list(BUILDERS))
def test_batched_grid_matches_one_click_at_a_time(name: str, engines, image) -> None:  # type: ignore[no-untyped-def]
    engine = engines[name]
    assert supports(engine, "everything")
    embedding = engine.embed(image)
    calls: list[tuple[int, int]] = []
    settings = EverythingSettings(points_per_side=3, **OPEN)
    proposals = engine.everything(embedding, settings, progress=lambda d, t: calls.append((d, t)))
    expected = [c for c in reference(engine, embedding, 3) if c[1].any()]
    assert len(proposals) == len(expected) > 0
    assert sorted(round(p.score, 4) for p in proposals) == sorted(round(min(max(s, 0), 1), 4) for s, _, _ in expected)
    scores = [p.score for p in proposals]
    assert scores == sorted(scores, reverse=True)
    for p in proposals:
        assert p.mask.shape == image.shape[:2] and p.mask.dtype == bool
        assert np.array_equal(p.box, mask_box(p.mask))
    # Each proposal is one of the one-click candidates (batched decoding and the float16 store of the
    # logits may move a pixel where the logit is about 0).
    for p in proposals:
        assert max(iou(p.mask, m) for _, m, _ in expected) > 0.99
    assert calls[-1][0] == calls[-1][1] and len(calls) >= 2


@pytest.mark.parametrize("name", ["sam-vit-b", "sam2.1-tiny"])
def test_score_and_stability_filters(name: str, folders, image) -> None:  # type: ignore[no-untyped-def]
    engine = sharpened(name, folders[name])
    embedding = engine.embed(image)
    candidates = [c for c in reference(engine, embedding, 3) if c[1].any()]
    scores = sorted(s for s, _, _ in candidates)
    threshold = (scores[len(scores) // 2] + scores[len(scores) // 2 - 1]) / 2
    settings = EverythingSettings(points_per_side=3, **(OPEN | {"min_score": threshold}))
    kept = engine.everything(embedding, settings)
    assert len(kept) == sum(s > threshold for s in scores) and all(p.score > threshold or p.score == 1 for p in kept)
    # Stability is measured on the part of the low-res logits that covers the image (SAM pads its input).
    resized_h, resized_w = engine.family.resized_size(image.shape[:2], engine.size)
    valid = (-(-engine.low_size * resized_h // engine.size), -(-engine.low_size * resized_w // engine.size))
    crops = [torch.from_numpy(lg[None, : valid[0], : valid[1]]) for _, _, lg in candidates]
    stable = [float(stability_scores(c)[0]) for c in crops]
    distinct = sorted(set(stable))
    middle = len(distinct) // 2
    cut = (distinct[middle - 1] + distinct[middle]) / 2
    steady = engine.everything(embedding, EverythingSettings(points_per_side=3, **(OPEN | {"min_stability": cut})))
    assert 0 < len(steady) < len(candidates)
    assert len(steady) == sum(s >= cut for s in stable)


def test_nms_removes_duplicates_and_min_area_small_regions(engines, image) -> None:  # type: ignore[no-untyped-def]
    engine = engines["sam2.1-tiny"]
    embedding = engine.embed(image)
    everything = engine.everything(embedding, EverythingSettings(points_per_side=4, **OPEN))
    deduplicated = engine.everything(embedding, EverythingSettings(points_per_side=4, **(OPEN | {"nms_iou": 0.5})))
    assert len(deduplicated) < len(everything)
    boxes = torch.from_numpy(np.stack([p.box for p in deduplicated]))
    from model.masks import box_iou

    overlaps = box_iou(boxes, boxes) - torch.eye(len(boxes))
    assert float(overlaps.max()) <= 0.5
    big = engine.everything(embedding, EverythingSettings(points_per_side=4, **(OPEN | {"min_area": 1500})))
    assert all(p.mask.sum() >= 1500 for p in big)
    assert len(big) < len(everything)


def test_cancel_raises_before_and_during(engines, image) -> None:  # type: ignore[no-untyped-def]
    engine = engines["sam2.1-tiny"]
    embedding = engine.embed(image)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        engine.everything(embedding, EverythingSettings(points_per_side=4), cancel=cancel)
    cancel.clear()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        cancel.set()

    with pytest.raises(Cancelled):
        engine.everything(embedding, EverythingSettings(points_per_side=16), cancel=cancel, progress=progress)
    assert seen == [1]  # stopped after the first batch of 64 of 256 points


def test_foreign_embedding_is_refused(engines) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError, match="embedding of model"):
        engines["sam2.1-tiny"].everything(Embedding("classic-v1-400", (10, 10), {}))


def reference_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy NMS written plainly, one pair at a time."""

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    kept: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda k: -scores[k]):
        if all(iou(boxes[i], boxes[j]) <= threshold for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(20))
def test_box_nms_matches_the_plain_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 120))
    corners = rng.uniform(0, 100, (count, 2))
    sizes = rng.uniform(1, 40, (count, 2))
    boxes = np.concatenate([corners, corners + sizes], axis=1)
    scores = rng.permutation(count).astype(np.float64)  # distinct, so the order is unique
    threshold = float(rng.uniform(0.1, 0.9))
    kept = box_nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).tolist()
    assert kept == reference_nms(boxes, scores, threshold)


def test_box_nms_of_nothing_and_point_grid() -> None:
    assert box_nms(torch.zeros((0, 4)), torch.zeros(0), 0.5).tolist() == []
    grid = point_grid(4)
    assert grid.shape == (16, 2) and grid.min() == pytest.approx(0.125) and grid.max() == pytest.approx(0.875)
    logits = torch.tensor([[[2.0, 0.5], [-0.5, -2.0]]])
    assert float(stability_scores(logits)[0]) == pytest.approx(1 / 3)


def test_onnx_runtime_gives_the_same_proposals(folders, engines, image) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    onnx = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu", runtime="onnx")
    settings = EverythingSettings(points_per_side=3, **OPEN)
    expected = engines["sam2.1-tiny"].everything(engines["sam2.1-tiny"].embed(image), settings)
    got = onnx.everything(onnx.embed(image), settings)
    assert onnx.runtime == "onnx" and len(got) == len(expected)
    assert np.allclose([p.score for p in got], [p.score for p in expected], atol=1e-4)
    for a, b in zip(got, expected, strict=True):
        assert iou(a.mask, b.mask) > 0.98


@pytest.mark.parametrize("name", ["sam2.1-tiny", "sam3-tracker"])
def test_grid_decoder_matches_the_model_forward(name: str, engines, image) -> None:  # type: ignore[no-untyped-def]
    from model.sam.everything import _decode_points
    from model.sam.grid_decoder import GridDecoder, supported

    engine = engines[name]
    assert supported(engine.model)
    embedding = engine.embed(image)
    points = (point_grid(3) * engine.size).astype(np.float32)
    expected_low, expected_scores = _decode_points(engine, embedding, points)
    grid = GridDecoder(engine.model)
    with torch.inference_mode():
        low, scores = grid(grid.prepare(engine.features(embedding)), torch.from_numpy(points))
        threshold = float(expected_scores.reshape(-1, 3).max(dim=1).values.median())
        skipped, _ = grid(grid.prepare(engine.features(embedding)), torch.from_numpy(points), threshold)
    low = low.flatten(0, 1)
    scale = float(expected_low.abs().max())
    assert torch.allclose(scores.reshape(-1), expected_scores, atol=1e-5)
    assert float((low - expected_low).abs().max()) < 1e-4 * scale
    # With min_score, clicks with no candidate above it get -inf logits; the others are the same
    # (to rounding: the clicks are batched differently).
    passing = (expected_scores.reshape(-1, 3) > threshold).any(dim=1)
    assert 0 < int(passing.sum()) < len(points)
    assert torch.isinf(skipped[~passing]).all()
    unskipped = low.reshape(-1, 3, *low.shape[-2:])[passing]
    assert float((skipped[passing] - unskipped).abs().max()) < 1e-5 * scale
