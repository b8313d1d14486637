"""Geodesic distances on the working grid: path length grows with colour change along the path."""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from model.classic.features import Grid

_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))  # (dy, dx) of the right, down, down-right, down-left edges
_TINY = 1e-6  # csgraph treats a zero weight as no edge


def _edge_lists(contrast: np.ndarray, colour: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, height, width = contrast.shape
    index = np.arange(height * width).reshape(height, width)
    rows, cols, costs = [], [], []
    for k, (dy, dx) in enumerate(_STEPS):
        y0, y1 = 0, height - dy
        x0, x1 = max(0, -dx), width - max(0, dx)
        src = index[y0:y1, x0:x1]
        dst = index[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        length = float(np.hypot(dy, dx))
        rows.append(src.ravel())
        cols.append(dst.ravel())
        costs.append((length * (1.0 + colour * contrast[k, y0:y1, x0:x1])).ravel())
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(costs)


def pool_contrast(contrast: np.ndarray, factor: int) -> np.ndarray:
    """Coarsen 4xhxw contrast by `factor`, keeping the strongest edge of each block."""
    if factor <= 1:
        return contrast
    _, height, width = contrast.shape
    h, w = max(1, height // factor), max(1, width // factor)
    blocks = contrast[:, : h * factor, : w * factor].reshape(4, h, factor, w, factor)
    return blocks.max(axis=(2, 4))


class GeodesicGraph:
    """The grid, coarsened by `factor`, as a sparse graph, with a spare node to start multi-source searches.

    Distances come back at the fine grid's size and in fine cells. Searches are memoised, and a
    seed set that extends a remembered one only searches from the new seeds.
    """

    def __init__(self, grid: Grid, colour: float = 4.0, factor: int = 1) -> None:
        self.size = grid.size
        self.factor = factor if min(grid.size) >= 8 * factor else 1
        contrast = pool_contrast(grid.contrast, self.factor)
        self.coarse = contrast.shape[1:]
        rows, cols, costs = _edge_lists(contrast, colour)
        self._cells = self.coarse[0] * self.coarse[1]
        self._rows, self._cols, self._costs = rows, cols, costs.astype(np.float64)
        self._memo: dict[frozenset[tuple[int, float]], np.ndarray] = {}

    def _search(self, seeds: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        start = self._cells  # the spare node
        rows = np.concatenate([self._rows, np.full(len(seeds), start)])
        cols = np.concatenate([self._cols, seeds])
        costs = np.concatenate([self._costs, np.maximum(offsets, _TINY)])
        graph = sp.csr_matrix((costs, (rows, cols)), shape=(self._cells + 1, self._cells + 1))
        return dijkstra(graph, directed=False, indices=start)[:-1].reshape(self.coarse)

    def distance(
        self, points: np.ndarray, offsets: np.ndarray | None = None, border: float | None = None
    ) -> np.ndarray:
        """Geodesic distance (hxw, fine cells) to the nearest of `points` (x, y fine cells) or the border.

        `offsets` (fine cells) start each point that far away; `border` makes the grid border a seed at that offset.
        """
        seeds = point_cells(self.coarse, np.asarray(points, np.float64).reshape(-1, 2) / self.factor)
        starts = np.zeros(len(seeds)) if offsets is None else np.asarray(offsets, np.float64)[: len(seeds)]
        if border is not None:
            edge = border_cells(self.coarse)
            seeds = np.concatenate([seeds, edge])
            starts = np.concatenate([starts, np.full(len(edge), border / self.factor)])
        if len(seeds) == 0:
            return np.full(self.size, np.inf, np.float32)
        key = frozenset(zip(seeds.tolist(), np.round(starts, 3).tolist(), strict=True))
        found = self._memo.get(key)
        if found is None:
            found = self._extend(key)
            if len(self._memo) >= 8:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = found
        height, width = self.size
        return cv2.resize(found, (width, height), interpolation=cv2.INTER_LINEAR) * self.factor

    def _extend(self, key: frozenset[tuple[int, float]]) -> np.ndarray:
        """Search from the seeds that no remembered subset covers, and merge with the best such subset."""
        best = max((k for k in self._memo if k <= key), key=len, default=frozenset())
        new = sorted(key - best)
        seeds = np.array([s for s, _ in new], np.int64)
        found = self._search(seeds, np.array([o for _, o in new], np.float64)).astype(np.float32)
        return np.minimum(found, self._memo[best]) if best else found


def border_cells(size: tuple[int, int]) -> np.ndarray:
    """Flat indices of the grid's border cells."""
    edge = np.zeros(size, bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    return np.flatnonzero(edge)


def point_cells(size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Flat indices of the cells under (x, y) points, clipped to the grid."""
    height, width = size
    if len(points) == 0:
        return np.zeros(0, np.int64)
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
    return np.unique(ys * width + xs)
