"""ONNX Runtime decoder and encoder of a tiny random SAM 2.1 model against the torch path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_sam import graph_ops, tiny_hiera

from model.sam.onnx_decoder import OnnxDecoder, OnnxEncoder, OnnxError

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

POINTS_1 = (np.array([[100.0, 120.0]], np.float32), np.array([1]))
POINTS_3 = (np.array([[100.0, 120.0], [30.0, 40.0], [200.0, 180.0]], np.float32), np.array([1, 0, 1]))
BOX = np.array([50.0, 60.0, 180.0, 200.0], np.float32)


def tiny_model() -> Any:
    """A small Sam2Model; PyTorch's default init so the logits are far from 0 (HF's init gives ~1e-4)."""
    from transformers import Sam2Config, Sam2Model
    from transformers.models.sam2.configuration_sam2 import (
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    torch.manual_seed(0)
    vision = Sam2VisionConfig(
        backbone_config=tiny_hiera(),
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
    model = Sam2Model(config).eval()
    for module in model.modules():
        if hasattr(module, "reset_parameters") and not isinstance(module, torch.nn.LayerNorm):
            module.reset_parameters()
    return model


@pytest.fixture(scope="module")
def model() -> Any:
    return tiny_model()


@pytest.fixture(scope="module")
def features(model: Any) -> list[Any]:
    with torch.no_grad():
        return model.get_image_embeddings(torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(1)))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


def torch_path(model: Any, features: list[Any], points: Any, labels: Any, box: Any, mask: Any, multimask: bool) -> Any:
    """Low-res logits and scores as the engine gets them from Sam2Model.forward."""
    kwargs: dict[str, Any] = {}
    if points is not None:
        kwargs["input_points"] = torch.from_numpy(points)[None, None]
        kwargs["input_labels"] = torch.from_numpy(labels.astype(np.int64))[None, None]
    if box is not None:
        kwargs["input_boxes"] = torch.from_numpy(box).reshape(1, 1, 4)
    if mask is not None:
        kwargs["input_masks"] = torch.from_numpy(mask).reshape(1, 1, *mask.shape[-2:])
    with torch.no_grad():
        out = model(image_embeddings=features, multimask_output=multimask, **kwargs)
    return out.pred_masks[0, 0].numpy(), out.iou_scores[0, 0].numpy()


def test_outputs_match_torch(model: Any, features: list[Any], cache: Path) -> None:
    decoder = OnnxDecoder(model, cache)
    arrays = [f.numpy() for f in features]
    previous = torch_path(model, features, *POINTS_1, None, None, False)[0][0]
    cases = {
        "1 point, multimask": (*POINTS_1, None, None, True),
        "3 points, single": (*POINTS_3, None, None, False),
        "box alone": (None, None, BOX, None, False),
        "box + points": (*POINTS_3, BOX, None, False),
        "refinement": (*POINTS_3, None, previous, False),
        "refinement + box, multimask": (*POINTS_1, BOX, previous, True),
    }
    for name, case in cases.items():
        expected, expected_scores = torch_path(model, features, *case)
        logits, scores = decoder(arrays, *case)
        assert logits.shape == expected.shape and logits.dtype == np.float32, name
        assert np.abs(expected).max() > 0.05, name  # the comparison means something
        assert np.abs(logits - expected).max() < 1e-3, name
        assert ((logits > 0) != (expected > 0)).sum() <= 5, name
        np.testing.assert_allclose(scores, expected_scores, atol=1e-4, err_msg=name)
    assert decoder.exports == 2  # one graph per multimask setting, whatever the number of points


def test_cache_is_reused_and_a_broken_file_is_exported_again(model: Any, features: list[Any], cache: Path) -> None:
    arrays = [f.numpy() for f in features]
    first = OnnxDecoder(model, cache)
    expected = first(arrays, *POINTS_3, None, None, False)[0]
    path = first.path(False)
    stamp = path.stat().st_mtime_ns

    second = OnnxDecoder(model, cache)
    np.testing.assert_array_equal(second(arrays, *POINTS_3, None, None, False)[0], expected)
    assert second.exports == 0 and path.stat().st_mtime_ns == stamp

    path.write_bytes(path.read_bytes()[:1000])  # a truncated file, as after a crash mid-copy
    third = OnnxDecoder(model, cache)
    np.testing.assert_array_equal(third(arrays, *POINTS_3, None, None, False)[0], expected)
    assert third.exports == 1
    assert not list(cache.glob(".*.tmp"))


def test_other_weights_get_their_own_graph(model: Any, cache: Path) -> None:
    other = tiny_model()
    with torch.no_grad():
        other.mask_decoder.iou_token.weight.add_(1.0)
    assert OnnxDecoder(other, cache).key != OnnxDecoder(model, cache).key


def test_failed_export_raises_and_leaves_no_file(
    model: Any, features: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        Path(args[2]).write_bytes(b"partial")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    decoder = OnnxDecoder(model, tmp_path)
    with pytest.raises(OnnxError, match="exporter crashed"):
        decoder([f.numpy() for f in features], *POINTS_1, None, None, True)
    assert list(tmp_path.iterdir()) == []


def test_encoder_matches_torch(model: Any, tmp_path: Path) -> None:
    pixels = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        expected = model.get_image_embeddings(pixels)
    encoder = OnnxEncoder(model, tmp_path)
    got = encoder(pixels.numpy())
    assert [g.shape for g in got] == [tuple(e.shape) for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert np.abs(g - e.numpy()).max() < 1e-3
    assert OnnxEncoder(model, tmp_path).session() is not None and encoder.exports == 1
    ops = graph_ops(encoder.path)
    blocks = sum(model.config.vision_config.backbone_config.blocks_per_stage)
    assert ops["MultiHeadAttention"] == blocks and "Softmax" not in ops  # fused attention in every block


def test_fused_attention_leaves_the_model_as_it_was(model: Any, tmp_path: Path) -> None:
    from model.sam.onnx_attention import fused_attention

    def implementations() -> dict[int, str]:
        return {id(m): m.config._attn_implementation for m in model.modules() if hasattr(m, "config")}

    before = implementations()
    pixels = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        expected = model.get_image_embeddings(pixels)
        with fused_attention(model) as opsets:
            assert opsets == {"com.microsoft": 1}
            inside = model.get_image_embeddings(pixels)  # the same arithmetic while traced
        assert implementations() == before
    for a, b in zip(inside, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_dynamo_exporter_gives_the_same_graph(model: Any, features: list[Any], tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    decoder = OnnxDecoder(model, tmp_path, exporter="dynamo")
    arrays = [f.numpy() for f in features]
    for case in [(*POINTS_3, BOX, None, False), (*POINTS_1, None, None, False)]:
        expected, _ = torch_path(model, features, *case)
        assert np.abs(decoder(arrays, *case)[0] - expected).max() < 1e-3
