"""SAM, SAM 2.1 and SAM 3 tracker image engines from tiny random configs, saved and loaded
through the registry like real weights; pre/post-processing checked against plain torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_sam import graph_ops, tiny_sam, tiny_sam2, tiny_sam3

from model import registry
from model.errors import EngineError, WeightsUnavailable
from model.protocol import Prompt
from model.sam.families import FAMILIES, upsample_positive

torch = pytest.importorskip("torch")

BUILDERS = {"sam-vit-b": tiny_sam, "sam2.1-tiny": tiny_sam2, "sam3-tracker": tiny_sam3}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: build(tmp_path_factory.mktemp(name)) for name, build in BUILDERS.items()}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_clicks_box_refinement_and_multimask(name: str, folders: dict[str, Path]) -> None:
    engine = registry.create(name, weights=str(folders[name]), device="cpu")
    low = engine.low_size
    image = np.random.default_rng(0).integers(0, 255, (120, 180, 3), dtype=np.uint8)
    embedding = engine.embed(image)
    assert embedding.image_size == (120, 180) and all(isinstance(a, np.ndarray) for a in embedding.data.values())
    one = engine.predict(embedding, Prompt.from_clicks([(90, 60, True)]))
    assert one.masks.shape == (3, 120, 180) and one.masks.dtype == bool and one.scores.shape == (3,)
    assert one.logits.shape == (3, low, low)
    two = engine.predict(embedding, Prompt.from_clicks([(90, 60, True), (20, 20, False)]))
    assert two.masks.shape == (1, 120, 180)
    boxed = engine.predict(embedding, Prompt.from_clicks([], box=(10, 10, 100, 90)))
    assert boxed.masks.shape == (1, 120, 180)
    assert not np.allclose(boxed.logits, two.logits)
    point = (np.array([[90, 60]]), np.array([1]))
    plain = engine.predict(embedding, Prompt(*point, multimask=False))
    refined = engine.predict(embedding, Prompt(*point, logits=one.logits[one.best], multimask=False))
    assert refined.masks.shape == (1, 120, 180)
    assert not np.allclose(refined.logits, plain.logits)  # the previous logits are used
    # A hand-edited mask (no logits) is given to the decoder as its mask input.
    edited = np.zeros((120, 180), bool)
    edited[30:90, 40:150] = True
    from_edit = engine.predict(embedding, Prompt(*point, mask=edited, multimask=False))
    assert not np.allclose(from_edit.logits, plain.logits)
    inputs = engine.model_prompt(Prompt(*point, mask=edited), (120, 180))
    assert inputs.logits.shape == (1, low, low) and inputs.logits.max() > 5 and inputs.logits.min() < -5
    assert not engine.predict(embedding, Prompt()).masks.any()
    assert not engine.predict(embedding, Prompt.from_clicks([], box=(50, 50, 50, 80))).masks.any()
    # The masks are the low-res logits brought to the image size (SAM: through the padded square).
    expected = FAMILIES[engine.family.architecture].masks_to_image(
        torch.from_numpy(one.logits), (120, 180), engine.size
    )
    assert np.array_equal(expected, one.masks)
    # Same weights, same input: deterministic.
    again = registry.create(name, weights=str(folders[name]), device="cpu")
    assert np.array_equal(again.predict(again.embed(image), Prompt.from_clicks([(90, 60, True)])).masks, one.masks)


def test_each_family_preprocesses_like_its_reference() -> None:
    image = np.random.default_rng(1).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    sam = FAMILIES["sam"].preprocess(image, 256, "cpu")
    # SAM: long side to 256 (height), width 200 * 256 / 300 = 170.67 -> 171, zero padding on the right.
    assert sam.shape == (1, 3, 256, 256) and FAMILIES["sam"].resized_size((300, 200), 256) == (256, 171)
    assert torch.all(sam[..., 171:] == 0) and torch.any(sam[..., 170] != 0)
    assert np.allclose(FAMILIES["sam"].coordinate_scale((300, 200), 256), [171 / 200, 256 / 300])
    # SAM 2: a square resize, normalised with the ImageNet statistics; SAM 3 with mean = std = 0.5.
    sam2 = FAMILIES["sam2"].preprocess(np.full((300, 200, 3), 255, np.uint8), 64, "cpu")
    assert sam2.shape == (1, 3, 64, 64)
    assert torch.allclose(
        sam2[0, :, 5, 5], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    )
    sam3 = FAMILIES["sam3"].preprocess(np.zeros((300, 200, 3), np.uint8), 56, "cpu")
    assert sam3.shape == (1, 3, 56, 56) and torch.allclose(sam3, torch.full_like(sam3, -1.0))
    assert np.allclose(FAMILIES["sam3"].coordinate_scale((300, 200), 56), [56 / 200, 56 / 300])


@pytest.mark.parametrize("size", [(1080, 1920), (120, 180), (1001, 777), (7, 9)])
def test_upsampling_equals_torch_interpolate(size: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(size[0])
    low = torch.randn((4, 64, 64), generator=generator) * 3 - 2
    low[0] = -1  # empty
    low[1] = -5
    low[1, 10:12, 20:22] = 1  # a tiny region
    low[2] = -3
    low[2, 30:33, 10:12] = 2  # a small one
    full = (torch.nn.functional.interpolate(low[None], size=size, mode="bilinear", align_corners=False)[0] > 0).numpy()
    ours = upsample_positive(low, size)
    assert np.array_equal(ours[:3], full[:3])  # empty, and small regions: exact
    assert (ours != full).mean() < 1e-4  # OpenCV for the large ones: a few pixels in a million differ


def test_out_of_memory_on_the_accelerator_falls_back_to_the_cpu(folders: dict[str, Path]) -> None:
    engine = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu", runtime="torch")
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    expected = engine.embed(image).data["features_0"]
    engine.device = "cuda"  # pretend the model sits on a GPU that is full (tensors stay on the CPU)
    engine.preprocess = lambda image: FAMILIES["sam2"].preprocess(image, engine.size, "cpu")  # type: ignore[method-assign]
    moved = []
    original = engine.model.get_image_embeddings

    def full_gpu(pixels):  # type: ignore[no-untyped-def]
        if engine.device != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        moved.append(pixels.device.type)
        return original(pixels)

    engine.model.get_image_embeddings = full_gpu
    embedding = engine.embed(image)
    assert engine.device == "cpu" and moved == ["cpu"] and np.allclose(embedding.data["features_0"], expected)
    assert len(engine.warnings) == 1 and "out of memory on cuda" in engine.warnings[0]
    engine.device = "cuda"
    engine.model.get_image_embeddings = lambda pixels: (_ for _ in ()).throw(ValueError("a real bug"))
    with pytest.raises(ValueError, match="a real bug"):
        engine.embed(image)  # other errors are not swallowed


def test_bf16_on_the_cpu_gives_nearly_the_same_masks(folders: dict[str, Path]) -> None:
    fp32 = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu")
    bf16 = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu", precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    prompt = Prompt.from_clicks([], box=(10, 10, 100, 80))
    a, b = (e.predict(e.embed(image), prompt).masks[0] for e in (fp32, bf16))
    assert (a == b).mean() > 0.95


def test_devices_and_precisions_are_checked() -> None:
    from model.device import pick_device, pick_precision

    assert pick_device("auto") in ("cpu", "cuda", "mps") and pick_precision("cpu") == "fp32"
    with pytest.raises(EngineError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(EngineError, match="unknown precision"):
        pick_precision("cpu", "int3")


def test_sam_v1_has_no_video_and_says_so(folders: dict[str, Path]) -> None:
    engine = registry.create("sam-vit-b", weights=str(folders["sam-vit-b"]), device="cpu")
    with pytest.raises(EngineError, match="no video model"):
        engine.open_video([np.zeros((8, 8, 3), np.uint8)])


def test_an_image_only_checkpoint_cannot_track(tmp_path: Path, folders: dict[str, Path]) -> None:
    from transformers import Sam2Model

    Sam2Model.from_pretrained(str(folders["sam2.1-tiny"])).save_pretrained(tmp_path / "image-only")
    engine = registry.create("sam2.1-tiny", weights=str(tmp_path / "image-only"), device="cpu")
    with pytest.raises(EngineError, match=r"lacks .* video \(memory\) weights"):
        engine.open_video([np.zeros((8, 8, 3), np.uint8)])


def test_missing_weights_name_the_model_file_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOTATOR_WEIGHTS_DIR", str(tmp_path))
    for name in ("sam2.1-large", "sam-vit-h", "sam3-tracker"):
        with pytest.raises(WeightsUnavailable) as caught:
            registry.create(name)
        message = str(caught.value)
        assert name in message and "config.json" in message and str(tmp_path) in message
        assert "classic" in message


def test_a_broken_weights_folder_is_an_engine_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(EngineError, match=str(tmp_path)):
        registry.create("sam2.1-tiny", weights=str(tmp_path))


@pytest.mark.parametrize("name", list(BUILDERS))
def test_onnx_runtime_gives_what_torch_gives(name: str, folders: dict[str, Path]) -> None:
    onnx = registry.create(name, weights=str(folders[name]), device="cpu", runtime="auto")
    eager = registry.create(name, weights=str(folders[name]), device="cpu", runtime="torch")
    assert (onnx.runtime, eager.runtime) == ("onnx", "torch")
    image = np.random.default_rng(2).integers(0, 255, (90, 140, 3), dtype=np.uint8)
    ours, theirs = onnx.embed(image), eager.embed(image)
    for key, value in theirs.data.items():
        assert np.allclose(ours.data[key], value, atol=1e-4, rtol=1e-3)
    first = eager.predict(theirs, Prompt.from_clicks([(70, 45, True)]))
    prompts = [
        Prompt.from_clicks([(70, 45, True)]),
        Prompt.from_clicks([(70, 45, True), (10, 10, False), (100, 60, True)]),
        Prompt.from_clicks([], box=(20, 15, 120, 80)),
        Prompt.from_clicks([(30, 30, False)], box=(20, 15, 120, 80)),
        Prompt(np.array([[70, 45]]), np.array([1]), logits=first.logits[first.best], multimask=False),
    ]
    for prompt in prompts:
        a, b = onnx.predict(theirs, prompt), eager.predict(theirs, prompt)
        assert a.logits.shape == b.logits.shape and a.masks.shape == b.masks.shape
        assert np.allclose(a.logits, b.logits, atol=1e-4) and np.allclose(a.scores, b.scores, atol=1e-4)
    assert onnx.warnings == []
    ops = graph_ops(onnx.onnx_parts()[0].path)
    if name == "sam-vit-b":  # its vision attention adds relative positions: plain ops
        assert ops["Softmax"] > 0
    else:  # every attention of the image encoder is onnxruntime's fused one, no score matrix left
        assert ops["MultiHeadAttention"] > 0 and "Softmax" not in ops


def test_a_failing_onnx_export_falls_back_to_torch_with_a_warning(
    folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from model.sam import onnx_decoder

    monkeypatch.setenv("ANNOTATOR_CACHE_DIR", str(tmp_path))  # nothing exported yet

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise onnx_decoder.OnnxError("exporter crashed")

    monkeypatch.setattr(onnx_decoder, "export_encoder", broken)
    engine = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu")
    embedding = engine.embed(np.zeros((32, 32, 3), np.uint8))
    assert engine.runtime == "torch" and "ONNX Runtime failed" in engine.warnings[0]
    assert engine.predict(embedding, Prompt.from_clicks([(10, 10, True)])).masks.shape == (3, 32, 32)
    with pytest.raises(EngineError, match="unknown runtime"):
        registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), runtime="tensorrt")


def test_the_int8_runtime_quantises_the_encoder_and_stays_close(folders: dict[str, Path]) -> None:
    exact = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu", runtime="onnx")
    fast = registry.create("sam2.1-tiny", weights=str(folders["sam2.1-tiny"]), device="cpu", runtime="onnx-int8")
    assert fast.runtime == "onnx-int8"
    image = np.random.default_rng(4).integers(0, 255, (80, 120, 3), dtype=np.uint8)
    a, b = exact.embed(image), fast.embed(image)
    encoder, _ = fast.onnx_parts()
    assert encoder.path.name.endswith("-int8.onnx") and encoder.path.is_file()
    for key, value in a.data.items():
        error = np.linalg.norm(b.data[key] - value) / np.linalg.norm(value)
        assert 0 < error < 0.2  # quantised: different, but close
    assert fast.predict(b, Prompt.from_clicks([(60, 40, True)])).masks.shape == (3, 80, 120)
    assert fast.warnings == []
