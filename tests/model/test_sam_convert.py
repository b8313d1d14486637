"""Meta's checkpoints through our key mapping, without the reference packages: fake checkpoints are
built from the key names and shapes of the reference models (tests/model/data, written by
tests/parity/make_fixtures.py in the parity venv). `make parity` compares outputs with the real ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model import registry
from model.errors import EngineError
from model.protocol import Prompt

torch = pytest.importorskip("torch")

from model.sam.convert import convert, load_meta_checkpoint  # noqa: E402
from model.sam.weights import import_checkpoint, installed  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
VARIANTS = [p.stem.removeprefix("meta_keys_") for p in sorted(DATA.glob("meta_keys_*.json"))]


def shapes(variant: str) -> dict[str, list[int]]:
    return json.loads((DATA / f"meta_keys_{variant}.json").read_text())


def fake_checkpoint(variant: str, path: Path) -> dict[str, object]:
    """Random tensors with the reference's keys and shapes, saved the way Meta ships them."""
    generator = torch.Generator().manual_seed(0)
    state = {key: torch.randn(shape, generator=generator) * 0.02 for key, shape in shapes(variant).items()}
    torch.save({"model": state} if variant.startswith("sam2") else state, path)
    return state


def test_the_fixtures_cover_every_variant() -> None:
    assert VARIANTS == [
        "sam2.1_hiera_base_plus",
        "sam2.1_hiera_large",
        "sam2.1_hiera_small",
        "sam2.1_hiera_tiny",
        "sam_vit_b",
        "sam_vit_h",
        "sam_vit_l",
    ]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("video", [False, True])
def test_every_key_maps_onto_a_parameter_of_the_same_shape(variant: str, video: bool) -> None:
    if video and variant.startswith("sam_vit"):
        with pytest.raises(EngineError, match="no video model"):
            convert(
                Path(f"{variant}.pth"), {k: torch.empty(s, device="meta") for k, s in shapes(variant).items()}, True
            )
        return
    meta = {key: torch.empty(shape, device="meta") for key, shape in shapes(variant).items()}
    model_class, config, state = convert(Path(f"{variant}.pt"), meta, video)
    with torch.device("meta"):
        model = model_class(config)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    got = {key: tuple(value.shape) for key, value in state.items()}
    assert sorted(set(expected) - set(got)) == []  # nothing left at its random initial value
    assert sorted(set(got) - set(expected)) == []  # nothing dropped on the floor
    assert got == expected


def test_a_sam_v1_checkpoint_loads_and_predicts(tmp_path: Path) -> None:
    path = tmp_path / "sam_vit_b_01ec64.pth"
    state = fake_checkpoint("sam_vit_b", path)
    model = load_meta_checkpoint(path)
    assert type(model).__name__ == "SamModel" and model.config.vision_config.global_attn_indexes == [2, 5, 8, 11]
    weights = model.state_dict()
    assert torch.equal(
        weights["vision_encoder.patch_embed.projection.weight"], state["image_encoder.patch_embed.proj.weight"]
    )
    assert torch.equal(
        weights["mask_decoder.iou_prediction_head.proj_out.bias"],
        state["mask_decoder.iou_prediction_head.layers.2.bias"],
    )
    engine = registry.create("sam-vit-b", weights=str(path), device="cpu")
    prediction = engine.predict(engine.embed(np.zeros((40, 60, 3), np.uint8)), Prompt.from_clicks([(30, 20, True)]))
    assert prediction.masks.shape == (3, 40, 60)


def test_a_sam2_checkpoint_gives_the_image_and_the_video_model(tmp_path: Path) -> None:
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    state = fake_checkpoint("sam2.1_hiera_tiny", path)
    image_model = load_meta_checkpoint(path)
    video_model = load_meta_checkpoint(path, video=True)
    assert (type(image_model).__name__, type(video_model).__name__) == ("Sam2Model", "Sam2VideoModel")
    points = torch.cat([state[f"sam_prompt_encoder.point_embeddings.{i}.weight"] for i in range(4)])
    assert torch.equal(image_model.state_dict()["prompt_encoder.point_embed.weight"], points)
    assert torch.equal(
        video_model.state_dict()["memory_encoder.memory_fuser.layers.0.scale"],
        state["memory_encoder.fuser.layers.0.gamma"],
    )
    with pytest.raises(EngineError, match="holds a Sam2Model checkpoint, not one for sam-vit-b"):
        registry.create("sam-vit-b", weights=str(path))
    engine = registry.create("sam2.1-tiny", weights=str(path), device="cpu")
    session = engine.open_video([np.zeros((32, 48, 3), np.uint8)] * 2)
    mask = np.zeros((32, 48), bool)
    mask[8:20, 10:30] = True
    session.add_prompt(0, 1, Prompt(mask=mask))
    assert [f for f, _ in session.propagate(0)] == [0, 1]


def test_models_import_converts_a_checkpoint_into_the_weights_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator.cli import main

    monkeypatch.setenv("ANNOTATOR_WEIGHTS_DIR", str(tmp_path / "weights"))
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    fake_checkpoint("sam2.1_hiera_tiny", path)
    assert main(["models", "import", str(path)]) == 0  # the name comes from the file name
    assert installed("sam2.1-tiny") is not None
    engine = registry.create("sam2.1-tiny", device="cpu")
    assert engine.open_video([np.zeros((16, 16, 3), np.uint8)]) is not None  # the folder holds the video model
    with pytest.raises(EngineError, match="cannot tell which model"):
        import_checkpoint(path.rename(tmp_path / "mine.pt"))
    with pytest.raises(EngineError, match="is a SAM 2 checkpoint, not"):
        import_checkpoint(tmp_path / "mine.pt", "sam-vit-b")


def test_broken_and_foreign_checkpoints_are_engine_errors_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sam_vit_b.pth"
    fake_checkpoint("sam_vit_b", path)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(EngineError, match=r"truncated\.pth"):
        load_meta_checkpoint(truncated)
    foreign = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(10)}, foreign)
    with pytest.raises(EngineError, match=r"resnet\.pth.*not a SAM or SAM 2 checkpoint"):
        load_meta_checkpoint(foreign)
    partial = tmp_path / "partial.pth"
    state = torch.load(path, weights_only=True)
    del state["mask_decoder.iou_token.weight"]
    torch.save(state, partial)
    with pytest.raises(EngineError, match=r"partial\.pth.*missing keys.*iou_token"):
        load_meta_checkpoint(partial)
    with pytest.raises(EngineError, match=r"resnet\.pth"):
        registry.create("sam-vit-b", weights=str(foreign))
