"""Mask <-> polygon conversion: OpenCV contours, shapely validity and simplification.

Two coordinate conventions, because the consumers rasterise polygons differently:
- "edge" (COCO): pixel (i, j) covers [i, i+1] x [j, j+1]; a pixel is inside when its centre
  is (pycocotools). Polygons outline the pixels' outer edges.
- "center" (labelme, YOLO): pixel (i, j) is the point (i, j); the polygon and its outline are
  drawn inclusively (PIL ImageDraw, cv2.fillPoly). Polygons run through the centres of the
  boundary pixels.
Polygons are valid (shapely make_valid); a multi-part mask gives several polygons. Formats that
know no holes get a polygon with holes cut into hole-free pieces along straight lines through
the holes (the union is the same area), or as an option one ring with each hole spliced in by
a zero-width cut ("keyhole"), which even-odd rasterisers (pycocotools, PIL) fill correctly.
"""

from __future__ import annotations

import logging
from typing import Literal

import cv2
import numpy as np
import shapely
import shapely.affinity
from PIL import Image, ImageDraw
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

Convention = Literal["edge", "center"]
HoleMode = Literal["split", "keyhole", "drop"]
DEFAULT_TOLERANCE = 0.5
"""Simplification tolerance in pixels: IoU >= 0.99 on typical object masks."""
Ring = np.ndarray
"""Nx2 float64 array of (x, y) vertices, not closed (first vertex not repeated)."""


def _ring_area(ring: np.ndarray, grow: float) -> BaseGeometry:
    """The area of one contour ring (any shape, even degenerate) grown by `grow` (may be < 0)."""
    points = ring.reshape(-1, 2).astype(np.float64)
    if len(points) < 3:
        base: BaseGeometry = LineString(points) if len(points) == 2 else Point(points[0])
    else:
        base = shapely.make_valid(Polygon(points))
    return shapely.buffer(base, grow, cap_style="square", join_style="mitre", mitre_limit=2.0)


def _contour_geometries(mask: np.ndarray, grow: float) -> list[BaseGeometry]:
    """One geometry per outer contour (8-connected) grown by `grow`, minus its holes shrunk by it.

    Outer rings and hole rings run through the centres of foreground pixels; handled apart, a
    hole that touches the outline at a diagonal pinch is kept (as one polygon it would not be).
    """
    data = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(data, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]
    geometries = []
    for index, contour in enumerate(contours):
        if links[index][3] != -1:
            continue
        holes, child = [], links[index][2]
        while child != -1:
            holes.append(_ring_area(contours[child], -grow))
            child = links[child][0]
        shell = _ring_area(contour, grow)
        geometries.append(shapely.difference(shell, shapely.union_all(holes)) if holes else shell)
    return geometries


