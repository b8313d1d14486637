"""Mask: bbox + crop in memory, COCO RLE at rest."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as cocomask

from annotator.document.mask import Mask, union_box


def _blob() -> np.ndarray:
    full = np.zeros((30, 40), bool)
    full[5:12, 8:20] = True
    full[20, 35] = True
    return full


def test_from_array_keeps_only_the_bbox_crop() -> None:
    mask = Mask.from_array(_blob())
    assert mask.bbox == (8, 5, 36, 21)
    assert mask.crop.shape == (16, 28)
    assert mask.area == 7 * 12 + 1
    assert np.array_equal(mask.to_array(), _blob())


def test_rle_round_trip_is_bit_exact_and_readable_by_pycocotools() -> None:
    mask = Mask.from_array(_blob())
    rle = mask.to_rle()
    assert rle["size"] == [30, 40] and isinstance(rle["counts"], str)
    decoded = cocomask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert np.array_equal(decoded.astype(bool), _blob())
    assert Mask.from_rle(rle) == mask
    assert Mask.from_rle({"size": [30, 40], "counts": [1200]}).is_empty
    assert Mask.from_rle({"size": [30, 40], "counts": [0, 1200]}).area == 1200


def test_empty_masks() -> None:
    empty = Mask.empty(10, 20)
    assert empty.is_empty and empty.area == 0 and empty.bbox == (0, 0, 0, 0)
    assert Mask.from_array(np.zeros((10, 20), bool)) == empty
    assert empty.equals(None)
    assert not Mask.from_array(_blob()).equals(None)
    assert Mask.from_rle(empty.to_rle()).is_empty


def test_region_and_from_crop() -> None:
    mask = Mask.from_array(_blob())
    region = mask.region((0, 0, 10, 10))
    assert np.array_equal(region, _blob()[0:10, 0:10])
    crop = np.zeros((5, 5), bool)
    crop[1:3, 2:4] = True
    placed = Mask.from_crop(30, 40, (10, 10), crop)
    assert placed.bbox == (12, 11, 14, 13)
    assert Mask.from_crop(30, 40, (0, 0), np.zeros((3, 3), bool)).is_empty


def test_invalid_masks_are_refused() -> None:
    with pytest.raises(ValueError):
        Mask(10, 10, (0, 0, 5, 5), np.zeros((4, 4), bool))
    with pytest.raises(ValueError):
        Mask(10, 10, (0, 0, 12, 5), np.zeros((5, 12), bool))
    with pytest.raises(ValueError):
        Mask.from_array(np.zeros((2, 2, 2)))


def test_union_box_ignores_empty_boxes() -> None:
    assert union_box((0, 0, 0, 0), (1, 2, 3, 4)) == (1, 2, 3, 4)
    assert union_box((1, 1, 5, 5), (3, 0, 8, 2)) == (1, 0, 8, 5)
