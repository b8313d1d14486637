"""Classic video tracking: DIS optical flow warps each mask, a local graph cut refines it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from model.classic.cut import colour_costs, colour_model, keep_seeded, min_cut
from model.classic.features import Grid, colour_bins, edge_weights, grid_size
from model.classic.local import local_model, shape_confidence
from model.errors import EngineError
from model.frames import frame_order, read_ahead, stream_runs
from model.protocol import PRESENT, Direction, FrameSource, Prompt

if TYPE_CHECKING:
    from model.classic.engine import ClassicEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackSettings:
    """Knobs of the flow + refinement tracker (the grid's long side in cells)."""

    long_side: int = 427
    prior: float = 0.0  # pull towards the warped mask (the local term below carries the shape)
    colour: float = 0.15  # weight of the global colour models
    smoothness: float = 2.0
    margin: float = 0.15  # crop margin around the warped mask, relative to its size
    model_rate: float = 0.0  # how fast the colour models follow the object
    flow_preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    flow_finest_scale: int | None = None  # pyramid level the flow stops at (None: the preset's)
    flow_stride: int | None = None  # cells between DIS patches (None: the preset's)
    flow_iterations: int | None = None  # DIS gradient descent iterations per patch (None: the preset's)
    flow_pad: int = 24  # cells around the object, besides the margin, where flow is computed
    blur: bool = True  # smooth the mask carried to the next frame
    check_flow: bool = True  # distrust the warp where forward and backward flow disagree
    check_preset: int | None = None  # DIS preset of the forward flow that checks it (None: flow_preset)
    occluded_prior: float = 0.0  # the warped value given to such cells (when not `soft_uncertain`)
    soft_uncertain: bool = True  # keep the warped value there (or uncertain_value), with the prior's weight lowered
    uncertain_weight: float = 0.3  # the prior's weight where the flow is uncertain
    uncertain_value: float | None = None  # the prior's value there (None: the warped value)
    seed_level: float = 0.9  # components of the cut kept: those holding a prior cell above this
    bg_rate: float = 0.0  # how fast the background model follows the object's surroundings
    growth_posterior: float = (
        0.25  # cells the cut adds beyond the warped mask are kept only above this colour posterior
    )
    redetect_below: float = 0.25  # when the track's confidence falls below this, search the whole frame
    redetect_posterior: float = 0.6  # cells that look like the object: colour posterior above this
    memory_weight: float = 0.5  # share of the other keyframes' appearance in a track's colour models
    local_window: int = 31  # cells of the local colour models' windows (model/classic/local.py); 0: none
    local_weight: float = 1.0  # weight of the local term (-log of the shape/colour blend)
    local_cutoff: float = 0.85  # colour confidence at or below which the warped shape is trusted most
    local_sigma: tuple[float, float] = (2.0, 0.0)  # shape confidence's sigma (least, most; 0: the window)
    local_power: float = 2.0
    local_uncertain: bool = True  # where the flow is unreliable, lower the shape's trust by uncertain_weight
    motion_weight: float = 6.0  # cost of calling object a cell that moves like the background (0: off)
    motion_least: float = 1.0  # the object must move this much (cells) against the background for it to count
    motion_share: float = 0.35  # a cell moves like the background when its residual is below this share of the object's


@dataclass
class _Track:
    """One object's running state: soft mask on the grid and colour models."""

    soft: np.ndarray
    fg_model: np.ndarray
    bg_model: np.ndarray
    colour_ref: float = 1.0  # the object's mean colour posterior on its keyframe (see _colour_match)
    area_ref: float = 0.0  # the object's area in cells on its keyframe
    centre: tuple[float, float] = (0.0, 0.0)  # (x, y) cells where it was last seen


@dataclass(frozen=True)
class _Frame:
    """A frame on the working grid: grey levels for flow, colour bins, Lab."""

    gray: np.ndarray
    lab: np.ndarray
    bins: np.ndarray


class ClassicVideoSession:
    """A VideoSession: keyframe masks per object, streamed flow propagation with bounded memory."""

    def __init__(self, engine: ClassicEngine, frames: FrameSource, settings: TrackSettings | None = None) -> None:
        if len(frames) == 0:
            raise EngineError("the video has no frames")
        self.engine = engine
        self.frames = frames
        self.settings = settings or TrackSettings()
        self.image_size: tuple[int, int] = tuple(frames[0].shape[:2])  # type: ignore[assignment]
        self.size = grid_size(self.image_size, self.settings.long_side)
        self._keyframes: dict[int, dict[int, np.ndarray]] = {}  # obj_id -> frame -> HxW mask
        # obj_id -> frame -> (fg, bg) colour models of each keyframe: the object's appearance memory
        self._appearance: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
        self.scores: dict[int, float] = {}  # confidence per object on the frame yielded last
        self._flow = self._dis(self.settings.flow_preset)
        # The forward flow that checks the backward one runs beside it, on the other core: its own DIS.
        check = self.settings.check_preset
        self._check = self._dis(self.settings.flow_preset if check is None else check)

    def _dis(self, preset: int) -> Any:
        dis = cv2.DISOpticalFlow_create(preset)
        if self.settings.flow_finest_scale is not None:
            dis.setFinestScale(self.settings.flow_finest_scale)
        if self.settings.flow_stride is not None:
            dis.setPatchStride(self.settings.flow_stride)
        if self.settings.flow_iterations is not None:
            dis.setGradientDescentIterations(self.settings.flow_iterations)
        return dis

    def add_prompt(self, frame: int, obj_id: int, prompt: Prompt) -> np.ndarray:
        """Prompt one object on one frame (a mask alone is taken as is); returns its HxW bool mask."""
        if not 0 <= frame < len(self.frames):
            raise EngineError(f"frame {frame} is outside the video (0..{len(self.frames) - 1})")
        only_mask = prompt.mask is not None and len(prompt.points) == 0 and prompt.box is None
        if only_mask:
            mask = np.asarray(prompt.mask, bool)
            if mask.shape != self.image_size:
                raise EngineError(f"prompt mask of shape {mask.shape} on a video of size {self.image_size}")
        else:
            embedding = self.engine.embed(self.frames[frame])
            mask = self.engine.predict(embedding, prompt).best_mask
        self._keyframes.setdefault(obj_id, {})[frame] = mask.copy()
        self._appearance.setdefault(obj_id, {})[frame] = self._models(mask, self._prepare(self.frames[frame]))
        return mask

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and all its prompts."""
        self._keyframes.pop(obj_id, None)
        self._appearance.pop(obj_id, None)

    def close(self) -> None:
        """Release what the session holds."""
        self._keyframes.clear()
        self._appearance.clear()

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """Stream (frame, {obj_id: mask}) from `start` (included once), stopping when `cancel` is set.

        An object is tracked from its prompts: it appears from the first prompted frame that the
        stream reaches, and is re-anchored on every later prompted frame (corrections).
        """
        yield from stream_runs(frame_order(start, len(self.frames), direction), start, self._run, cancel)

    def _run(self, order: range, cancel: threading.Event | None) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        tracks: dict[int, _Track] = {}
        previous: _Frame | None = None
        frames = read_ahead(self.frames, order)
        try:
            for index, image in frames:
                if cancel is not None and cancel.is_set():
                    return
                current = self._prepare(image)
                masks, scores = {}, {}
                for obj_id, keyframes in self._keyframes.items():
                    step = self._step(obj_id, index, keyframes, tracks, previous, current)
                    if step is not None:
                        masks[obj_id], scores[obj_id] = step
                previous = current
                self.scores = scores
                yield index, masks
        finally:
            frames.close()

    def _prepare(self, image: np.ndarray) -> _Frame:
        height, width = self.size
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
        return _Frame(np.ascontiguousarray(lab[..., 0]), lab, colour_bins(lab))

    def _step(
        self,
        obj_id: int,
        index: int,
        keyframes: dict[int, np.ndarray],
        tracks: dict[int, _Track],
        previous: _Frame | None,
        current: _Frame,
    ) -> tuple[np.ndarray, float] | None:
        """One object's mask on frame `index` and the confidence in it: its keyframe there (1), else its
        warped + refined track."""
        if index in keyframes:
            tracks[obj_id] = self._start_track(keyframes[index], current, self._remembered(obj_id, index))
            return keyframes[index], 1.0
        track = tracks.get(obj_id)
        if track is None or previous is None:
            return None
        warped, reliable, learnt, background = self._follow(track.soft, previous, current)
        if self.settings.soft_uncertain:
            certainty = np.where(reliable, 1.0, self.settings.uncertain_weight).astype(np.float32)
        else:
            certainty = np.ones(reliable.shape, np.float32)
        cells = self._refine(warped, certainty, track, current, learnt, background)
        moved = warped > 0.5
        if self.settings.growth_posterior > 0:
            grown = cells & ~moved  # what the cut added beyond the warped mask: kept where it looks like the object
            cells[grown] = _posteriors(grown, track, current) >= self.settings.growth_posterior
        score = _confidence(cells, moved, reliable) * _colour_match(cells, track, current)
        if score < self.settings.redetect_below:
            found = self._redetect(track, current)
            if found is not None and found[1] >= max(score, PRESENT):
                cells, score = found
        if cells.any():
            ys, xs = np.nonzero(cells)
            track.centre = (float(xs.mean()), float(ys.mean()))
        self._update_models(track, cells, current)
        track.soft = cells.astype(np.float32)
        if self.settings.blur:
            track.soft = cv2.GaussianBlur(track.soft, (3, 3), 0)
        height, width = self.image_size
        if score < PRESENT:  # judged absent: an empty mask; the track goes on from its soft state
            return np.zeros((height, width), bool), score
        return cv2.resize(track.soft, (width, height), interpolation=cv2.INTER_LINEAR) > 0.5, score

    def _update_models(self, track: _Track, cells: np.ndarray, frame: _Frame) -> None:
        """Let the colour models follow the object (foreground) and its surroundings (background)."""
        s = self.settings
        if not cells.any():
            return
        if s.model_rate > 0:
            track.fg_model = (1 - s.model_rate) * track.fg_model + s.model_rate * colour_model(
                frame.bins, cells.astype(np.float32)
            )
            track.bg_model = (1 - s.model_rate) * track.bg_model + s.model_rate * colour_model(
                frame.bins, (~cells).astype(np.float32)
            )
        if s.bg_rate > 0:
            box = _around(cells, s.margin, 4)
            assert box is not None
            y0, y1, x0, x1 = box
            ring = np.zeros(cells.shape, np.float32)
            ring[y0:y1, x0:x1] = 1.0
            ring[cells] = 0.0
            if ring.any():
                track.bg_model = (1 - s.bg_rate) * track.bg_model + s.bg_rate * colour_model(frame.bins, ring)

    def _models(self, mask: np.ndarray, frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
        """The (object, background) colour models of an HxW mask on a prepared frame."""
        height, width = self.size
        cells = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) > 0.5
        return colour_model(frame.bins, cells.astype(np.float32)), colour_model(frame.bins, (~cells).astype(np.float32))

    def _remembered(self, obj_id: int, frame: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The colour models of the object's other keyframes."""
        return [models for at, models in self._appearance.get(obj_id, {}).items() if at != frame]

    def _start_track(
        self, mask: np.ndarray, frame: _Frame, memory: list[tuple[np.ndarray, np.ndarray]] | None = None
    ) -> _Track:
        """A track from a keyframe's mask; its colour models blend in the other keyframes' (`memory`)."""
        height, width = self.size
        soft = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        cells = soft > 0.5
        fg_model = colour_model(frame.bins, cells.astype(np.float32))
        bg_model = colour_model(frame.bins, (~cells).astype(np.float32))
        if memory:
            share = self.settings.memory_weight
            fg_model = (1 - share) * fg_model + share * np.mean([fg for fg, _ in memory], axis=0)
            bg_model = (1 - share) * bg_model + share * np.mean([bg for _, bg in memory], axis=0)
        track = _Track(soft, fg_model, bg_model)
        track.colour_ref = max(_posterior(cells, track, frame), 1e-3)
        track.area_ref = float(cells.sum())
        if cells.any():
            ys, xs = np.nonzero(cells)
            track.centre = (float(xs.mean()), float(ys.mean()))
        return track

    def _redetect(self, track: _Track, frame: _Frame) -> tuple[np.ndarray, float] | None:
        """Search the whole frame for the object's appearance (the classic analogue of SAM 2's memory):
        regions whose colours the track's models call the object, of about its keyframe size, nearer
        where it was last seen first; the best one, refined by a cut, with its confidence."""
        if track.area_ref <= 0:
            return None
        pf, pb = track.fg_model[frame.bins] + 1e-6, track.bg_model[frame.bins] + 1e-6
        posterior = cv2.GaussianBlur((pf / (pf + pb)).astype(np.float32), (5, 5), 0)
        likely = (posterior > self.settings.redetect_posterior).astype(np.uint8)
        count, labels, stats, centres = cv2.connectedComponentsWithStats(likely, connectivity=8)
        if count <= 1:
            return None
        areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
        size = np.minimum(areas, track.area_ref) / np.maximum(areas, track.area_ref)
        diag = float(np.hypot(*self.size))
        distance = np.hypot(centres[1:, 0] - track.centre[0], centres[1:, 1] - track.centre[1]) / diag
        rank = size * np.exp(-distance / 0.25)
        best = int(np.argmax(rank))
        if size[best] < 0.25:
            return None
        region = (labels == best + 1).astype(np.float32)
        prior = cv2.GaussianBlur(region, (5, 5), 0)
        cells = self._refine(prior, np.full(prior.shape, 0.5, np.float32), track, frame)
        if not cells.any():
            return None
        area = float(cells.sum())
        fit = min(area, track.area_ref) / max(area, track.area_ref)
        near = 0.7 + 0.3 * float(np.exp(-distance[best] / 0.25))  # where it was matters less the longer it is lost
        return cells, _colour_match(cells, track, frame) * fit * near

    def _follow(
        self, soft: np.ndarray, previous: _Frame, current: _Frame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The soft mask moved into the current frame by optical flow computed around the object only,
        where that flow is reliable (forward and backward agree; everywhere when not checked), and the
        previous frame's Lab moved the same way (for the local colour models; None when they are off)."""
        warped = np.zeros_like(soft)
        reliable = np.ones(soft.shape, bool)
        learnt = current.lab.astype(np.float32) if self.settings.local_window > 0 else None
        box = _around(soft > 0.1, self.settings.margin, self.settings.flow_pad)
        if box is None:
            return warped, reliable, learnt, None
        crop = (slice(box[0], box[1]), slice(box[2], box[3]))
        now, before = np.ascontiguousarray(current.gray[crop]), np.ascontiguousarray(previous.gray[crop])
        checking = _FLOW_POOL.submit(self._calc, before, now, self._check) if self.settings.check_flow else None
        try:
            flow = self._calc(now, before)
            moved = self._warp(np.ascontiguousarray(soft[crop]), flow)
            if learnt is not None:
                learnt[crop] = self._warp(np.ascontiguousarray(previous.lab[crop], dtype=np.float32), flow)
        finally:
            forward = None if checking is None else checking.result()  # never leave it running
        if forward is not None:
            unreliable = self._inconsistent(flow, forward)
            reliable[crop] = ~unreliable
            if not self.settings.soft_uncertain:
                moved[unreliable] = np.minimum(moved[unreliable], self.settings.occluded_prior)
            elif self.settings.uncertain_value is not None:
                moved[unreliable] = self.settings.uncertain_value
        warped[crop] = moved
        background = None
        if self.settings.motion_weight > 0:
            like = _background_motion(
                flow, moved, reliable[crop], self.settings.motion_least, self.settings.motion_share
            )
            if like is not None:
                background = np.zeros(soft.shape, np.float32)
                background[crop] = like
        return warped, reliable, learnt, background

    def _calc(self, first: np.ndarray, second: np.ndarray, dis: Any = None, least: int = 32) -> np.ndarray:
        """DIS flow from `first` to `second`; tiny images are padded to the size DIS needs."""
        height, width = first.shape
        pad_y, pad_x = max(0, least - height), max(0, least - width)
        if pad_y or pad_x:
            first = cv2.copyMakeBorder(first, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
            second = cv2.copyMakeBorder(second, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray((dis or self._flow).calc(first, second, None)[:height, :width])  # releases the GIL

    @staticmethod
    def _inconsistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
        """Cells whose backward flow is not undone by the forward flow where it lands (disocclusions)."""
        height, width = backward.shape[:2]
        grid_x, grid_y = _cell_grid(height, width)
        landed = cv2.remap(forward, grid_x + backward[..., 0], grid_y + backward[..., 1], cv2.INTER_LINEAR)
        round_trip = backward + landed
        error = cv2.magnitude(round_trip[..., 0], round_trip[..., 1])
        return error > 1.0 + 0.2 * cv2.magnitude(backward[..., 0], backward[..., 1])

    def _warp(self, soft: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """Pull the previous soft mask (or any h x w [x c] array) into the current frame along the backward flow."""
        height, width = soft.shape[:2]
        grid_x, grid_y = _cell_grid(height, width)
        return cv2.remap(soft, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)

    def _refine(
        self,
        warped: np.ndarray,
        certainty: np.ndarray,
        track: _Track,
        frame: _Frame,
        learnt: np.ndarray | None = None,
        background: np.ndarray | None = None,
    ) -> np.ndarray:
        """Graph cut in a crop around the warped mask: warped prior (weighted by its certainty) +
        colour models (+ the local models learnt on `learnt`, the previous frame warped here) + edges."""
        box = _around(warped > 0.1, self.settings.margin, 4)
        if box is None:
            return np.zeros(warped.shape, bool)
        y0, y1, x0, x1 = box
        lab = frame.lab[y0:y1, x0:x1]
        bins = frame.bins[y0:y1, x0:x1]
        prior = np.clip(warped[y0:y1, x0:x1], 0.0, 1.0)
        trust = certainty[y0:y1, x0:x1]
        weights, contrast = edge_weights(lab)
        crop = Grid((y1 - y0, x1 - x0), (y1 - y0, x1 - x0), bins, weights, contrast, np.zeros(0, np.float32))
        colour_fg, colour_bg = colour_costs(bins, track.fg_model, track.bg_model)
        s = self.settings
        cost_fg = s.prior * trust * (1.0 - prior) + s.colour * colour_fg
        cost_bg = s.prior * trust * prior + s.colour * colour_bg
        if learnt is not None and s.local_window > 0:
            local_fg, local_bg = self._local_costs(learnt[y0:y1, x0:x1], prior, lab, trust, colour_fg)
            cost_fg, cost_bg = cost_fg + s.local_weight * local_fg, cost_bg + s.local_weight * local_bg
        if background is not None:
            cost_fg = cost_fg + s.motion_weight * background[y0:y1, x0:x1]
        cells = min_cut(crop, cost_fg.astype(np.float32), cost_bg.astype(np.float32), s.smoothness)
        cells = keep_seeded(cells, prior > s.seed_level)
        out = np.zeros(warped.shape, bool)
        out[y0:y1, x0:x1] = cells
        return out

    def _local_costs(
        self, learnt: np.ndarray, prior: np.ndarray, lab: np.ndarray, trust: np.ndarray, colour_fg: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """-log of p = fs * prior + (1 - fs) * local colour posterior, for both labels (SnapCut's blend).

        Where a window lacks one side (deep inside or outside the object) the global colour posterior
        (exp(-colour_fg)) stands in for the local one; the shape confidence is high there anyway."""
        s = self.settings
        model = local_model(learnt, prior, lab, s.local_window)
        colour = np.where(model.supported, model.posterior, np.exp(-colour_fg))
        least, most = s.local_sigma
        shape = shape_confidence(
            prior > 0.5, model.confidence, s.local_cutoff, least, most or s.local_window, s.local_power
        )
        if s.local_uncertain:
            shape = shape * np.minimum(1.0, trust)
        p = np.clip(shape * prior + (1.0 - shape) * colour, 1e-4, 1.0 - 1e-4)
        return -np.log(p), -np.log(1.0 - p)


@lru_cache(maxsize=2)
def _cell_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) coordinates of every cell of a height x width crop, read-only: the warps, the flow check
    and the background motion of one frame all work on the same crop, so it is built once per frame."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


# One worker for the check flows of every session: DIS spends most of a frame on one core.
_FLOW_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classic-flow")


def _background_motion(
    flow: np.ndarray, moved: np.ndarray, reliable: np.ndarray, least: float, share: float
) -> np.ndarray | None:
    """How much each cell of a crop moves like the background, in [0, 1] (None: not informative).

    The background's motion is a homography fitted (RANSAC) to the reliable flow outside the warped
    object; a cell's residual is how far its flow lands from it. Where the object itself moves with
    the background (median residual over its reliable core below `least` cells) motion tells nothing.
    """
    height, width = moved.shape
    outside = reliable & (cv2.dilate((moved > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0)
    core = reliable & (moved > 0.9)
    if outside.sum() < 64 or core.sum() < 16:
        return None
    grid_x, grid_y = _cell_grid(height, width)
    points = np.stack([grid_x, grid_y], axis=2)
    landed = points + flow
    ys, xs = np.nonzero(outside)
    step = max(1, len(ys) // 2000)
    source = points[ys[::step], xs[::step]].reshape(-1, 1, 2)
    target = landed[ys[::step], xs[::step]].reshape(-1, 1, 2)
    homography, _ = cv2.findHomography(source, target, cv2.RANSAC, 1.0)
    if homography is None:
        return None
    expected = cv2.perspectiveTransform(points.reshape(-1, 1, 2), homography).reshape(height, width, 2)
    off = np.ascontiguousarray(landed - expected, dtype=np.float32)
    residual = cv2.magnitude(off[..., 0], off[..., 1])
    typical = float(np.median(residual[core]))
    if typical < least:
        return None
    like = np.clip(1.0 - residual / (share * typical), 0.0, 1.0)
    like[~reliable] = 0.0
    return like.astype(np.float32)


def _posteriors(cells: np.ndarray, track: _Track, frame: _Frame) -> np.ndarray:
    """The colour posterior P(object | colour) of each of `cells` under the track's models."""
    bins = frame.bins[cells]
    pf, pb = track.fg_model[bins] + 1e-6, track.bg_model[bins] + 1e-6
    return pf / (pf + pb)


def _posterior(cells: np.ndarray, track: _Track, frame: _Frame) -> float:
    """The mean colour posterior over `cells` (0 when none)."""
    return float(np.mean(_posteriors(cells, track, frame))) if cells.any() else 0.0


def _colour_match(cells: np.ndarray, track: _Track, frame: _Frame) -> float:
    """How much `cells` look like the object did on its keyframe: their mean colour posterior as a
    share of the keyframe's, capped at 1 (colours the models never saw sit at 0.5 and lower it)."""
    return min(1.0, _posterior(cells, track, frame) / track.colour_ref)


def _confidence(cells: np.ndarray, moved: np.ndarray, reliable: np.ndarray) -> float:
    """How sure the tracker is of `cells`: their overlap (IoU) with where the motion took the object,
    weighted by how much of that motion was reliable; 0 when nothing is left."""
    union = cells | moved
    if not cells.any() or not union.any():
        return 0.0
    agreement = float((cells & moved).sum()) / float(union.sum())
    return agreement * (0.5 + 0.5 * float(reliable[union].mean()))


def _around(present: np.ndarray, margin: float, pad: int, least: int = 32) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the box around `present` cells, grown by `margin` of its size + `pad`, >= `least`."""
    x0, y0, box_width, box_height = cv2.boundingRect(np.ascontiguousarray(present).view(np.uint8))  # non-zero cells
    if box_width == 0:
        return None
    y1, x1 = y0 + box_height, x0 + box_width
    grow = int(margin * max(y1 - y0, x1 - x0)) + pad
    extra_y = max(0, least - (y1 - y0) - 2 * grow) // 2 + 1
    extra_x = max(0, least - (x1 - x0) - 2 * grow) // 2 + 1
    height, width = present.shape
    y0, y1 = max(0, y0 - grow - extra_y), min(height, y1 + grow + extra_y)
    x0, x1 = max(0, x0 - grow - extra_x), min(width, x1 + grow + extra_x)
    return y0, y1, x0, x1
