"""Segment everything for SAM, SAM 2.1 and the SAM 3 tracker: the automatic mask generator, in torch.

As the SAM paper's fully automatic stage (without crop layers): a points_per_side x
points_per_side grid of single positive clicks, decoded in batches (three candidates a click);
candidates kept when their predicted IoU and stability score are high enough (both computed on
the low-resolution logits, before any upsampling); greedy box NMS; survivors upsampled to the
image, islands and holes under min_area removed, and NMS once more on the cleaned masks.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from model.errors import Cancelled
from model.masks import box_nms, fill_small, mask_box
from model.protocol import Embedding, EverythingSettings, Instance, Progress

if TYPE_CHECKING:
    from model.sam.engine import SamEngine

log = logging.getLogger(__name__)

POINTS_PER_BATCH = 64
# The stability score compares the masks at logit thresholds 0 +- this offset (SAM's default).
STABILITY_OFFSET = 1.0
# When more candidates than this pass the filters, an intermediate NMS keeps memory bounded.
MAX_PENDING = 768


def point_grid(per_side: int) -> np.ndarray:
    """(per_side**2) x 2 float32 points at the cell centres of a grid over [0, 1] x [0, 1]."""
    offset = 1.0 / (2 * per_side)
    side = np.linspace(offset, 1 - offset, per_side, dtype=np.float32)
    xs, ys = np.meshgrid(side, side)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def stability_scores(logits: Any, offset: float = STABILITY_OFFSET) -> Any:
    """Per mask: area(logits > offset) / area(logits > -offset), 0 where both are empty (K x h x w in, K out)."""
    inner = (logits > offset).flatten(1).sum(dim=1).float()
    outer = (logits > -offset).flatten(1).sum(dim=1).float()
    return inner / outer.clamp(min=1.0)


def low_res_boxes(logits: Any, scale: tuple[float, float]) -> Any:
    """xyxy boxes in image pixels of K x h x w logits > 0, each low-res cell `scale` (sx, sy) pixels."""
    import torch

    positive = logits > 0
    rows = positive.any(dim=2)
    cols = positive.any(dim=1)
    h, w = logits.shape[1:]
    row_index = torch.arange(h, device=logits.device)
    col_index = torch.arange(w, device=logits.device)
    y0 = torch.where(rows, row_index, h).min(dim=1).values
    y1 = torch.where(rows, row_index, -1).max(dim=1).values + 1
    x0 = torch.where(cols, col_index, w).min(dim=1).values
    x1 = torch.where(cols, col_index, -1).max(dim=1).values + 1
    boxes = torch.stack([x0, y0, x1, y1], dim=1).float()
    return boxes * torch.tensor([scale[0], scale[1], scale[0], scale[1]], device=logits.device)


def everything(
    engine: SamEngine,
    embedding: Embedding,
    settings: EverythingSettings,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    points_per_batch: int = POINTS_PER_BATCH,
) -> list[Instance]:
    """Object proposals of an embedded image by a SAM-family engine, best predicted IoU first."""
    import torch

    height, width = embedding.image_size
    per_side = max(1, settings.points_per_side)
    points = point_grid(per_side) * np.array([width, height], np.float32)
    model_points, _ = engine.family.to_model_space(points, None, (height, width), engine.size)
    # The low-res logits cover the model input; SAM (v1) pads it, so only part maps to the image.
    resized_h, resized_w = engine.family.resized_size((height, width), engine.size)
    valid_h = max(1, math.ceil(engine.low_size * resized_h / engine.size))
    valid_w = max(1, math.ceil(engine.low_size * resized_w / engine.size))
    valid = (valid_h, valid_w)
    scale = (width * engine.size / (engine.low_size * resized_w), height * engine.size / (engine.low_size * resized_h))
    batches = math.ceil(len(points) / points_per_batch)
    decode = _grid_decoding(engine, embedding, settings.min_score)
    pending_logits: list[Any] = []
    pending_scores: list[Any] = []
    for index in range(batches):
        if cancel is not None and cancel.is_set():
            raise Cancelled("segment everything was cancelled")
        chunk = model_points[index * points_per_batch : (index + 1) * points_per_batch]
        low, scores = decode(chunk)
        seen = low[:, :valid_h, :valid_w]
        keep = (scores > settings.min_score) & (stability_scores(seen) >= settings.min_stability)
        keep &= (seen > 0).flatten(1).any(dim=1)
        pending_logits.append(low[keep].to(torch.float16))
        pending_scores.append(scores[keep])
        if sum(len(s) for s in pending_scores) > MAX_PENDING:
            pending_logits, pending_scores = _prune(pending_logits, pending_scores, valid, scale, settings.nms_iou)
        if progress is not None:
            progress(index + 1, batches + 1)
    pending_logits, pending_scores = _prune(pending_logits, pending_scores, valid, scale, settings.nms_iou)
    instances = _to_instances(engine, pending_logits[0], pending_scores[0], (height, width), settings, cancel)
    if progress is not None:
        progress(batches + 1, batches + 1)
    log.debug("%s everything: %d points, %d proposals", engine.model_id, len(points), len(instances))
    return instances


def _grid_decoding(engine: SamEngine, embedding: Embedding, min_score: float) -> Any:
    """A function of B clicks (B x 2, model pixels) -> (3B x h x w low-res logits, 3B predicted IoUs).

    SAM 2 decoders (SAM 2.1, SAM 3 tracker) go through `GridDecoder` in torch, whatever the engine's
    runtime: it computes the click-independent part once and skips the upscaling of clicks that
    the predicted-IoU filter drops (logits -inf); SAM (v1) through `_decode_points`.
    """
    import torch

    from model.sam.grid_decoder import GridDecoder, supported

    if not supported(engine.model):
        return lambda points: _decode_points(engine, embedding, points)
    grid = GridDecoder(engine.model)
    state = engine.run(lambda: grid.prepare(engine.features(embedding)))

    def decode(points: np.ndarray) -> tuple[Any, Any]:
        coords = torch.from_numpy(np.ascontiguousarray(points, np.float32)).to(engine.device)
        low, scores = engine.run(lambda: grid(state, coords, min_score))
        return low.flatten(0, 1).float().cpu(), scores.reshape(-1).float().cpu()

    return decode


def _decode_points(engine: SamEngine, embedding: Embedding, points: np.ndarray) -> tuple[Any, Any]:
    """(3B x h x w low-res logits, 3B predicted IoUs) for B single positive clicks in model pixels.

    On ONNX Runtime the clicks go one at a time through the engine's decoder graph (about three
    times faster per click on the CPU than the batched torch decoder); otherwise in one torch batch.
    """
    import torch

    if engine.runtime.startswith("onnx"):
        from model.sam.engine import ModelPrompt

        one = np.ones(1, np.int64)
        # (A decoder failure makes the engine go back to torch, for that click and the rest.)
        pairs = [engine._decode(embedding, ModelPrompt(p[None], one, None, None), True) for p in points]
        return torch.cat([low for low, _ in pairs]).float().cpu(), torch.cat([s for _, s in pairs]).float().cpu()
    count = len(points)
    coords = torch.from_numpy(np.ascontiguousarray(points, np.float32).reshape(1, count, 1, 2)).to(engine.device)
    labels = torch.ones((1, count, 1), dtype=torch.long, device=engine.device)

    def work() -> tuple[Any, Any]:
        out = engine.model(
            image_embeddings=engine.features(embedding), input_points=coords, input_labels=labels, multimask_output=True
        )
        masks = out.pred_masks[0].float()
        return masks.reshape(-1, *masks.shape[-2:]).cpu(), out.iou_scores[0].float().reshape(-1).cpu()

    return engine.run(work)


def _prune(
    logits: list[Any], scores: list[Any], valid: tuple[int, int], scale: tuple[float, float], iou: float
) -> tuple[list[Any], list[Any]]:
    """One box NMS over the pending candidates (boxes from the `valid` part); as single-item lists."""
    import torch

    all_logits = torch.cat(logits)
    all_scores = torch.cat(scores)
    boxes = low_res_boxes(all_logits[:, : valid[0], : valid[1]].float(), scale)
    keep = box_nms(boxes, all_scores, iou)
    return [all_logits[keep]], [all_scores[keep]]


def _to_instances(
    engine: SamEngine,
    logits: Any,
    scores: Any,
    image_size: tuple[int, int],
    settings: EverythingSettings,
    cancel: threading.Event | None,
) -> list[Instance]:
    """Upsample the kept candidates, remove small islands and holes, NMS again; best first."""
    import torch

    full = logits.float()
    masks, kept_scores = [], []
    for start in range(0, len(full), 16):
        if cancel is not None and cancel.is_set():
            raise Cancelled("segment everything was cancelled")
        for mask, score in zip(
            engine.family.masks_to_image(full[start : start + 16], image_size, engine.size),
            scores[start : start + 16].tolist(),
            strict=True,
        ):
            cleaned = fill_small(mask, settings.min_area)
            if cleaned is not None:
                masks.append(cleaned)
                kept_scores.append(score)
    if not masks:
        return []
    boxes = np.stack([mask_box(m) for m in masks])
    keep = box_nms(torch.from_numpy(boxes), torch.tensor(kept_scores), settings.nms_iou).tolist()
    return [Instance(masks[i], boxes[i], float(np.clip(kept_scores[i], 0.0, 1.0))) for i in keep]
