"""SAM 2.1 image engine from a tiny random config, saved and loaded through the registry path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import registry
from model.errors import WeightsUnavailable
from model.protocol import Prompt

torch = pytest.importorskip("torch")


def tiny_sam2(folder: Path) -> Path:
    """Build a small Sam2Model with random weights and save it in transformers format."""
    from transformers import Sam2Config, Sam2Model
    from transformers.models.sam2.configuration_sam2 import (
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    torch.manual_seed(0)
    backbone = Sam2HieraDetConfig(
        hidden_size=32,
        image_size=[256, 256],
        blocks_per_stage=[1, 2, 2, 1],
        embed_dim_per_stage=[32, 64, 128, 256],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[8, 4, 8, 4],
        global_attention_blocks=[4],
    )
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        fpn_hidden_size=64,
        backbone_channel_list=[256, 128, 64, 32],
        backbone_feature_sizes=[[64, 64], [32, 32], [16, 16]],
    )
    config = Sam2Config(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=64, image_size=256, patch_size=16),
        mask_decoder_config=Sam2MaskDecoderConfig(
            hidden_size=64, mlp_dim=128, num_attention_heads=2, iou_head_hidden_dim=64
        ),
    )
    Sam2Model(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_sam2(tmp_path_factory.mktemp("sam2-tiny"))


def test_clicks_box_refinement_and_multimask(tiny_folder: Path) -> None:
    engine = registry.create("sam2.1-tiny", weights=str(tiny_folder), device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (120, 180, 3), dtype=np.uint8)
    embedding = engine.embed(image)
    assert embedding.image_size == (120, 180) and all(isinstance(a, np.ndarray) for a in embedding.data.values())
    one = engine.predict(embedding, Prompt.from_clicks([(90, 60, True)]))
    assert one.masks.shape == (3, 120, 180) and one.masks.dtype == bool and one.scores.shape == (3,)
    assert one.logits.shape == (3, 64, 64)
    two = engine.predict(embedding, Prompt.from_clicks([(90, 60, True), (20, 20, False)]))
    assert two.masks.shape == (1, 120, 180)
    boxed = engine.predict(embedding, Prompt.from_clicks([], box=(10, 10, 100, 90)))
    assert boxed.masks.shape == (1, 120, 180)
    point = (np.array([[90, 60]]), np.array([1]))
    plain = engine.predict(embedding, Prompt(*point, multimask=False))
    refined = engine.predict(embedding, Prompt(*point, logits=one.logits[one.best], multimask=False))
    assert refined.masks.shape == (1, 120, 180)
    assert not np.allclose(refined.logits, plain.logits)  # the previous logits are used
    empty = engine.predict(embedding, Prompt())
    assert not empty.masks.any()
    # Same weights, same input: deterministic.
    again = registry.create("sam2.1-tiny", weights=str(tiny_folder), device="cpu")
    assert np.array_equal(again.predict(again.embed(image), Prompt.from_clicks([(90, 60, True)])).masks, one.masks)


def test_missing_weights_name_the_model_file_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOTATOR_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsUnavailable) as caught:
        registry.create("sam2.1-large")
    message = str(caught.value)
    assert "sam2.1-large" in message and "config.json" in message and str(tmp_path) in message
    assert "classic" in message
