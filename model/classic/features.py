"""Per-image features of the classic engine: a downscaled grid, colour bins, edge weights."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Colour histograms use BINS levels per Lab channel (BINS**3 bins in all).
BINS = 16


@dataclass(frozen=True)
class Grid:
    """The working grid: size, scale from image pixels to grid cells, and what embed precomputed.

    bins: h x w int32 colour-bin index; weights: 4 x h x w float32 contrast-sensitive edge
    weights to the right, down, down-right and down-left neighbours; contrast: 4 x h x w float32
    colour distances to the same neighbours (relative to their mean); gradient: h x w float32.
    """

    size: tuple[int, int]  # (h, w) of the grid
    image_size: tuple[int, int]  # (H, W) of the image
    bins: np.ndarray
    weights: np.ndarray
    contrast: np.ndarray
    gradient: np.ndarray

    @property
    def scale(self) -> float:
        """Grid cells per image pixel (<= 1)."""
        return self.size[1] / self.image_size[1]


def grid_size(image_size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(h, w) of a grid whose long side is at most `long_side`, aspect kept."""
    height, width = image_size
    scale = min(1.0, long_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def colour_bins(lab: np.ndarray) -> np.ndarray:
    """Quantise an HxWx3 uint8 Lab image to BINS**3 bins (int32 index per pixel)."""
    q = (lab.astype(np.int32) * BINS) >> 8
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


def _squared_norm(step: np.ndarray) -> np.ndarray:
    """|v|^2 of an h x w x 3 array of vectors (np.sum(axis=2) is several times slower)."""
    return step[..., 0] ** 2 + step[..., 1] ** 2 + step[..., 2] ** 2


def edge_weights(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contrast-sensitive weights exp(-beta |dI|^2) / dist, relative colour distances), both 4xhxw."""
    image = lab.astype(np.float32)
    height, width = image.shape[:2]
    diffs = np.zeros((4, height, width), np.float32)
    diffs[0, :, :-1] = _squared_norm(image[:, 1:] - image[:, :-1])
    diffs[1, :-1, :] = _squared_norm(image[1:, :] - image[:-1, :])
    diffs[2, :-1, :-1] = _squared_norm(image[1:, 1:] - image[:-1, :-1])
    diffs[3, :-1, 1:] = _squared_norm(image[1:, :-1] - image[:-1, 1:])
    mean = float(diffs.mean()) or 1.0
    weights = np.exp(-diffs / (2.0 * mean))
    weights[2:] /= np.sqrt(2.0)
    # Edges that leave the grid carry no weight.
    weights[0, :, -1] = 0
    weights[1, -1, :] = 0
    weights[2, -1, :] = 0
    weights[2, :, -1] = 0
    weights[3, -1, :] = 0
    weights[3, :, 0] = 0
    distance = np.sqrt(diffs)
    distance /= float(distance.mean()) or 1.0
    return weights.astype(np.float32), distance.astype(np.float32)


def to_lab(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to (h, w) with area averaging and convert it to 8-bit Lab."""
    height, width = size
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)


def build_grid(image: np.ndarray, long_side: int) -> Grid:
    """Compute the working grid of an RGB uint8 image."""
    size = grid_size(image.shape[:2], long_side)
    lab = to_lab(image, size)
    smooth = cv2.GaussianBlur(lab, (3, 3), 0)
    gray = smooth[..., 0].astype(np.float32)
    gradient = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    weights, contrast = edge_weights(smooth)
    return Grid(size, image.shape[:2], colour_bins(smooth), weights, contrast, gradient)


def grid_to_arrays(grid: Grid) -> dict[str, np.ndarray]:
    """The grid as a dict of numpy arrays (what an Embedding carries)."""
    return {
        "size": np.array(grid.size, np.int64),
        "image_size": np.array(grid.image_size, np.int64),
        "bins": grid.bins.astype(np.int16),
        "weights": grid.weights.astype(np.float16),
        "contrast": grid.contrast.astype(np.float16),
        "gradient": grid.gradient.astype(np.float16),
    }


def grid_from_arrays(data: dict[str, np.ndarray]) -> Grid:
    """Rebuild a Grid from `grid_to_arrays` output."""
    size = tuple(int(v) for v in data["size"])
    image_size = tuple(int(v) for v in data["image_size"])
    return Grid(
        size,  # type: ignore[arg-type]
        image_size,  # type: ignore[arg-type]
        data["bins"].astype(np.int32),
        data["weights"].astype(np.float32),
        data["contrast"].astype(np.float32),
        data["gradient"].astype(np.float32),
    )
