"""Closed meshes from a mask: a front sheet on the mask's cell grid, a back sheet, a rim wall.

The mask is sampled on square cells of `step` pixels (a cell belongs to the object when at least
half of it is masked). Every grid corner used by a cell becomes one front and one back vertex,
each on the camera ray through that corner, so the posed mesh projects exactly onto the cells.
The front sheet sits `front` pixels nearer than the reference distance, the back sheet `back`
pixels farther; a wall of two triangles per boundary edge closes the rim. Each edge of the result
belongs to exactly two triangles (a closed, consistently wound surface).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MAX_CELLS = 40_000  # about 80k vertices and 160k triangles for any object size
RIM = 0.5  # pixels: half the thickness at the rim, so the wall has no zero-area triangles


@dataclass(frozen=True, eq=False)
class Grid:
    """The object's cells: `cells` (gh x gw bool) with corner (i, j) at pixel (x0 + j*step, y0 + i*step)."""

    cells: np.ndarray
    x0: int
    y0: int
    step: int

    @property
    def shape(self) -> tuple[int, int]:
        """Cells down and across."""
        return self.cells.shape  # type: ignore[return-value]


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics (pixels) and the reference distance at which the object is placed."""

    focal: float
    cx: float
    cy: float
    distance: float = 2.0

    @classmethod
    def for_image(cls, width: int, height: int, fov_degrees: float = 55.0) -> Camera:
        """An assumed camera: `fov_degrees` across the image's longer side, centred."""
        focal = 0.5 * max(width, height) / math.tan(math.radians(fov_degrees) / 2)
        return cls(focal, width / 2.0, height / 2.0)

    def matrix(self) -> np.ndarray:
        """The 3x3 intrinsic matrix."""
        return np.array([[self.focal, 0, self.cx], [0, self.focal, self.cy], [0, 0, 1]], np.float64)

    def unproject(self, px: np.ndarray, py: np.ndarray, nearer: np.ndarray) -> np.ndarray:
        """Camera-frame points (glTF axes) on the rays through pixels (px, py), `nearer` pixels in front
        of the reference distance (a pixel of offset is one pixel's width there)."""
        depth = self.distance * (1.0 - nearer / self.focal)
        x = (px - self.cx) / self.focal * depth
        y = -(py - self.cy) / self.focal * depth
        return np.stack([x, y, -depth], axis=1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates (x, y) of camera-frame points."""
        depth = -points[:, 2]
        return np.stack(
            [self.cx + self.focal * points[:, 0] / depth, self.cy - self.focal * points[:, 1] / depth], axis=1
        )


def cell_grid(mask: np.ndarray, max_cells: int = MAX_CELLS) -> Grid:
    """Sample the mask's bounding box on cells small enough for the mask, at most about `max_cells` of them."""
    ys, xs = np.nonzero(mask)
    step = max(1, math.ceil(math.sqrt(len(xs) / max_cells)))
    x0, y0 = (int(xs.min()) // step) * step, (int(ys.min()) // step) * step
    gw = -(-(int(xs.max()) + 1 - x0) // step)
    gh = -(-(int(ys.max()) + 1 - y0) // step)
    crop = np.zeros((gh * step, gw * step), np.float32)
    part = mask[y0 : y0 + gh * step, x0 : x0 + gw * step]
    crop[: part.shape[0], : part.shape[1]] = part
    coverage = crop.reshape(gh, step, gw, step).mean(axis=(1, 3))
    cells = coverage >= 0.5
    if not cells.any():  # a sliver thinner than a cell: keep every touched cell rather than nothing
        cells = coverage > 0
    return Grid(cells, x0, y0, step)


def corner_distance(grid: Grid) -> np.ndarray:
    """For each corner, the distance in pixels to the nearest corner on the rim or outside."""
    padded = np.pad(grid.cells, 1)
    # A corner is inside when all four cells around it are.
    inside = padded[:-1, :-1] & padded[:-1, 1:] & padded[1:, :-1] & padded[1:, 1:]
    distance = cv2.distanceTransform(np.pad(inside, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance[1:-1, 1:-1].astype(np.float64) * grid.step


def inflation(distance: np.ndarray) -> np.ndarray:
    """A rounded profile over the corner distances: a sphere for a disc, a cylinder for a bar."""
    peak = float(distance.max())
    if peak <= 0:
        return np.zeros_like(distance)
    return np.sqrt(np.clip(distance * (2 * peak - distance), 0, None))


@dataclass(frozen=True, eq=False)
class Sheets:
    """A closed mesh in camera coordinates: vertices (2N x 3; front N then back N), triangles, the UVs
    (texture coordinates in the grid's box, v up) and each vertex's pixel (x, y)."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    pixels: np.ndarray
    front_count: int


def close_sheets(grid: Grid, camera: Camera, front: np.ndarray, back: np.ndarray) -> Sheets:
    """Build the closed mesh: per-corner offsets `front` (towards the camera) and `back` (away), in pixels."""
    gh, gw = grid.shape
    padded = np.pad(grid.cells, 1)
    top_left, top_right = padded[:-1, :-1], padded[:-1, 1:]
    bottom_left, bottom_right = padded[1:, :-1], padded[1:, 1:]
    used = top_left | top_right | bottom_left | bottom_right
    # Where two cells meet only at a corner, each gets its own copy of it: one shared vertex would
    # join four rim-wall triangles at one edge.
    pinch_down = top_left & bottom_right & ~top_right & ~bottom_left
    pinch_up = top_right & bottom_left & ~top_left & ~bottom_right
    index = np.full(used.shape, -1, np.int64)
    rows, cols = np.nonzero(used)
    index[rows, cols] = np.arange(len(rows))
    copies = np.full(used.shape, -1, np.int64)
    extra_rows, extra_cols = np.nonzero(pinch_down | pinch_up)
    copies[extra_rows, extra_cols] = len(rows) + np.arange(len(extra_rows))
    rows, cols = np.concatenate([rows, extra_rows]), np.concatenate([cols, extra_cols])
    count = len(rows)
    px = grid.x0 + cols * grid.step
    py = grid.y0 + rows * grid.step
    near = front[rows, cols] + RIM
    far = back[rows, cols] + RIM
    vertices = np.concatenate([camera.unproject(px, py, near), camera.unproject(px, py, -far)])
    ci, cj = np.nonzero(grid.cells)
    a, b = index[ci, cj], index[ci, cj + 1]  # top-left, top-right
    c, d = index[ci + 1, cj + 1], index[ci + 1, cj]  # bottom-right, bottom-left
    # The cell below-right of a down pinch uses the copy as its top-left corner; the cell below-left
    # of an up pinch as its top-right corner.
    a = np.where(pinch_down[ci, cj], copies[ci, cj], a)
    b = np.where(pinch_up[ci, cj + 1], copies[ci, cj + 1], b)
    front_faces = np.concatenate([np.stack([a, d, c], 1), np.stack([a, c, b], 1)])
    back_faces = front_faces[:, ::-1] + count
    walls = _rim_walls(front_faces, count)
    faces = np.concatenate([front_faces, back_faces, walls])
    uv = np.stack([cols / gw, 1.0 - rows / gh], axis=1)
    pixels = np.stack([px, py], axis=1).astype(np.float64)
    return Sheets(vertices, faces, np.concatenate([uv, uv]), np.concatenate([pixels, pixels]), count)


def _rim_walls(front_faces: np.ndarray, count: int) -> np.ndarray:
    """Two triangles per front boundary edge (an edge whose reverse no front triangle has), joining
    it to its back copy with the winding that pairs every edge once each way."""
    edges = np.concatenate([front_faces[:, [0, 1]], front_faces[:, [1, 2]], front_faces[:, [2, 0]]])
    keys = edges[:, 0] * (2 * count) + edges[:, 1]
    reverse = edges[:, 1] * (2 * count) + edges[:, 0]
    rim = edges[~np.isin(keys, reverse)]
    u, v = rim[:, 0], rim[:, 1]
    return np.concatenate([np.stack([v, u, u + count], 1), np.stack([v, u + count, v + count], 1)])
