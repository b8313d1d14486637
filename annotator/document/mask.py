"""Mask: one object's binary mask on one frame, as a bbox plus a bool crop.

In memory a mask keeps only the crop inside its bounding box; at rest it is COCO compressed RLE
(pycocotools). Coordinates: bbox = (x0, y0, x1, y1) in image pixels, x1/y1 exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pycocotools import mask as cocomask

BBox = tuple[int, int, int, int]


def _bbox_of(array: np.ndarray) -> BBox:
    rows = np.flatnonzero(array.any(axis=1))
    if len(rows) == 0:
        return (0, 0, 0, 0)
    cols = np.flatnonzero(array.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


@dataclass(frozen=True, eq=False)
class Mask:
    """Binary mask of an image of `height` x `width`: `crop` (bool) placed at `bbox` (xyxy)."""

    height: int
    width: int
    bbox: BBox
    crop: np.ndarray

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = self.bbox
        if self.crop.shape != (y1 - y0, x1 - x0) or self.crop.dtype != bool:
            raise ValueError(f"crop of shape {self.crop.shape} does not fit bbox {self.bbox}")
        if not (0 <= x0 <= x1 <= self.width and 0 <= y0 <= y1 <= self.height):
            raise ValueError(f"bbox {self.bbox} lies outside a {self.width}x{self.height} image")
        self.crop.setflags(write=False)

    @classmethod
    def empty(cls, height: int, width: int) -> Mask:
        """An empty mask of the given image size."""
        return cls(height, width, (0, 0, 0, 0), np.zeros((0, 0), bool))

    @classmethod
    def from_array(cls, array: np.ndarray) -> Mask:
        """Mask from a full HxW array (nonzero = inside)."""
        full = np.asarray(array).astype(bool, copy=False)
        if full.ndim != 2:
            raise ValueError(f"a mask must be 2-D, got shape {full.shape}")
        x0, y0, x1, y1 = _bbox_of(full)
        return cls(full.shape[0], full.shape[1], (x0, y0, x1, y1), full[y0:y1, x0:x1].copy())

    @classmethod
    def from_crop(cls, height: int, width: int, origin: tuple[int, int], crop: np.ndarray) -> Mask:
        """Mask from a bool crop whose top-left corner is `origin` (x, y); tightens the bbox."""
        local = np.asarray(crop, bool)
        lx0, ly0, lx1, ly1 = _bbox_of(local)
        if lx1 == 0:
            return cls.empty(height, width)
        x, y = origin
        return cls(height, width, (x + lx0, y + ly0, x + lx1, y + ly1), local[ly0:ly1, lx0:lx1].copy())

    @classmethod
    def from_rle(cls, rle: dict) -> Mask:
        """Mask from COCO RLE ({'size': [h, w], 'counts': str | bytes | list})."""
        height, width = (int(v) for v in rle["size"])
        counts = rle["counts"]
        if isinstance(counts, list):
            counts = cocomask.frPyObjects({"size": [height, width], "counts": counts}, height, width)["counts"]
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        full = cocomask.decode({"size": [height, width], "counts": counts})
        return cls.from_array(full)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the image the mask belongs to."""
        return (self.height, self.width)

    @property
    def area(self) -> int:
        """Number of pixels inside."""
        return int(np.count_nonzero(self.crop))

    @property
    def is_empty(self) -> bool:
        """True when no pixel is inside."""
        return self.crop.size == 0 or not self.crop.any()

    def contains(self, x: int, y: int) -> bool:
        """True when pixel (x, y) is inside the mask."""
        x0, y0, x1, y1 = self.bbox
        return x0 <= x < x1 and y0 <= y < y1 and bool(self.crop[y - y0, x - x0])

    def to_array(self) -> np.ndarray:
        """The full HxW bool array."""
        full = np.zeros((self.height, self.width), bool)
        x0, y0, x1, y1 = self.bbox
        full[y0:y1, x0:x1] = self.crop
        return full

    def region(self, box: BBox) -> np.ndarray:
        """The bool content of the image region `box` (xyxy), zero outside the mask's bbox."""
        bx0, by0, bx1, by1 = box
        out = np.zeros((by1 - by0, bx1 - bx0), bool)
        x0, y0, x1, y1 = self.bbox
        ix0, iy0, ix1, iy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
        if ix0 < ix1 and iy0 < iy1:
            out[iy0 - by0 : iy1 - by0, ix0 - bx0 : ix1 - bx0] = self.crop[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
        return out

    def to_rle(self) -> dict:
        """COCO compressed RLE: {'size': [h, w], 'counts': ascii str} (computed once per mask)."""
        counts = self.__dict__.get("_counts")
        if counts is None:
            # RLE runs down the columns: build the image column by column (a C-ordered W x H array is
            # the Fortran-ordered H x W one encode wants), so only the crop is transposed and copied.
            x0, y0, x1, y1 = self.bbox
            columns = np.zeros((self.width, self.height), np.uint8)
            columns[x0:x1, y0:y1] = self.crop.T.view(np.uint8)
            counts = cocomask.encode(columns.T)["counts"].decode("ascii")
            object.__setattr__(self, "_counts", counts)
        return {"size": [self.height, self.width], "counts": counts}

    def equals(self, other: Mask | None) -> bool:
        """Pixel-wise equality (an empty mask equals None)."""
        if other is None:
            return self.is_empty
        if self.size != other.size:
            return False
        if self.is_empty or other.is_empty:
            return self.is_empty and other.is_empty
        return self.bbox == other.bbox and bool(np.array_equal(self.crop, other.crop))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mask) and self.equals(other)

    def __hash__(self) -> int:
        return hash((self.height, self.width, self.bbox, self.area))


def union_box(a: BBox, b: BBox) -> BBox:
    """The smallest xyxy box holding both (an empty box (x0 == x1) is ignored)."""
    if a[0] == a[2] or a[1] == a[3]:
        return b
    if b[0] == b[2] or b[1] == b[3]:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
