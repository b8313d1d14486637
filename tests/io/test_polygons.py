"""Mask <-> polygon conversion: exact at zero tolerance, valid, IoU >= 0.98 on real masks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import Polygon

from annotator.io.polygons import mask_geometry, mask_to_polygons, polygons_to_mask, split_holes

from .conftest import disc, ring_mask

log = logging.getLogger(__name__)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 for two empty masks)."""
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


@pytest.mark.parametrize("convention", ["edge", "center"])
@pytest.mark.parametrize("holes", ["split", "keyhole"])
def test_zero_tolerance_is_exact_on_tricky_shapes(convention: str, holes: str) -> None:
    mask = ring_mask(50, 64)
    rings = mask_to_polygons(mask, convention, tolerance=0.0, holes=holes)
    back = polygons_to_mask(rings, 50, 64, convention)
    assert np.array_equal(back, mask)


@pytest.mark.parametrize("convention", ["edge", "center"])
def test_polygons_are_valid_and_hole_free_after_split(convention: str) -> None:
    polygons = mask_geometry(ring_mask(50, 64), convention, tolerance=0.5)
    assert polygons and all(p.is_valid for p in polygons)
    assert any(p.interiors for p in polygons)
    pieces = [piece for p in polygons for piece in split_holes(p, convention)]
    assert all(piece.is_valid and not piece.interiors for piece in pieces)
    assert sum(piece.area for piece in pieces) == pytest.approx(sum(p.area for p in polygons))


def test_multi_part_mask_gives_several_polygons() -> None:
    mask = disc(40, 40, 10, 10, 5) | disc(40, 40, 30, 30, 5)
    assert len(mask_to_polygons(mask, "edge")) == 2


def test_edge_polygon_of_one_pixel_is_its_square() -> None:
    mask = np.zeros((5, 5), bool)
    mask[2, 3] = True
    (ring,) = mask_to_polygons(mask, "edge", tolerance=0.0)
    assert Polygon(ring).equals(Polygon([(3, 2), (4, 2), (4, 3), (3, 3)]))


def test_empty_mask_gives_no_polygon() -> None:
    assert mask_to_polygons(np.zeros((10, 10), bool)) == []


def _shared_masks(root: Path) -> list[tuple[str, np.ndarray]]:
    masks = [(p.stem, np.asarray(Image.open(p)) > 0) for p in sorted((root / "masks").glob("*.png"))]
    for path in sorted((root / "instances").glob("*.png")):
        index = np.asarray(Image.open(path))
        masks += [(f"{path.stem}#{v}", index == v) for v in np.unique(index) if v]
    return masks


@pytest.mark.data
@pytest.mark.parametrize("convention", ["edge", "center"])
def test_polygon_iou_on_shared_masks(shared_data: Path, convention: str) -> None:
    scores = []
    for _, mask in _shared_masks(shared_data):
        rings = mask_to_polygons(mask, convention)
        scores.append(iou(mask, polygons_to_mask(rings, *mask.shape, convention)))
    values = np.array(scores)
    log.info(
        "polygon IoU (%s, default tolerance) over %d masks: min %.4f p10 %.4f median %.4f mean %.4f",
        convention,
        len(values),
        values.min(),
        np.percentile(values, 10),
        np.median(values),
        values.mean(),
    )
    assert values.min() >= 0.98


def _fill(rings: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """cv2.fillPoly of the rings together (as Ultralytics and the YOLO import rasterise), as bool."""
    import cv2

    canvas = np.zeros((height, width), np.uint8)
    cv2.fillPoly(canvas, [np.asarray(r).astype(np.int32) for r in rings], 1)
    return canvas.astype(bool)


def test_bridge_joins_every_part_into_one_ring_and_split_cuts_gives_them_back() -> None:
    from annotator.io.polygons import bridge, split_cuts

    mask = ring_mask(50, 64) | disc(50, 64, 55, 10, 5)
    rings = mask_to_polygons(mask, "center", tolerance=0.0, holes="keyhole")
    assert len(rings) >= 5  # the square with its hole and island, the line, the pinched squares, the pixel, the disc
    joined = bridge(rings)
    vertices = {tuple(v) for v in joined.tolist()}
    assert vertices == {tuple(v) for ring in rings for v in ring.tolist()}  # every part's vertices, no new one
    # Filled whole: the parts plus the thin cuts between them; split at its cuts: exactly the parts.
    whole = _fill([joined], 50, 64)
    assert (mask & ~whole).sum() == 0 and 0 < (whole & ~mask).sum() < 60
    assert np.array_equal(_fill(split_cuts(joined), 50, 64), mask)


def test_split_cuts_leaves_a_simple_polygon_alone() -> None:
    from annotator.io.polygons import bridge, split_cuts

    square = np.array([[2.0, 2.0], [10.0, 2.0], [10.0, 8.0], [2.0, 8.0]])
    (loop,) = split_cuts(square)
    assert np.array_equal(loop, square)
    assert np.array_equal(bridge([square]), square)
