"""The `local` backend: no GPU and no weights needed, seconds per object on a CPU.

With a depth map (given, or from Depth Anything V2 Small when its weights are installed) the
front is a relief of the visible surface; without one it is the inflated silhouette. The back is
always the inflated silhouette, mirrored, so the mesh is closed and watertight either way. Both
sheets carry the image crop as their texture (the back shows the front's colours, mirrored).
Neither invents the hidden shape of the object: that is what the `sam3d-objects` backend does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import cv2
import numpy as np
from scipy import ndimage

from model.reconstruct import depth as depth_model
from model.reconstruct.files import glb_bytes, splat_bytes
from model.reconstruct.protocol import (
    Availability,
    Progress,
    Reconstruction,
    check_cancel,
    check_inputs,
)
from model.reconstruct.surface import Camera, Grid, Sheets, cell_grid, close_sheets, corner_distance, inflation

log = logging.getLogger(__name__)

TEXTURE_SIDE = 1024  # longest side of the base-colour texture


class LocalReconstructor:
    """Relief of the visible surface (with depth) or inflated silhouette (without), closed and textured."""

    name = "local"
    description = "relief or inflated silhouette on the CPU (no GPU, no weights needed)"

    def __init__(self, use_depth_model: bool = True, device: str = "auto", fov_degrees: float = 55.0) -> None:
        self.use_depth_model = use_depth_model
        self.device = device
        self.fov_degrees = fov_degrees

    def availability(self) -> Availability:
        """Always available; says whether depth will come from Depth Anything V2 Small."""
        if self.use_depth_model and depth_model.installed_folder() is not None:
            return Availability(True, f"depth from {depth_model.MODEL}")
        return Availability(
            True,
            f"no depth model ({depth_model.MODEL} not installed: `annotator models download {depth_model.MODEL}`), "
            "so the shape is the inflated silhouette",
        )

    def run(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        depth: np.ndarray | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Progress | Reconstruction]:
        """Yield progress, then the reconstruction (see the module docstring)."""
        image, mask, depth = check_inputs(image, mask, depth)
        yield Progress(0.05, "checking the mask")
        source = "given depth"
        if depth is None and self.use_depth_model:
            folder = depth_model.installed_folder()
            if folder is not None:
                yield Progress(0.1, "estimating depth")
                depth = depth_model.estimate(image, folder, self.device)
                source = depth_model.MODEL
        check_cancel(cancel)
        yield Progress(0.5, "building the mesh")
        height, width = mask.shape
        camera = Camera.for_image(width, height, self.fov_degrees)
        grid = cell_grid(mask)
        nearest = _nearest_inside(mask)
        distance = corner_distance(grid)
        back = inflation(distance)
        front = back if depth is None else _relief(grid, depth, nearest, float(distance.max()))
        sheets = close_sheets(grid, camera, front, back)
        check_cancel(cancel)
        yield Progress(0.7, "writing the GLB")
        centre = (sheets.vertices.min(axis=0) + sheets.vertices.max(axis=0)) / 2
        vertices = sheets.vertices - centre
        pose = np.eye(4)
        pose[:3, 3] = centre
        glb = glb_bytes(vertices, sheets.faces, sheets.uv, _texture(image, grid), "object")
        check_cancel(cancel)
        yield Progress(0.9, "writing the splat")
        ply = _splat(image, sheets, vertices, nearest, camera, grid)
        if depth is None:
            kind, notes = "inflated silhouette", "no depth: the shape is the mask inflated into a rounded, closed blob"
        else:
            kind = "visible surface"
            notes = f"front: relief of the visible surface ({source}, relative scale); back: guessed by inflation"
        yield Progress(1.0, "done")
        yield Reconstruction(glb, ply, pose, kind, self.name, camera.matrix(), notes)


def _nearest_inside(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel, the (row, column) of the nearest object pixel (itself when inside)."""
    _, indices = ndimage.distance_transform_edt(~mask, return_indices=True)
    return indices[0], indices[1]


def _corner_samples(grid: Grid, values: np.ndarray, nearest: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The mean of `values` over the (up to) four pixels around each grid corner, read at their nearest
    object pixels so that the background never leaks in at the rim."""
    gh, gw = grid.shape
    height, width = values.shape[:2]
    py = grid.y0 + np.arange(gh + 1) * grid.step
    px = grid.x0 + np.arange(gw + 1) * grid.step
    total = 0.0
    for dy in (-1, 0):
        for dx in (-1, 0):
            rows = np.clip(py + dy, 0, height - 1)[:, None]
            cols = np.clip(px + dx, 0, width - 1)[None, :]
            total = total + values[nearest[0][rows, cols], nearest[1][rows, cols]]
    return total / 4.0


def _relief(grid: Grid, depth: np.ndarray, nearest: tuple[np.ndarray, np.ndarray], peak: float) -> np.ndarray:
    """Per-corner front offsets (pixels) from relative depth: nearer parts come forward, by up to
    the object's inscribed radius (relative depth has no scale of its own)."""
    inside = depth[nearest[0], nearest[1]]
    low, high = np.percentile(inside, [2, 98])
    nearness = np.clip((high - _corner_samples(grid, depth, nearest)) / max(high - low, 1e-6), 0, 1)
    return nearness * max(peak, 1.0)


def _texture(image: np.ndarray, grid: Grid) -> np.ndarray:
    """The image over the grid's box (edge pixels repeated past the image), at most TEXTURE_SIDE across."""
    gh, gw = grid.shape
    height, width = image.shape[:2]
    rows = np.clip(np.arange(grid.y0, grid.y0 + gh * grid.step), 0, height - 1)
    cols = np.clip(np.arange(grid.x0, grid.x0 + gw * grid.step), 0, width - 1)
    crop = image[rows[:, None], cols[None, :]]
    scale = min(1.0, TEXTURE_SIDE / max(crop.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return crop


def _splat(
    image: np.ndarray,
    sheets: Sheets,
    vertices: np.ndarray,
    nearest: tuple[np.ndarray, np.ndarray],
    camera: Camera,
    grid: Grid,
) -> bytes:
    """One Gaussian per mesh vertex, coloured from the image, as wide as the grid spacing there."""
    height, width = image.shape[:2]
    px = np.clip(sheets.pixels[:, 0].astype(int), 0, width - 1)
    py = np.clip(sheets.pixels[:, 1].astype(int), 0, height - 1)
    colours = image[nearest[0][py, px], nearest[1][py, px]].astype(np.float64) / 255.0
    spacing = grid.step * (-sheets.vertices[:, 2]) / camera.focal
    sigmas = np.stack([0.6 * spacing, 0.6 * spacing, 0.15 * spacing], axis=1)
    return splat_bytes(vertices, colours, sigmas)
