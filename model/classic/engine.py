"""The classic engine: no weights, OpenCV + graph cuts; the always-available default."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from model.classic.features import Grid, build_grid, grid_from_arrays, grid_to_arrays
from model.classic.geodesic import GeodesicGraph
from model.classic.interactive import CutSettings, GridPrompt, geodesic_ratio, refine_in_band, segment_with
from model.errors import EngineError
from model.protocol import (
    Embedding,
    EverythingSettings,
    FrameSource,
    Instance,
    Prediction,
    Progress,
    Prompt,
    VideoSession,
    check_image,
)

log = logging.getLogger(__name__)

# What `everything` uses when given no settings.
DEFAULT_EVERYTHING = EverythingSettings()

# Logits are (soft mask - 0.5) * LOGIT_SCALE on the grid, so 0 is the decision boundary.
LOGIT_SCALE = 20.0


@dataclass(frozen=True)
class ClassicConfig:
    """Working-grid size, cut settings, and the geodesic strengths of the candidates (tight .. loose)."""

    long_side: int = 400
    cut: CutSettings = field(default_factory=CutSettings)
    candidates: tuple[float, ...] = (8.0, 4.0, 1.0)
    # `preview` cuts on a grid this many times coarser, then re-cuts only a band this many cells
    # wide around its boundary on the working grid (1: no coarse grid, preview is predict).
    coarse_factor: int = 2
    band_radius: int = 2


def create_engine(device: str = "cpu", **options: object) -> ClassicEngine:
    """Registry factory: the classic engine runs on the CPU whatever `device` asks."""
    if device not in ("cpu", "auto", "", None):
        log.info("the classic engine runs on the CPU (asked for %s)", device)
    long_side = int(options.pop("long_side", 400))  # type: ignore[call-overload]
    if options:
        log.debug("classic engine ignores options %s", sorted(options))
    return ClassicEngine(ClassicConfig(long_side=long_side))


class ClassicEngine:
    """Graph-cut interactive segmentation on a downscaled grid; DIS optical flow for video."""

    name = "classic"
    device = "cpu"

    def __init__(self, config: ClassicConfig | None = None) -> None:
        self.config = config or ClassicConfig()
        self.model_id = f"classic-v2-{self.config.long_side}-{self.config.coarse_factor}"
        # The grids and graph of the last embedding, so that clicks on one image rebuild nothing.
        self._last: tuple[Embedding, Grid, Grid | None, GeodesicGraph] | None = None
        # The coarse grid's graph, built by the first `preview` on that embedding (predict never needs it).
        self._coarse_graph: tuple[Embedding, GeodesicGraph] | None = None

    def _prepared(self, embedding: Embedding) -> tuple[Grid, Grid | None, GeodesicGraph]:
        if self._last is None or self._last[0] is not embedding:
            grid = grid_from_arrays(embedding.data)
            coarse_data = {k[len("coarse_") :]: v for k, v in embedding.data.items() if k.startswith("coarse_")}
            coarse = grid_from_arrays(coarse_data) if coarse_data else None
            self._last = (embedding, grid, coarse, GeodesicGraph(grid, self.config.cut.geodesic_colour))
        return self._last[1], self._last[2], self._last[3]

    def embed(self, image: np.ndarray) -> Embedding:
        """Precompute the working grid (colour bins, edge weights) of an HxWx3 image."""
        rgb = check_image(image)
        grid = build_grid(rgb, self.config.long_side)
        data = grid_to_arrays(grid)
        factor = self.config.coarse_factor
        if factor > 1 and min(grid.size) >= 16 * factor:
            coarse = build_grid(rgb, max(grid.size) // factor)
            data.update({f"coarse_{k}": v for k, v in grid_to_arrays(coarse).items()})
        return Embedding(self.model_id, rgb.shape[:2], data, sum(a.nbytes for a in data.values()))

    def predict(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """Candidate masks for a prompt: several when `multimask` and a single click is ambiguous."""
        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model '{embedding.model_id}' given to '{self.model_id}'")
        grid, _, graph = self._prepared(embedding)
        grid_prompt = to_grid_prompt(grid, prompt)
        if grid_prompt is None:
            return empty_prediction(grid)
        strengths = [self.config.cut.geodesic]
        single_click = len(grid_prompt.points) == 1 and grid_prompt.box is None and grid_prompt.prior is None
        if prompt.multimask and single_click:
            strengths = list(self.config.candidates)
        ratio = geodesic_ratio(graph, grid_prompt, self.config.cut)
        cells = [segment_with(grid, grid_prompt, self.config.cut, ratio, s)[0] for s in strengths]
        scores = np.array([edge_score(grid, m) for m in cells], np.float32)
        return to_prediction(grid, cells, scores)

    def preview(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """A quick first mask (one candidate) for a prompt, that `predict` then refines.

        The geodesic and the cut run on the coarse grid; only a band around the coarse boundary is
        re-cut on the working grid. Without a coarse grid (small images) this is `predict`.
        """
        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model '{embedding.model_id}' given to '{self.model_id}'")
        grid, coarse, _ = self._prepared(embedding)
        grid_prompt = to_grid_prompt(grid, prompt)
        coarse_prompt = None if coarse is None else to_grid_prompt(coarse, prompt)
        if grid_prompt is None or coarse is None or coarse_prompt is None:
            return self.predict(
                embedding, Prompt(prompt.points, prompt.labels, prompt.box, prompt.logits, prompt.mask, False)
            )
        settings = self.config.cut
        strength = settings.geodesic
        if self._coarse_graph is None or self._coarse_graph[0] is not embedding:
            self._coarse_graph = (embedding, GeodesicGraph(coarse, settings.geodesic_colour))
        coarse_ratio = geodesic_ratio(self._coarse_graph[1], coarse_prompt, settings)
        mask, models = segment_with(coarse, coarse_prompt, settings, coarse_ratio, strength)
        height, width = grid.size
        ratio = cv2.resize(coarse_ratio, (width, height), interpolation=cv2.INTER_LINEAR)
        cells = refine_in_band(grid, grid_prompt, settings, ratio, strength, mask, models, self.config.band_radius)
        return to_prediction(grid, [cells], np.array([edge_score(grid, cells)], np.float32))

    def everything(
        self,
        embedding: Embedding,
        settings: EverythingSettings = DEFAULT_EVERYTHING,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> list[Instance]:
        """Object-region proposals without weights (superpixels merged into a region hierarchy), best first.

        `points_per_side` sets the superpixel lattice, `nms_iou` and `min_area` apply as for SAM;
        `min_score` and `min_stability` (SAM's predicted quality) do not apply: scores here are a
        boundary-contrast ranking in [0, 1].
        """
        from model.classic.everything import propose

        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model '{embedding.model_id}' given to '{self.model_id}'")
        return propose(grid_from_arrays(embedding.data), settings, cancel, progress)

    def open_video(self, frames: FrameSource) -> VideoSession:
        """A flow-warping tracking session over `frames`."""
        from model.classic.video import ClassicVideoSession

        return ClassicVideoSession(self, frames)


def to_grid_prompt(grid: Grid, prompt: Prompt) -> GridPrompt | None:
    """Map a prompt to grid cells; None when nothing usable is left (clicks outside, empty box)."""
    height, width = grid.image_size
    points, labels = prompt.points, prompt.labels
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    if not inside.all():
        log.warning("ignoring %d click(s) outside the %dx%d image", int((~inside).sum()), width, height)
    points, labels = points[inside], labels[inside]
    scale = grid.scale
    box = None
    if prompt.box is not None:
        x0, y0, x1, y1 = np.clip(prompt.box, 0, [width, height, width, height])
        if not np.isfinite(prompt.box).all() or x1 - x0 < 1 or y1 - y0 < 1:
            log.warning("ignoring a box with no area: %s", prompt.box.tolist())
        else:
            box = np.array([x0, y0, x1, y1], np.float32) * scale
    prior = _prior(grid, prompt)
    if len(points) == 0 and box is None and prior is None:
        return None
    return GridPrompt((points + 0.5) * scale - 0.5, labels, box, prior)


def _prior(grid: Grid, prompt: Prompt) -> np.ndarray | None:
    """The previous result as an hxw float map in [0, 1]: from `mask`, else from `logits`."""
    height, width = grid.size
    if prompt.mask is not None and prompt.mask.ndim == 2:
        return cv2.resize(prompt.mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    if prompt.logits is not None:
        logits = np.asarray(prompt.logits, np.float32)
        logits = logits.reshape(logits.shape[-2:]) if logits.ndim > 2 else logits
        if logits.ndim == 2 and logits.size:
            resized = cv2.resize(logits, (width, height), interpolation=cv2.INTER_LINEAR)
            return 1.0 / (1.0 + np.exp(-np.clip(resized, -50, 50)))
    return None


def edge_score(grid: Grid, mask: np.ndarray) -> float:
    """How well a mask's boundary follows image edges (mean gradient on it, relative), 0 if empty."""
    if not mask.any() or mask.all():
        return 0.0
    cells = mask.astype(np.uint8)
    boundary = (cv2.dilate(cells, np.ones((3, 3), np.uint8)) != cv2.erode(cells, np.ones((3, 3), np.uint8))).astype(
        bool
    )
    mean = float(grid.gradient.mean()) + 1e-6
    return float(grid.gradient[boundary].mean() / mean)


def upsample(cells: np.ndarray, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A grid mask -> (HxW bool mask at image size, hxw float32 logits)."""
    soft = cv2.GaussianBlur(cells.astype(np.float32), (3, 3), 0)
    height, width = image_size
    full = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
    return full, (soft - 0.5) * LOGIT_SCALE


def to_prediction(grid: Grid, cells: list[np.ndarray], scores: np.ndarray) -> Prediction:
    """Stack grid masks into a Prediction at image size."""
    pairs = [upsample(c, grid.image_size) for c in cells]
    masks = np.stack([m for m, _ in pairs])
    logits = np.stack([lg for _, lg in pairs]).astype(np.float32)
    return Prediction(masks, scores.astype(np.float32), logits)


def empty_prediction(grid: Grid) -> Prediction:
    """One empty candidate with score 0 (what an empty prompt gets)."""
    height, width = grid.image_size
    logits = np.full((1, *grid.size), -LOGIT_SCALE / 2, np.float32)
    return Prediction(np.zeros((1, height, width), bool), np.zeros(1, np.float32), logits)
