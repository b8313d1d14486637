"""Parity with Meta's reference packages: their models, saved as Meta checkpoints and loaded through our
key mapping, must give the same masks in our engine as in SamPredictor / SAM2ImagePredictor.

Run with `make parity` (its own venv with segment-anything and sam2); skipped where they are not
installed, as in the CI venv. The models are full size with random weights from a fixed seed, on a
real image from ../shared/data. Random weights can give masks that are all or nothing; the figures
print each candidate's foreground share, and at least one candidate per model must be non-trivial.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("segment_anything")
pytest.importorskip("sam2")

from model.protocol import Prompt
from model.sam.convert import load_meta_checkpoint
from model.sam.engine import SamEngine
from model.sam.families import FAMILIES

IMAGE = "images/coco_dog02_000000464522.jpg"  # 494x640 (W x H): not square, so the SAM padding counts
MIN_AGREEMENT = 0.999  # share of pixels where our mask equals the reference's
MAX_LOGIT_ERROR = 1e-2  # ||ours - reference|| / ||reference|| of the low-res logits
MAX_EMBEDDING_ERROR = 1e-4  # the same for the image features, given the reference's own input tensor


def prompts(height: int, width: int) -> dict[str, Prompt]:
    """A few prompts in image pixels: one point (three candidates), points, a box, a box with a point."""
    centre = [width / 2, height / 2]
    box = np.array([width * 0.25, height * 0.2, width * 0.8, height * 0.75], np.float32)
    return {
        "point": Prompt(points=[centre], labels=[1]),
        "points": Prompt(points=[centre, [width * 0.1, height * 0.1], [width * 0.6, height * 0.7]], labels=[1, 0, 1]),
        "box": Prompt(box=box, multimask=False),
        "box+point": Prompt(points=[[width * 0.3, height * 0.3]], labels=[0], box=box),
    }


def relative_error(ours: Any, reference: Any) -> float:
    """||ours - reference|| / ||reference||, both as float64 arrays."""
    ours = np.asarray(ours, np.float64)
    reference = np.asarray(reference, np.float64)
    return float(np.linalg.norm(ours - reference) / max(np.linalg.norm(reference), 1e-12))


@pytest.fixture(scope="module")
def image(shared_data: Path) -> np.ndarray:
    """HxWx3 uint8 RGB, read from ../shared/data by path (never copied into the repo)."""
    return np.asarray(Image.open(shared_data / IMAGE).convert("RGB"))


def compare(
    name: str,
    engine: SamEngine,
    image: np.ndarray,
    reference_predict: Callable[[Prompt, bool], tuple[np.ndarray, np.ndarray, np.ndarray]],
    figures: list[str],
) -> None:
    """Our engine's masks and logits vs the reference predictor's, per prompt; one line each to `figures`."""
    embedding = engine.embed(image)
    non_trivial = 0
    for label, prompt in prompts(*image.shape[:2]).items():
        ours = engine.predict(embedding, prompt)
        multimask = prompt.multimask and len(prompt.points) <= 1 and prompt.box is None
        masks, scores, logits = reference_predict(prompt, multimask)
        assert ours.masks.shape == masks.shape, label
        agreement = float((ours.masks == masks).mean())
        logit_error = relative_error(ours.logits, logits)
        shares = [float(m.mean()) for m in masks]
        non_trivial += sum(0.01 < share < 0.99 for share in shares)
        figures.append(
            f"{name} {label:9s}: pixels agree {agreement * 100:.4f}%, low-res logit rel. error {logit_error:.2e}, "
            f"score max abs diff {np.abs(ours.scores - scores).max():.2e}, "
            f"foreground share {', '.join(f'{s:.2f}' for s in shares)}"
        )
        assert agreement >= MIN_AGREEMENT, f"{name} {label}: {agreement:.5f} of pixels agree"
        assert logit_error <= MAX_LOGIT_ERROR, f"{name} {label}: logit error {logit_error:.2e}"
    assert non_trivial, f"{name}: every mask is all or nothing; the comparison says little"


# -- SAM (v1) ViT-B


@pytest.fixture(scope="module")
def sam1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, SamEngine]:
    """The reference ViT-B (random weights, seed 0) and our engine loaded from its saved .pth."""
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    reference = sam_model_registry["vit_b"]().eval()
    path = tmp_path_factory.mktemp("sam1") / "sam_vit_b_random.pth"
    torch.save(reference.state_dict(), path)
    ours = load_meta_checkpoint(path)
    return reference, SamEngine(FAMILIES["sam"], ours, "sam-vit-b-parity", device="cpu", precision="fp32")


def test_sam1_image_features(sam1: tuple[Any, SamEngine], image: np.ndarray, figures: list[str]) -> None:
    """The converted ViT-B gives the reference's image embedding for the reference's own input tensor."""
    from segment_anything import SamPredictor

    reference, engine = sam1
    predictor = SamPredictor(reference)
    resized = predictor.transform.apply_image(image)
    tensor = torch.as_tensor(resized).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        source = reference.preprocess(tensor)
        expected = reference.image_encoder(source)
        got = engine.model.get_image_embeddings(source)
        input_error = relative_error(engine.preprocess(image), source)
    error = relative_error(got, expected)
    figures.append(
        f"sam-vit-b features (same input): rel. error {error:.2e}; our preprocess vs the reference's: "
        f"rel. error {input_error:.2e}"
    )
    assert error <= MAX_EMBEDDING_ERROR


def with_runtime(engine: SamEngine, runtime: str) -> SamEngine:
    """The same model in an engine with the given runtime ('torch', or 'onnx': the CPU default)."""
    other = SamEngine(engine.family, engine.model, f"{engine.model_id}-{runtime}", "cpu", "fp32", runtime=runtime)
    assert other.runtime == runtime
    return other


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_sam1_masks(sam1: tuple[Any, SamEngine], image: np.ndarray, runtime: str, figures: list[str]) -> None:
    """Our SAM engine on the converted checkpoint vs SamPredictor, from the same image and prompts."""
    from segment_anything import SamPredictor

    reference, engine = sam1
    engine = with_runtime(engine, runtime)
    predictor = SamPredictor(reference)
    predictor.set_image(image)

    def predict(prompt: Prompt, multimask: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.inference_mode():
            return predictor.predict(
                point_coords=prompt.points if len(prompt.points) else None,
                point_labels=prompt.labels if len(prompt.points) else None,
                box=prompt.box,
                multimask_output=multimask,
            )

    compare(f"sam-vit-b ({runtime})", engine, image, predict, figures)


# -- SAM 2.1 Hiera tiny


@pytest.fixture(scope="module")
def sam2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, SamEngine]:
    """The reference SAM 2.1 tiny (random weights, seed 0) and our engine loaded from its saved .pt."""
    from sam2.build_sam import build_sam2

    torch.manual_seed(0)
    reference = build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu", mode="eval")
    path = tmp_path_factory.mktemp("sam2") / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": reference.state_dict()}, path)
    ours = load_meta_checkpoint(path)
    return reference, SamEngine(FAMILIES["sam2"], ours, "sam2.1-tiny-parity", device="cpu", precision="fp32")


def test_sam2_image_features(sam2: tuple[Any, SamEngine], image: np.ndarray, figures: list[str]) -> None:
    """The converted Hiera tiny gives the reference predictor's features (all levels) for its own input."""
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    reference, engine = sam2
    predictor = SAM2ImagePredictor(reference)
    source = predictor._transforms(image)[None]  # the reference's own preprocessing
    predictor.set_image(image)
    expected = [*predictor._features["high_res_feats"], predictor._features["image_embed"]]
    with torch.inference_mode():
        got = engine.model.get_image_embeddings(source)
        input_error = relative_error(engine.preprocess(image), source)
    assert [tuple(g.shape) for g in got] == [tuple(e.shape) for e in expected]
    errors = [relative_error(g, e) for g, e in zip(got, expected, strict=True)]
    figures.append(
        f"sam2.1-tiny features (same input): rel. error per level {', '.join(f'{e:.2e}' for e in errors)}; "
        f"our preprocess vs the reference's: rel. error {input_error:.2e}"
    )
    assert max(errors) <= MAX_EMBEDDING_ERROR


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_sam2_masks(sam2: tuple[Any, SamEngine], image: np.ndarray, runtime: str, figures: list[str]) -> None:
    """Our SAM 2 engine on the converted checkpoint vs SAM2ImagePredictor, from the same image and prompts."""
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    reference, engine = sam2
    engine = with_runtime(engine, runtime)
    predictor = SAM2ImagePredictor(reference)
    predictor.set_image(image)

    def predict(prompt: Prompt, multimask: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.inference_mode():
            masks, scores, logits = predictor.predict(
                point_coords=prompt.points if len(prompt.points) else None,
                point_labels=prompt.labels if len(prompt.points) else None,
                box=prompt.box,
                multimask_output=multimask,
            )
        return masks.astype(bool), scores, logits

    compare(f"sam2.1-tiny ({runtime})", engine, image, predict, figures)


# -- SAM 2.1 Hiera tiny, video


@pytest.fixture(scope="module")
def sam2_video(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, np.ndarray, Path, dict]:
    """(frame folder, first-frame mask, converted checkpoint, reference masks per frame):
    SAM2VideoPredictor with random weights (seed 0) propagating a first-frame mask through the
    first frames of a real video."""
    from sam2.build_sam import build_sam2_video_predictor

    sequence = sorted((shared_data / "videos").iterdir())[0]
    folder = tmp_path_factory.mktemp("frames")
    for path in sorted((sequence / "frames").iterdir())[:6]:
        (folder / path.name).symlink_to(path)
    first = np.asarray(Image.open(sorted((sequence / "masks").iterdir())[0])) > 0

    torch.manual_seed(0)
    predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu")
    path = tmp_path_factory.mktemp("sam2video") / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": predictor.state_dict()}, path)
    with torch.inference_mode():
        state = predictor.init_state(video_path=str(folder))
        predictor.add_new_mask(state, frame_idx=0, obj_id=1, mask=first)
        reference = {f: (logits[0, 0] > 0).numpy() for f, _, logits in predictor.propagate_in_video(state)}
    return folder, first, path, reference


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_sam2_video(sam2_video: tuple[Path, np.ndarray, Path, dict], runtime: str, figures: list[str]) -> None:
    """Our streaming session on the converted checkpoint vs SAM2VideoPredictor, with torch alone and
    with the CPU default (frames through the ONNX encoder, memory attention on onnxruntime's kernel)."""
    from model.frames import FolderFrames

    folder, first, path, reference = sam2_video
    engine = SamEngine(
        FAMILIES["sam2"],
        load_meta_checkpoint(path),
        "sam2.1-tiny-video-parity",
        device="cpu",
        precision="fp32",
        video_loader=lambda: load_meta_checkpoint(path, video=True),
        runtime=runtime,
    )
    assert engine.runtime == runtime
    session = engine.open_video(FolderFrames(folder))
    session.add_prompt(0, 1, Prompt(mask=first))
    ours = {f: masks[1] for f, masks in session.propagate(0)}
    assert sorted(ours) == sorted(reference)
    assert session._onnx == (runtime == "onnx")  # the ONNX frame features passed their check
    for frame in sorted(ours):
        agreement = float((ours[frame] == reference[frame]).mean())
        figures.append(
            f"sam2.1-tiny video ({runtime}) frame {frame}: pixels agree {agreement * 100:.4f}%, "
            f"foreground share ours {ours[frame].mean():.3f}, reference {reference[frame].mean():.3f}"
        )
        assert agreement >= MIN_AGREEMENT, f"frame {frame}: {agreement:.5f} of pixels agree"
