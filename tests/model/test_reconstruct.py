"""The local 3D backend, checked by the consumers of its files: trimesh, pygltflib, plyfile and the
Khronos glTF validator; the mesh seen from the original camera must cover the mask."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import trimesh
from assets3d import assert_valid, project, rasterise
from PIL import Image
from plyfile import PlyData
from pygltflib import GLTF2

from model.errors import Cancelled, EngineError
from model.reconstruct import Progress, Reconstruction, create, reconstruct
from model.reconstruct.files import SPLAT_FIELDS, read_glb, read_splat
from model.reconstruct.local import LocalReconstructor


def synthetic(height: int = 240, width: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A gradient image and a mask with a hole, a thin arm and two cells touching at a corner only."""
    yy, xx = np.mgrid[:height, :width]
    image = np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 90)], axis=2).astype(np.uint8)
    mask = ((xx - 150) / 90.0) ** 2 + ((yy - 120) / 70.0) ** 2 < 1
    mask &= ((xx - 140) / 20.0) ** 2 + ((yy - 110) / 15.0) ** 2 > 1  # a hole
    mask[115:121, 230:300] = True  # a thin arm
    mask[40:44, 40:44] = True  # an island touching another only at a corner
    mask[44:48, 44:48] = True
    return image, mask


def mesh_of(result: Reconstruction) -> trimesh.Trimesh:
    """The GLB's one mesh, as trimesh reads it."""
    scene = trimesh.load(io.BytesIO(result.glb), file_type="glb", force="scene")
    meshes = list(scene.geometry.values())
    assert len(meshes) == 1
    return meshes[0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def check_asset(result: Reconstruction, mask: np.ndarray, folder: Path) -> trimesh.Trimesh:
    """The checks every local asset passes; returns the mesh."""
    mesh = mesh_of(result)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    seen = rasterise(project(np.asarray(mesh.vertices), result.pose, result.camera), np.asarray(mesh.faces), mask.shape)
    assert iou(seen, mask) >= 0.98
    path = folder / "asset.glb"
    path.write_bytes(result.glb)
    gltf = GLTF2().load(str(path))
    primitive = gltf.meshes[0].primitives[0]
    assert primitive.attributes.POSITION is not None and primitive.attributes.TEXCOORD_0 is not None
    assert len(gltf.images) == 1 and gltf.materials[0].pbrMetallicRoughness.baseColorTexture is not None
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals) and mesh.visual.material.baseColorTexture is not None
    check_splat(result.ply, len(mesh.vertices))
    return mesh


def check_splat(data: bytes, count: int) -> None:
    """The PLY has the 3DGS attributes with sane values."""
    vertex = PlyData.read(io.BytesIO(data))["vertex"]
    names = [p.name for p in vertex.properties]
    assert names == list(SPLAT_FIELDS)
    assert all(p.val_dtype in ("f4", "float32", "float") for p in vertex.properties)
    values = np.stack([vertex[name] for name in names], axis=1)
    assert len(values) == count and np.isfinite(values).all()
    alpha = 1 / (1 + np.exp(-vertex["opacity"]))
    assert ((alpha > 0.5) & (alpha < 1)).all()  # stored as a logit
    quaternions = np.stack([vertex[f"rot_{i}"] for i in range(4)], axis=1)
    assert np.allclose(np.linalg.norm(quaternions, axis=1), 1, atol=1e-5)
    scales = np.exp(np.stack([vertex[f"scale_{i}"] for i in range(3)], axis=1))
    assert (scales > 0).all() and (scales < 1).all()  # log sigmas, a fraction of the asset's size
    rgb = 0.5 + 0.28209479 * np.stack([vertex[f"f_dc_{i}"] for i in range(3)], axis=1)
    assert ((rgb >= -1e-4) & (rgb <= 1 + 1e-4)).all()


def test_inflated_silhouette_is_closed_covers_the_mask_and_reloads(tmp_path: Path) -> None:
    image, mask = synthetic()
    steps: list[Progress] = []
    result = reconstruct(image, mask, progress=steps.append)
    assert result.kind == "inflated silhouette" and result.backend == "local"
    assert [s.fraction for s in steps] == sorted(s.fraction for s in steps) and steps[-1].fraction == 1.0
    mesh = check_asset(result, mask, tmp_path)
    # Rounded: the middle of the blob stands out towards the camera more than its rim.
    depth = -(np.asarray(mesh.vertices) + result.pose[:3, 3])[:, 2]
    assert depth.max() - depth.min() > 0.05 * (mesh.bounds[1, 0] - mesh.bounds[0, 0])
    # The texture is the image crop, at most 1024 pixels across.
    assert max(mesh.visual.material.baseColorTexture.size) <= 1024
    assert_valid([tmp_path / "asset.glb"])


