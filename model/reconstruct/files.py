"""Writing and reading the asset files: GLB through trimesh, 3DGS PLY through plyfile."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from model.errors import EngineError

SH_C0 = 0.28209479177387814  # degree-0 spherical harmonic: colour = 0.5 + SH_C0 * f_dc
SPLAT_FIELDS = (
    "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
)  # fmt: skip


def glb_bytes(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, texture: np.ndarray, name: str) -> bytes:
    """A binary glTF with one textured mesh: `uv` in [0, 1] with v up, `texture` HxWx3 uint8 RGB."""
    import trimesh
    from PIL import Image

    material = trimesh.visual.material.PBRMaterial(
        name=f"{name}-material",
        baseColorTexture=Image.fromarray(np.ascontiguousarray(texture)),
        metallicFactor=0.0,
        roughnessFactor=1.0,
        doubleSided=False,
    )
    visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, visual=visual, process=False)
    scene = trimesh.Scene()
    scene.add_geometry(mesh, geom_name=name, node_name=name)
    return bytes(scene.export(file_type="glb"))


def splat_bytes(positions: np.ndarray, colours: np.ndarray, sigmas: np.ndarray, opacity: float = 0.9) -> bytes:
    """A 3DGS PLY (INRIA layout, SH degree 0): one Gaussian per position, `colours` Nx3 in [0, 1],
    `sigmas` Nx3 standard deviations; unrotated (quaternion 1, 0, 0, 0), opacity stored as a logit."""
    from plyfile import PlyData, PlyElement

    count = len(positions)
    data = np.zeros(count, dtype=[(name, "<f4") for name in SPLAT_FIELDS])
    data["x"], data["y"], data["z"] = positions.T
    dc = (np.clip(colours, 0, 1) - 0.5) / SH_C0
    data["f_dc_0"], data["f_dc_1"], data["f_dc_2"] = dc.T
    data["opacity"] = np.log(opacity / (1 - opacity))
    scales = np.log(np.maximum(sigmas, 1e-7))
    data["scale_0"], data["scale_1"], data["scale_2"] = scales.T
    data["rot_0"] = 1.0
    buffer = io.BytesIO()
    PlyData([PlyElement.describe(data, "vertex")], text=False, byte_order="<").write(buffer)
    return buffer.getvalue()


@dataclass(frozen=True, eq=False)
class MeshArrays:
    """A mesh flattened for drawing: vertices Nx3, faces Mx3, vertex colours Nx4 float in [0, 1]."""

    vertices: np.ndarray
    faces: np.ndarray
    colours: np.ndarray


@dataclass(frozen=True, eq=False)
class SplatPoints:
    """Gaussian centres for drawing as points: positions Nx3, colours Nx4 float (alpha from opacity)."""

    positions: np.ndarray
    colours: np.ndarray


def read_glb(data: bytes) -> MeshArrays:
    """One mesh from GLB bytes (all its meshes concatenated), coloured from its texture where it has one."""
    import trimesh

    try:
        scene = trimesh.load(io.BytesIO(data), file_type="glb", force="scene")
        mesh = scene.to_geometry() if hasattr(scene, "to_geometry") else scene.dump(concatenate=True)
    except Exception as error:
        raise EngineError(f"the GLB cannot be read: {error}") from error
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise EngineError("the GLB holds no triangle mesh")
    try:
        colours = mesh.visual.to_color().vertex_colors
    except Exception:  # no texture or colours: plain grey
        colours = np.full((len(mesh.vertices), 4), 180, np.uint8)
    return MeshArrays(
        np.asarray(mesh.vertices, np.float32),
        np.asarray(mesh.faces, np.int32),
        np.asarray(colours, np.float32)[:, :4] / 255.0,
    )


def read_splat(data: bytes) -> SplatPoints:
    """Gaussian centres and colours from 3DGS PLY bytes."""
    from plyfile import PlyData

    try:
        vertex = PlyData.read(io.BytesIO(data))["vertex"].data
        positions = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1).astype(np.float32)
        names = vertex.dtype.names or ()
        if "f_dc_0" in names:
            rgb = 0.5 + SH_C0 * np.stack([vertex["f_dc_0"], vertex["f_dc_1"], vertex["f_dc_2"]], axis=1)
        else:
            rgb = np.full((len(positions), 3), 0.7)
        alpha = 1 / (1 + np.exp(-vertex["opacity"])) if "opacity" in names else np.ones(len(positions))
    except Exception as error:
        raise EngineError(f"the PLY cannot be read as a Gaussian splat: {error}") from error
    colours = np.concatenate([np.clip(rgb, 0, 1), np.asarray(alpha).reshape(-1, 1)], axis=1).astype(np.float32)
    return SplatPoints(positions, colours)
