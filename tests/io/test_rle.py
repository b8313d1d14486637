"""Strict RLE parsing: agrees with pycocotools on valid input, FormatError on anything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as cocomask

from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.common import Reader
from annotator.io.rle import decode_counts, mask_from_runs, mask_to_rle, parse_rle

READER = Reader(Path("test.json"))


def _runs(mask: np.ndarray) -> list[int]:
    flat = mask.flatten(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_decode_counts_matches_pycocotools(height: int, width: int, seed: int, density: float) -> None:
    mask = np.random.default_rng(seed).random((height, width)) < density
    counts = cocomask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]
    assert decode_counts(counts).tolist() == _runs(mask)
    parsed = parse_rle(READER, {"size": [height, width], "counts": counts.decode()}, "rle", (height, width))
    assert np.array_equal(parsed.to_array(), mask)


def test_uncompressed_counts_are_read() -> None:
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    parsed = parse_rle(READER, {"size": [4, 5], "counts": _runs(mask)}, "rle")
    assert parsed.equals(Mask.from_array(mask))


@pytest.mark.parametrize(
    ("rle", "problem"),
    [
        ({"size": [4, 4], "counts": "Z"}, "not a valid compressed RLE"),
        ({"size": [4, 4], "counts": "05"}, "runs cover"),
        ({"size": [4, 4], "counts": [3, 3]}, "runs cover"),
        ({"size": [4, 4], "counts": [-1, 17]}, "at least 0"),
        ({"size": [5, 4], "counts": [20]}, "but the image is 4x4"),
        ({"size": [4], "counts": [16]}, "must be [height, width]"),
        ({"size": [4, 4]}, "misses the key 'counts'"),
        ({"size": "4x4", "counts": [16]}, "must be a list"),
        ({"size": [4, 4], "counts": 16}, "must be a string or a list"),
        ([16], "must be an object"),
        ({"size": [4, 4], "counts": "\u00e9"}, "not a valid compressed RLE"),
    ],
)
def test_bad_rle_is_a_format_error(rle: object, problem: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_rle(READER, rle, "annotations[0].segmentation", (4, 4))
    assert problem in caught.value.problem
    assert caught.value.path == "test.json" and caught.value.element.startswith("annotations[0].segmentation")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=130), max_size=30))
def test_any_counts_string_is_a_mask_or_a_format_error(counts: str) -> None:
    try:
        mask = parse_rle(READER, {"size": [6, 7], "counts": counts}, "rle")
    except FormatError:
        return
    assert mask.size == (6, 7)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**32 - 1), st.floats(0, 1), st.booleans())
def test_fast_encoder_equals_mask_to_rle(height: int, width: int, seed: int, density: float, boxed: bool) -> None:
    rng = np.random.default_rng(seed)
    full = rng.random((height, width)) < density
    if boxed:
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        full[:y0] = False
        full[:, :x0] = False
    mask = Mask.from_array(full)
    assert mask_to_rle(mask) == mask.to_rle()
    assert mask_from_runs(height, width, decode_counts(mask.to_rle()["counts"])).equals(mask)


def test_fast_codec_on_empty_and_full_masks() -> None:
    for full in (np.zeros((3, 4), bool), np.ones((3, 4), bool)):
        mask = Mask.from_array(full)
        assert mask_to_rle(mask) == mask.to_rle()
        assert mask_from_runs(3, 4, decode_counts(mask.to_rle()["counts"])).equals(mask)
