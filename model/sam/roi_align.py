"""A pure-torch `roi_align` (torchvision.ops.roi_align's algorithm), so SAM 3's exemplar boxes run without torchvision.

transformers' SAM 3 geometry encoder pools the image features under each exemplar box with
`torchvision.ops.roi_align`; `install()` puts this function in that module's namespace when
torchvision is missing. Sampling follows torchvision: each output bin averages a grid of bilinear
samples (ceil(roi size / bins) per side when sampling_ratio <= 0), samples more than one cell
outside the map are 0, those within it are clamped to the border. Bilinear sampling is separable,
so each box is two small matrix products.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any


def _weights(start: float, bin_size: float, bins: int, grid: int, length: int) -> Any:
    """(bins*grid) x length bilinear weights of the sample positions along one axis."""
    import torch

    steps = torch.arange(bins * grid, dtype=torch.float64)
    positions = start + (steps // grid) * bin_size + ((steps % grid) + 0.5) * bin_size / grid
    inside = (positions >= -1.0) & (positions <= length)
    positions = positions.clamp(min=0.0)
    low = positions.floor().long()
    at_end = low >= length - 1
    low = torch.where(at_end, torch.full_like(low, length - 1), low)
    high = torch.where(at_end, low, low + 1)
    positions = torch.where(at_end, low.double(), positions)
    frac = positions - low
    weights = torch.zeros((len(positions), length), dtype=torch.float64)
    rows = torch.arange(len(positions))
    weights[rows, low] += 1.0 - frac
    weights[rows, high] += frac
    return weights * inside[:, None]


def roi_align(
    features: Any,
    boxes: Any,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Any:
    """torchvision.ops.roi_align: features N x C x H x W, boxes a list of K_i x 4 xyxy tensors (one per
    image) or a K x 5 tensor (batch index first) -> K x C x oh x ow pooled features."""
    import torch

    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    if isinstance(boxes, list | tuple):
        rois = torch.cat(
            [
                torch.cat([torch.full((len(b), 1), i, dtype=b.dtype, device=b.device), b], dim=1)
                for i, b in enumerate(boxes)
            ]
        )
    else:
        rois = boxes
    height, width = features.shape[-2:]
    pooled = []
    offset = 0.5 if aligned else 0.0
    for roi in rois.double().cpu().tolist():
        index, x0, y0, x1, y1 = int(roi[0]), *(v * spatial_scale - offset for v in roi[1:])
        roi_w, roi_h = x1 - x0, y1 - y0
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_w, bin_h = roi_w / out_w, roi_h / out_h
        grid_h = sampling_ratio if sampling_ratio > 0 else max(1, math.ceil(roi_h / out_h))
        grid_w = sampling_ratio if sampling_ratio > 0 else max(1, math.ceil(roi_w / out_w))
        wy = _weights(y0, bin_h, out_h, grid_h, height).to(features.device, features.dtype)
        wx = _weights(x0, bin_w, out_w, grid_w, width).to(features.device, features.dtype)
        samples = wy @ features[index] @ wx.T  # C x (oh*gh) x (ow*gw)
        channels = samples.shape[0]
        pooled.append(samples.view(channels, out_h, grid_h, out_w, grid_w).mean(dim=(2, 4)))
    if not pooled:
        return features.new_zeros((0, features.shape[1], out_h, out_w))
    return torch.stack(pooled)


def install() -> None:
    """Give transformers' SAM 3 module this roi_align when torchvision is not installed."""
    import transformers.models.sam3.modeling_sam3 as sam3

    if getattr(sam3, "torchvision", None) is None:
        sam3.torchvision = SimpleNamespace(ops=SimpleNamespace(roi_align=roi_align))