def _polygons_of(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons with area inside any geometry (lines and points are dropped)."""
    if isinstance(geometry, Polygon):
        return [geometry] if not geometry.is_empty and geometry.area > 0 else []
    if hasattr(geometry, "geoms"):
        return [p for part in geometry.geoms for p in _polygons_of(part)]
    return []


def _edge_geometry(mask: np.ndarray) -> BaseGeometry:
    """The union of the mask's pixel squares (pixel (i, j) = [i, i+1] x [j, j+1]), valid."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return Polygon()
    cols = np.flatnonzero(mask.any(axis=0))
    x0, y0 = int(cols[0]), int(rows[0])
    crop = mask[y0 : rows[-1] + 1, x0 : cols[-1] + 1]
    # At twice the resolution a one-pixel-wide part is two pixels wide, so its contour through
    # the half-pixel centres is never degenerate; a quarter-pixel buffer then reaches the edges.
    doubled = np.pad(crop.repeat(2, axis=0).repeat(2, axis=1), 1)
    parts = _contour_geometries(doubled, 0.5)
    shape = shapely.make_valid(shapely.union_all([p for part in parts for p in _polygons_of(part)]))
    # doubled pixel u (after the pad: u - 1) has its centre at original (u - 1 + 0.5) / 2.
    return shapely.affinity.affine_transform(shape, [0.5, 0, 0, 0.5, x0 - 0.25, y0 - 0.25])


def mask_geometry(mask: np.ndarray, convention: Convention = "edge", tolerance: float = 0.0) -> list[Polygon]:
    """Valid polygons (with holes) of an HxW bool mask, simplified by `tolerance` pixels."""
    shape = _edge_geometry(np.asarray(mask, dtype=bool))
    if tolerance > 0:
        shape = shapely.make_valid(shapely.simplify(shape, tolerance, preserve_topology=True))
    if convention == "center":
        # Inclusive rasterisers (PIL, cv2.fillPoly) truncate vertices to whole pixels: pulling
        # every edge a quarter pixel inwards turns the pixel run [i, j] into [i + 0.25, j - 0.25],
        # which they fill as pixels i .. j - 1.
        shape = shapely.make_valid(shapely.buffer(shape, -0.25, join_style="mitre", mitre_limit=2.0))
    return _polygons_of(shape)


def _ring(coords: object) -> Ring:
    ring = np.asarray(coords, dtype=np.float64)[:, :2]
    return ring[:-1] if len(ring) > 1 and np.array_equal(ring[0], ring[-1]) else ring


def _cut_box(polygon: Polygon, hole: Polygon, convention: Convention) -> tuple[Polygon, Polygon]:
    """Two half-plane boxes whose border crosses `hole`, on no pixel centre where possible."""
    minx, miny, maxx, maxy = (v + s for v, s in zip(polygon.bounds, (-1, -1, 1, 1), strict=True))
    hx0, hy0, hx1, hy1 = hole.bounds
    offset = 0.0 if convention == "edge" else 0.5
    cut, vertical = (hx0 + hx1) / 2, True
    for low, high, along_x in ((hx0, hx1, True), (hy0, hy1, False)):
        inside = np.arange(np.floor(low - offset) + 1, np.ceil(high - offset)) + offset
        if len(inside):
            cut, vertical = float(inside[len(inside) // 2]), along_x
            break
    if vertical:
        return shapely.box(minx, miny, cut, maxy), shapely.box(cut, miny, maxx, maxy)
    return shapely.box(minx, miny, maxx, cut), shapely.box(minx, cut, maxx, maxy)


def split_holes(polygon: Polygon, convention: Convention = "edge") -> list[Polygon]:
    """Hole-free polygons whose union is `polygon`: cut by straight lines through the holes."""
    done: list[Polygon] = []
    pending = [polygon]
    while pending:
        piece = pending.pop()
        if not piece.interiors:
            done.append(piece)
            continue
        first, second = _cut_box(piece, Polygon(piece.interiors[0]), convention)
        for half in (first, second):
            pending.extend(_polygons_of(shapely.make_valid(piece.intersection(half))))
    return done


def keyhole(polygon: Polygon) -> Ring:
    """One ring for a polygon with holes: each hole spliced in through its nearest vertex."""
    ring = _ring(polygon.exterior.coords)
    for interior in polygon.interiors:
        hole = _ring(interior.coords)
        if len(hole) < 3:
            continue
        distances = ((ring[:, None, :] - hole[None, :, :]) ** 2).sum(axis=2)
        i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
        spliced = np.concatenate([hole[j:], hole[: j + 1]])
        ring = np.concatenate([ring[: i + 1], spliced, ring[i:]])
    return ring


def _splice(ring: Ring, at: int, part: Ring) -> Ring:
    """`ring` with the closed `part` inserted after vertex `at`: a zero-width cut from ring[at] to part[0] and back."""
    return np.concatenate([ring[: at + 1], part, part[:1], ring[at:]])


def _spanning_tree(parts: list[Ring]) -> dict[int, list[tuple[int, int, int]]]:
    """Prim's minimum spanning tree over the parts by their closest vertices, grown from part 0.

    Returns {parent: [(child, parent's vertex, child's vertex), ...]}.
    """
    trees = [cKDTree(part) for part in parts]
    best: dict[int, tuple[float, int, int, int]] = {}  # outside part -> (distance, inside part, its vertex, vertex)
    children: dict[int, list[tuple[int, int, int]]] = {}
    inside, added = {0}, 0
    while len(inside) < len(parts):
        for other in (part for part in range(len(parts)) if part not in inside):
            distances, nearest = trees[added].query(parts[other])
            k = int(np.argmin(distances))
            if other not in best or distances[k] < best[other][0]:
                best[other] = (float(distances[k]), added, int(nearest[k]), k)
        added = min(best, key=lambda part: best[part][0])
        _, parent, at, start = best.pop(added)
        inside.add(added)
        children.setdefault(parent, []).append((added, at, start))
    return children


def bridge(rings: list[Ring]) -> Ring:
    """One ring for several parts: the parts joined by zero-width cuts between their closest vertices.

    The cuts follow a minimum spanning tree over the parts. An even-odd or non-zero rasteriser
    (cv2.fillPoly, PIL) fills the union of the parts plus the one-pixel lines of the cuts: this is
    how a format with one polygon per object (YOLO) keeps a multi-part object one object.
    """
    parts = [np.asarray(r, np.float64) for r in rings if len(r) >= 3]
    if len(parts) <= 1:
        return parts[0] if parts else np.zeros((0, 2))
    parts.sort(key=len, reverse=True)
    children = _spanning_tree(parts)
    # Each part's ring, rotated to start at the vertex its parent's cut reaches, its own children spliced in;
    # children before parents (reverse order of addition), so every subtree is ready when its parent is built.
    starts = {child: start for kids in children.values() for child, _, start in kids}
    order = [0]
    for node in order:
        order.extend(child for child, _, _ in children.get(node, []))
    built: dict[int, Ring] = {}
    for node in reversed(order):
        ring = np.roll(parts[node], -starts.get(node, 0), axis=0)
        shift = starts.get(node, 0)
        kids = [(child, (at - shift) % len(parts[node])) for child, at, _ in children.get(node, [])]
        for child, at in sorted(kids, key=lambda kid: -kid[1]):  # later vertices first: earlier indices stay
            ring = _splice(ring, at, built.pop(child))
        built[node] = ring
    return built[0]


def split_cuts(points: np.ndarray) -> list[Ring]:
    """The loops of a polygon whose parts are joined by zero-width cuts (`bridge`, `keyhole`), split where a
    vertex comes back; the cuts themselves (loops of fewer than 3 vertices) are dropped.

    Filled together even-odd (cv2.fillPoly with every loop), the loops cover the polygon's area without
    the one-pixel lines that filling it whole paints along its cuts. A polygon without a repeated vertex
    is its own one loop.
    """
    stack: list[tuple[float, float]] = []
    where: dict[tuple[float, float], int] = {}
    loops: list[Ring] = []
    for point in map(tuple, np.asarray(points, np.float64).reshape(-1, 2).tolist()):
        if point not in where:
            where[point] = len(stack)
            stack.append(point)
            continue
        start = where[point]
        loop = stack[start:]
        for dropped in stack[start + 1 :]:
            del where[dropped]
        del stack[start + 1 :]
        if len(loop) >= 3:
            loops.append(np.array(loop))
    if len(stack) >= 3 or not loops:
        loops.append(np.array(stack))
    return loops


def mask_to_polygons(
    mask: np.ndarray, convention: Convention = "edge", tolerance: float = DEFAULT_TOLERANCE, holes: HoleMode = "split"
) -> list[Ring]:
    """Rings of an HxW bool mask, one or more per part; holes split into hole-free pieces by default."""
    rings = []
    for polygon in mask_geometry(mask, convention, tolerance):
        if holes == "split":
            pieces = [_ring(p.exterior.coords) for p in split_holes(polygon, convention)]
        elif holes == "keyhole":
            pieces = [keyhole(polygon)]
        else:
            pieces = [_ring(polygon.exterior.coords)]
        rings.extend(ring for ring in pieces if len(ring) >= 3)
    return rings


def polygons_to_mask(rings: list[Ring], height: int, width: int, convention: Convention = "center") -> np.ndarray:
    """Rasterise rings (union, each filled even-odd) to an HxW bool mask in the given convention."""
    if convention == "edge":
        from pycocotools import mask as cocomask

        flat = [np.asarray(r, np.float64).reshape(-1).tolist() for r in rings if len(r) >= 3]
        if not flat:
            return np.zeros((height, width), bool)
        rles = cocomask.frPyObjects(flat, height, width)
        return cocomask.decode(cocomask.merge(rles)).astype(bool)
    full = np.zeros((height, width), bool)
    for ring in rings:
        image = Image.new("1", (width, height), 0)
        ImageDraw.Draw(image).polygon([(float(x), float(y)) for x, y in ring], fill=1, outline=1)
        full |= np.asarray(image, dtype=bool)
    return full
