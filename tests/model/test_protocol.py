"""The engine protocol's values: prompts, predictions, image normalisation; classic conforms."""

from __future__ import annotations

import numpy as np
import pytest

from model.classic.engine import ClassicEngine
from model.errors import EngineError
from model.frames import ListFrames
from model.protocol import Engine, FrameSource, Prediction, Prompt, check_image


def test_prompt_normalises_and_freezes_arrays() -> None:
    prompt = Prompt.from_clicks([(1, 2, True), (3.5, 4, False)], box=(0, 0, 10, 10))
    assert prompt.points.dtype == np.float32 and prompt.points.shape == (2, 2)
    assert prompt.labels.tolist() == [1, 0] and prompt.box.tolist() == [0, 0, 10, 10]
    with pytest.raises(ValueError):
        prompt.points[0, 0] = 5
    assert Prompt().is_empty and not prompt.is_empty and not Prompt(mask=np.ones((2, 2))).is_empty


def test_prediction_best() -> None:
    masks = np.zeros((3, 2, 2), bool)
    masks[1, 0, 0] = True
    prediction = Prediction(masks, np.array([0.1, 0.9, 0.5], np.float32), np.zeros((3, 4, 4), np.float32))
    assert prediction.best == 1 and prediction.best_mask[0, 0]


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((5, 6), np.uint8),
        np.zeros((5, 6, 1), np.uint8),
        np.zeros((5, 6, 4), np.uint8),
        np.zeros((5, 6, 3), np.uint16),
        np.zeros((5, 6, 3), np.float64),
        np.zeros((5, 6), bool),
    ],
)
def test_check_image_converts_to_rgb_uint8(image: np.ndarray) -> None:
    out = check_image(image)
    assert out.shape == (5, 6, 3) and out.dtype == np.uint8


def test_check_image_rejects_non_images() -> None:
    for bad in (np.zeros(5), np.zeros((0, 4, 3)), np.zeros((4, 4, 2))):
        with pytest.raises(EngineError):
            check_image(bad)


def test_classic_conforms_to_the_protocols() -> None:
    engine = ClassicEngine()
    assert isinstance(ListFrames([np.zeros((4, 4, 3), np.uint8)]), FrameSource)
    for name in ("name", "model_id", "device", "embed", "predict", "open_video"):
        assert hasattr(engine, name), name
    typed: Engine = engine  # checked by type checkers
    assert typed.name == "classic" and typed.device == "cpu"