def test_depth_makes_a_relief_of_the_visible_surface(tmp_path: Path) -> None:
    image, mask = synthetic()
    _, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
    depth = (1.0 + xx / mask.shape[1]).astype(np.float32)  # the right side is farther
    result = reconstruct(image, mask, depth)
    assert result.kind == "visible surface" and "relief" in result.notes
    mesh = check_asset(result, mask, tmp_path)
    points = np.asarray(mesh.vertices) + result.pose[:3, 3]
    front = points[: len(points) // 2]  # the front sheet comes first
    pixels = project(np.asarray(mesh.vertices), result.pose, result.camera)[: len(front)]
    left, right = front[pixels[:, 0] < 120], front[pixels[:, 0] > 180]
    assert -left[:, 2].mean() < -right[:, 2].mean()  # the left is nearer the camera
    assert_valid([tmp_path / "asset.glb"])


def test_viewer_arrays_read_back() -> None:
    image, mask = synthetic()
    result = reconstruct(image, mask)
    mesh, splat = read_glb(result.glb), read_splat(result.ply)
    assert len(mesh.faces) > 1000 and mesh.colours.shape == (len(mesh.vertices), 4)
    assert splat.positions.shape == (len(mesh.vertices), 3)
    # Both are coloured from the image: the mesh through its texture, the splat per Gaussian.
    assert np.allclose(mesh.colours[:, :3].mean(axis=0), image[mask].mean(axis=0) / 255, atol=0.08)
    assert np.allclose(splat.colours[:, :3].mean(axis=0), image[mask].mean(axis=0) / 255, atol=0.08)


@pytest.mark.data
@pytest.mark.slow
def test_real_masks(shared_data: Path, tmp_path: Path) -> None:
    paths = []
    for mask_path in sorted((shared_data / "masks").glob("*.png")):
        image_path = next((shared_data / "images").glob(mask_path.stem + ".*"))
        image = np.array(Image.open(image_path).convert("RGB"))
        mask = np.array(Image.open(mask_path)) > 127
        result = reconstruct(image, mask)
        folder = tmp_path / mask_path.stem
        folder.mkdir()
        check_asset(result, mask, folder)
        paths.append(folder / "asset.glb")
    assert len(paths) >= 10
    assert_valid(paths)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((60, 80), bool), "empty"),
        (np.ones((50, 80), bool), "same size"),
        (np.pad(np.zeros((58, 78), bool), 1, constant_values=True), "border"),
        (np.ones((60, 80, 3), bool), "HxW"),
    ],
    ids=["empty", "wrong size", "border only", "not 2-D"],
)
def test_bad_masks_say_what_is_wrong(mask: np.ndarray, message: str) -> None:
    image = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(EngineError, match=message):
        reconstruct(image, mask)


def test_cancel_stops_the_run() -> None:
    image, mask = synthetic()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        reconstruct(image, mask, cancel=cancel)


def test_unknown_backend() -> None:
    with pytest.raises(EngineError, match="unknown 3D backend 'nope'"):
        create("nope")


def tiny_depth_anything(folder: Path) -> None:
    """A Depth Anything model with random weights and a small DINOv2 backbone, saved like the real one."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=518,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
    )
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)


@pytest.mark.slow
def test_installed_depth_model_gives_the_relief(tmp_path: Path) -> None:
    from model.paths import weights_dir
    from model.reconstruct import depth
    from model.sam.weights import import_folder

    backend = LocalReconstructor(device="cpu")
    assert "not installed" in backend.availability().reason
    tiny_depth_anything(tmp_path / "tiny")
    import_folder(tmp_path / "tiny", depth.MODEL)
    assert (weights_dir() / depth.MODEL / "config.json").is_file()
    try:
        assert backend.availability().reason == f"depth from {depth.MODEL}"
        image, mask = synthetic(200, 260)
        estimated = depth.estimate(image, depth.installed_folder(), "cpu")  # type: ignore[arg-type]
        assert estimated.shape == mask.shape and np.isfinite(estimated).all() and estimated.std() > 0
        result = reconstruct(image, mask, backend=backend)
        assert result.kind == "visible surface" and depth.MODEL in result.notes
        check_asset(result, mask, tmp_path)
        # The relief follows the model's depth: the same run with its output given directly agrees.
        given = reconstruct(image, mask, estimated, backend=LocalReconstructor(use_depth_model=False))
        assert np.allclose(mesh_of(given).vertices, mesh_of(result).vertices, atol=1e-5)
    finally:
        import shutil

        shutil.rmtree(weights_dir() / depth.MODEL)
        depth._loaded.clear()
