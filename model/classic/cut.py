"""Graph cuts on the working grid: colour models, unary costs and the min-cut itself."""

from __future__ import annotations

import cv2
import maxflow
import numpy as np
from scipy.ndimage import gaussian_filter

from model.classic.features import BINS, Grid

# A cost that no cut will pay: it makes a seed a hard constraint.
HARD = 1e6
_EPS = 1e-6
# PyMaxflow structures for the right, down, down-right and down-left neighbour (centre is [1, 1]).
_STRUCTURES = [np.zeros((3, 3)) for _ in range(4)]
for _s, (_r, _c) in zip(_STRUCTURES, ((1, 2), (2, 1), (2, 2), (2, 0)), strict=True):
    _s[_r, _c] = 1


def colour_model(bins: np.ndarray, weights: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """A smoothed, normalised colour histogram (BINS**3 float32) of the pixels weighted by `weights`."""
    hist = np.bincount(bins.ravel(), weights=weights.ravel(), minlength=BINS**3)
    hist = gaussian_filter(hist.reshape(BINS, BINS, BINS), sigma=sigma, mode="constant").ravel()
    total = float(hist.sum())
    if total <= 0:
        return np.full(BINS**3, 1.0 / BINS**3, np.float32)
    return (hist / total).astype(np.float32)


def colour_costs(bins: np.ndarray, fg_model: np.ndarray, bg_model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell costs of the foreground and background labels: -log of the colour posterior."""
    pf = fg_model[bins] + _EPS
    pb = bg_model[bins] + _EPS
    total = pf + pb
    return -np.log(pf / total), -np.log(pb / total)


def min_cut(grid: Grid, cost_fg: np.ndarray, cost_bg: np.ndarray, smoothness: float) -> np.ndarray:
    """Minimise sum(unary) + smoothness * sum(contrast weights over label changes); True = foreground."""
    cells = grid.size[0] * grid.size[1]
    graph = maxflow.Graph[float](cells, 4 * cells)  # room for every edge up front: no reallocation
    nodes = graph.add_grid_nodes(grid.size)
    for weights, structure in zip(grid.weights, _STRUCTURES, strict=True):
        # Doubles, as the graph stores them: PyMaxflow converts anything else cell by cell, slowly.
        capacities = np.multiply(weights, smoothness, dtype=np.float64)
        graph.add_grid_edges(nodes, weights=capacities, structure=structure, symmetric=True)
    # A node on the sink side pays its source capacity: sink side = background here.
    graph.add_grid_tedges(nodes, cost_bg.astype(np.float64), cost_fg.astype(np.float64))
    graph.maxflow()
    return ~graph.get_grid_segments(nodes)


def keep_seeded(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Keep only the connected components of `mask` that touch a seed cell (all of it if no seed)."""
    if not seeds.any() or not mask.any():
        return mask
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    keep = np.zeros(count, bool)
    keep[np.unique(labels[seeds & mask])] = True
    keep[0] = False
    return keep[labels]


def fill_small_holes(mask: np.ndarray, max_area: int, protect: np.ndarray) -> np.ndarray:
    """Fill holes of `mask` smaller than `max_area` cells that hold no `protect` cell."""
    if max_area <= 0 or not mask.any():
        return mask
    _, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    height, width = mask.shape
    x, y, w, h, area = (stats[:, i] for i in range(5))
    fill = (area < max_area) & (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
    fill[0] = False
    fill[np.unique(labels[protect & ~mask])] = False
    return mask | fill[labels]


# (dy, dx) of the neighbour that each of Grid.weights' four edge maps points to.
_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))


def band_cut(
    grid: Grid, cost_fg: np.ndarray, cost_bg: np.ndarray, smoothness: float, mask: np.ndarray, band: np.ndarray
) -> np.ndarray:
    """`min_cut` over the cells of `band` only; cells outside it keep their label in `mask`.

    An edge from a band cell to a fixed cell becomes a unary cost of the label that differs from
    the fixed one, so the cut inside the band is the exact minimum given the labels around it.
    """
    height, width = grid.size
    count = int(band.sum())
    if count == 0:
        return mask.copy()
    index = np.full(grid.size, -1, np.int64)
    index[band] = np.arange(count)
    unary_fg = cost_fg[band].astype(np.float64)
    unary_bg = cost_bg[band].astype(np.float64)
    graph = maxflow.Graph[float](count, 4 * count)
    nodes = graph.add_nodes(count)
    for weights, (dy, dx) in zip(grid.weights, _STEPS, strict=True):
        x0, x1 = max(0, -dx), width - max(0, dx)
        src = (slice(0, height - dy), slice(x0, x1))
        dst = (slice(dy, height), slice(x0 + dx, x1 + dx))
        w = smoothness * weights[src]
        a, b = band[src], band[dst]
        both = a & b
        if both.any():
            graph.add_edges(index[src][both], index[dst][both], w[both], w[both])
        for inside, outside, there in ((a & ~b, dst, src), (b & ~a, src, dst)):
            if not inside.any():
                continue
            fixed_fg = mask[outside][inside]
            cells = index[there][inside]
            costs = w[inside].astype(np.float64)
            # Taking the other label than a fixed neighbour pays the edge between them.
            np.add.at(unary_bg, cells[fixed_fg], costs[fixed_fg])
            np.add.at(unary_fg, cells[~fixed_fg], costs[~fixed_fg])
    graph.add_grid_tedges(nodes, unary_bg, unary_fg)
    graph.maxflow()
    result = mask.copy()
    result[band] = ~graph.get_grid_segments(nodes)
    return result
