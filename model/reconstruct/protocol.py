"""The reconstruction protocol: image + object mask (+ depth) in, GLB and PLY bytes out.

Conventions:
- image: HxWx3 uint8 RGB; mask: HxW bool in image pixels; depth: HxW float, relative depth
  (larger = farther; any positive affine scale, so a negated disparity map is fine) or None;
- the camera frame is glTF's (x right, y up, the camera looks down -z); `pose` (4x4 float64) maps
  the asset's own coordinates into that frame, and `camera` (3x3) holds the pixel intrinsics
  (x right, y down, pixel corners at integer coordinates) under which the asset, posed, projects
  onto the mask;
- the PLY is a 3D Gaussian splat in the INRIA layout (SH degree 0), in the GLB's coordinates.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from model.errors import Cancelled, EngineError
from model.protocol import check_image

Kind = Literal["visible surface", "inflated silhouette", "full shape"]
KINDS: tuple[Kind, ...] = ("visible surface", "inflated silhouette", "full shape")


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """A 3D asset of one object: GLB mesh and 3DGS PLY bytes, pose, intrinsics and what it is."""

    glb: bytes
    ply: bytes
    pose: np.ndarray
    kind: Kind
    backend: str
    camera: np.ndarray = field(default_factory=lambda: np.eye(3))
    notes: str = ""


@dataclass(frozen=True)
class Progress:
    """One step of a running reconstruction: the fraction done (0..1) and what it is doing."""

    fraction: float
    stage: str


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here; when not, `reason` says exactly what is missing."""

    available: bool
    reason: str = ""


class Reconstructor(Protocol):
    """A reconstruction backend."""

    name: str
    description: str

    def availability(self) -> Availability:
        """Whether it can run on this machine now (cheap: no model is loaded)."""
        ...

    def run(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        depth: np.ndarray | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Progress | Reconstruction]:
        """Yield Progress steps, then the Reconstruction last; raise Cancelled when `cancel` is set."""
        ...


def check_inputs(
    image: np.ndarray, mask: np.ndarray, depth: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The inputs as HxWx3 uint8, HxW bool and HxW float32 (or None); EngineError saying what is wrong."""
    image = check_image(image)
    height, width = image.shape[:2]
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise EngineError(f"the object mask must be HxW, got an array of shape {mask.shape}")
    if mask.shape != (height, width):
        raise EngineError(
            f"the object mask is {mask.shape[1]}x{mask.shape[0]} but the image is {width}x{height}; "
            "they must be the same size"
        )
    mask = mask.astype(bool)
    if not mask.any():
        raise EngineError("the object mask is empty: draw or segment the object first")
    inner = mask[1:-1, 1:-1]
    if not inner.any():
        raise EngineError(
            "the object mask lies only on the image border (its outermost row and column of pixels): "
            "there is no object inside the image to reconstruct"
        )
    if depth is not None:
        depth = np.asarray(depth, dtype=np.float32)
        if depth.shape != (height, width):
            raise EngineError(f"the depth map is {depth.shape} but the image is {height}x{width}")
        if not np.isfinite(depth[mask]).all():
            raise EngineError("the depth map has non-finite values inside the object mask")
    return image, mask, depth


def check_cancel(cancel: threading.Event | None, what: str = "reconstruction") -> None:
    """Raise Cancelled when the flag is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} cancelled")
