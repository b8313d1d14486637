"""COCO run-length encoding: strict validation of untrusted RLE, and conversion to Mask.

pycocotools trusts its input: a counts string whose runs do not add up to height x width makes
its decoder write past its buffer. So every RLE read from a file is checked here first, with a
vectorised decoder of the compressed counts string (the LEB128-like code of pycocotools'
maskApi.c: 5 bits a character from '0', 0x20 = more follows, 0x10 = sign, runs from the fourth
on stored as the difference to the run two before).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pycocotools import mask as cocomask

from annotator.document.mask import Mask
from annotator.io.common import Reader

log = logging.getLogger(__name__)


def decode_counts(counts: str | bytes) -> np.ndarray | None:
    """Run lengths (int64) of a compressed counts string, or None when it is not well formed."""
    if isinstance(counts, str) and not counts.isascii():
        return None
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    codes = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    if len(codes) == 0:
        return np.zeros(0, np.int64)
    if codes.min() < 0 or codes.max() > 63:
        return None
    more = (codes & 0x20) != 0
    if more[-1]:
        return None
    ends = np.flatnonzero(~more)
    starts = np.concatenate([[0], ends[:-1] + 1])
    group = np.repeat(np.arange(len(ends)), ends - starts + 1)
    shift = 5 * (np.arange(len(codes)) - starts[group])
    if shift.max() > 55:
        return None
    values = np.zeros(len(ends), np.int64)
    np.add.at(values, group, (codes & 0x1F) << shift)
    negative = (codes[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (shift[ends][negative] + 5)
    # Runs from index 3 on are deltas to the run two places before.
    runs = values.copy()
    if len(runs) > 3:
        runs[3::2] = runs[1] + np.cumsum(values[3::2])
    if len(runs) > 4:
        runs[4::2] = runs[2] + np.cumsum(values[4::2])
    return runs


def parse_rle(reader: Reader, value: Any, element: str, size: tuple[int, int] | None = None) -> Mask:
    """A Mask from an untrusted RLE dict {'size': [h, w], 'counts': str | [int]}; FormatError if bad.

    `size` (height, width) is the image's size, which the RLE's size must equal.
    """
    rle = reader.check(value, dict, element)
    dims = reader.get(rle, "size", list, element)
    if len(dims) != 2:
        raise reader.fail(f"{element}.size", f"must be [height, width], not {dims!r}")
    height, width = (reader.integer(v, f"{element}.size", minimum=0) for v in dims)
    reader.image_size(width, height, f"{element}.size")
    if size is not None and (height, width) != tuple(size):
        raise reader.fail(f"{element}.size", f"is {height}x{width} (h x w) but the image is {size[0]}x{size[1]}")
    counts = reader.get(rle, "counts", (str, list), element)
    if isinstance(counts, list):
        runs = np.array([reader.integer(c, f"{element}.counts", minimum=0) for c in counts], np.int64)
    else:
        decoded = decode_counts(counts)
        if decoded is None:
            raise reader.fail(f"{element}.counts", "is not a valid compressed RLE string")
        runs = decoded
    if (runs < 0).any() or (runs > height * width).any() or int(runs.sum()) != height * width:
        raise reader.fail(
            f"{element}.counts", f"runs cover {int(runs.sum())} pixels, not {height}x{width} = {height * width}"
        )
    return mask_from_runs(height, width, runs)


def _runs_of_crop(mask: Mask) -> np.ndarray:
    """Column-major run lengths of the full image, computed from the bbox columns only."""
    height, width = mask.height, mask.width
    if mask.is_empty:
        return np.array([height * width], np.int64)
    x0, y0, x1, y1 = mask.bbox
    block = np.zeros((x1 - x0, height), bool)
    block[:, y0:y1] = mask.crop.T
    flat = block.reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).astype(np.int64)
    if flat[0]:
        runs = np.concatenate(([0], runs))
    runs[0] += height * x0
    if flat[-1]:
        if x1 < width:
            runs = np.concatenate((runs, [height * (width - x1)]))
    else:
        runs[-1] += height * (width - x1)
    return runs


def mask_runs(mask: Mask) -> np.ndarray:
    """Column-major run lengths of a mask (int64, starting with a background run): uncompressed RLE counts."""
    return _runs_of_crop(mask)


def mask_to_rle(mask: Mask) -> dict:
    """COCO compressed RLE {'size': [h, w], 'counts': str} of a mask, equal to `mask.to_rle()`.

    Works on the bbox columns only, so it is several times faster than encoding the full image.
    """
    runs = _runs_of_crop(mask)
    size = [mask.height, mask.width]
    encoded = cocomask.frPyObjects({"size": size, "counts": runs.tolist()}, mask.height, mask.width)
    return {"size": size, "counts": encoded["counts"].decode("ascii")}


def mask_from_runs(height: int, width: int, runs: np.ndarray) -> Mask:
    """A Mask from checked column-major run lengths (sum = height x width), filling the bbox columns only."""
    starts = np.cumsum(runs) - runs
    begin, length = starts[1::2], runs[1::2]
    keep = length > 0
    begin, end = begin[keep], begin[keep] + length[keep]
    if len(begin) == 0:
        return Mask.empty(height, width)
    x0, x1 = int(begin[0]) // height, (int(end[-1]) - 1) // height + 1
    base = x0 * height
    steps = np.zeros((x1 - x0) * height + 1, np.int32)
    steps[begin - base] += 1  # begins are distinct, and so are ends
    steps[end - base] -= 1
    block = (np.cumsum(steps[:-1]) > 0).reshape(x1 - x0, height).T
    return Mask.from_crop(height, width, (x0, 0), block)
