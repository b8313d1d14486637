"""The classic engine on images: protocol shapes, prompts of every kind, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.evaluation.bench import synthetic_scene
from annotator.evaluation.metrics import iou
from model import registry
from model.classic.engine import ClassicEngine
from model.errors import EngineError
from model.protocol import Embedding, Prompt


@pytest.fixture(scope="module")
def engine() -> ClassicEngine:
    return registry.create("classic")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_scene((240, 320), seed=3)


def centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(np.median(xs)), float(np.median(ys))


def test_registry_lists_classic_first_and_cheaply() -> None:
    assert "classic" in registry.names()
    assert registry.specs()["classic"].factory == "model.classic.engine:create_engine"


def test_embedding_is_a_dict_of_arrays(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, _ = scene
    embedding = engine.embed(image)
    assert embedding.model_id == engine.model_id and embedding.image_size == (240, 320)
    assert all(isinstance(v, np.ndarray) for v in embedding.data.values())
    assert embedding.nbytes == sum(v.nbytes for v in embedding.data.values()) > 0


def test_one_click_gives_three_candidates_and_a_good_best(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, gt = scene
    prediction = engine.predict(engine.embed(image), Prompt.from_clicks([(*centre(gt), True)]))
    assert prediction.masks.shape == (3, 240, 320) and prediction.masks.dtype == bool
    assert prediction.scores.shape == (3,) and prediction.logits.ndim == 3
    assert iou(prediction.best_mask, gt) > 0.9


def test_single_mask_when_not_asked_for_several(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, gt = scene
    prompt = Prompt(np.array([centre(gt)], np.float32), np.array([1], np.int32), multimask=False)
    assert engine.predict(engine.embed(image), prompt).masks.shape == (1, 240, 320)


def test_box_prompt(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, gt = scene
    ys, xs = np.nonzero(gt)
    box = (xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    prediction = engine.predict(engine.embed(image), Prompt.from_clicks([], box=box))
    assert iou(prediction.best_mask, gt) > 0.9


def test_negative_click_removes_and_previous_logits_are_taken(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, gt = scene
    embedding = engine.embed(image)
    first = engine.predict(embedding, Prompt.from_clicks([(*centre(gt), True)]))
    x, y = 5.0, 5.0  # background corner
    second = engine.predict(
        embedding,
        Prompt(np.array([centre(gt), (x, y)], np.float32), np.array([1, 0], np.int32), logits=first.logits[first.best]),
    )
    assert not second.best_mask[int(y), int(x)] and iou(second.best_mask, gt) > 0.9
    from_mask = engine.predict(embedding, Prompt(mask=gt, multimask=False))
    assert iou(from_mask.best_mask, gt) > 0.9


def test_empty_prompt_and_clicks_outside_give_an_empty_mask(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, _ = scene
    embedding = engine.embed(image)
    nan = float("nan")
    for prompt in (
        Prompt(),
        Prompt.from_clicks([(-10, 5, True), (400, 900, True), (nan, 3, True)]),
        Prompt.from_clicks([], (50, 50, 50, 90)),
        Prompt.from_clicks([], (nan, 0, 10, 10)),
    ):
        prediction = engine.predict(embedding, prompt)
        assert prediction.masks.shape == (1, 240, 320) and not prediction.best_mask.any()
        assert prediction.scores[0] == 0


def test_odd_images_are_converted(engine: ClassicEngine) -> None:
    gray = np.zeros((60, 80), np.uint8)
    gray[20:40, 30:50] = 255
    rgba = np.dstack([np.repeat(gray[..., None], 3, axis=2), np.full((60, 80), 255, np.uint8)])
    deep = gray.astype(np.uint16) * 257
    for image in (gray, rgba, deep, gray.astype(np.float32) / 255):
        prediction = engine.predict(engine.embed(image), Prompt.from_clicks([(40, 30, True)]))
        assert prediction.masks.shape[1:] == (60, 80)
        assert prediction.best_mask[30, 40] and not prediction.best_mask[5, 5]


def test_huge_image_stays_bounded(engine: ClassicEngine) -> None:
    image = np.zeros((6000, 8000, 3), np.uint8)
    image[2000:4000, 3000:5000] = (220, 30, 30)
    embedding = engine.embed(image)
    assert embedding.nbytes < 20 << 20  # the grid is downscaled; the image is not kept
    assert engine.predict(embedding, Prompt.from_clicks([(4000, 3000, True)])).best_mask[3000, 4000]


def test_bad_inputs_raise_engine_errors(engine: ClassicEngine) -> None:
    with pytest.raises(EngineError, match="expected an HxWx3 image"):
        engine.embed(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(EngineError, match="embedding of model"):
        engine.predict(Embedding("other", (4, 4), {}), Prompt.from_clicks([(1, 1, True)]))
    with pytest.raises(ValueError, match="2 points but 1 labels"):
        Prompt(np.zeros((2, 2)), np.zeros(1))


def test_preview_is_one_quick_candidate_close_to_the_full_mask(engine: ClassicEngine, scene) -> None:  # type: ignore[no-untyped-def]
    image, truth = scene
    embedding = engine.embed(image)
    assert "coarse_bins" in embedding.data  # the coarse grid the preview cuts on
    click = Prompt.from_clicks([(*centre(truth == 1), True)])
    quick = engine.preview(embedding, click)
    full = engine.predict(embedding, click)
    assert quick.masks.shape == (1, 240, 320) and quick.logits.shape[0] == 1
    assert iou(quick.best_mask, full.best_mask) > 0.8
    assert iou(quick.best_mask, truth == 1) > 0.8


def test_band_cut_is_the_exact_minimum_given_the_labels_around_the_band() -> None:
    from model.classic.cut import band_cut, min_cut
    from model.classic.features import build_grid

    rng = np.random.default_rng(0)
    image = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    image[20:70, 30:90] //= 3
    grid = build_grid(image, 120)
    cost_fg = rng.random(grid.size).astype(np.float32) * 2
    cost_bg = rng.random(grid.size).astype(np.float32) * 2
    cost_fg[20:70, 30:90] *= 0.3
    best = min_cut(grid, cost_fg, cost_bg, 3.0)
    band = np.zeros(grid.size, bool)
    band[10:80, 20:100] = True
    assert np.array_equal(band_cut(grid, cost_fg, cost_bg, 3.0, best, band), best)
    # From a wrong start, the band's cells take the labels that the full cut gives them there
    # when everything outside the band is already right.
    wrong = best.copy()
    wrong[band] = ~wrong[band]
    assert np.array_equal(band_cut(grid, cost_fg, cost_bg, 3.0, wrong, band), best)
    everything = np.ones(grid.size, bool)
    assert np.array_equal(band_cut(grid, cost_fg, cost_bg, 3.0, wrong, everything), best)
