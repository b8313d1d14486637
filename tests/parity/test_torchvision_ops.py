"""Our torch stand-ins for torchvision ops against torchvision itself: box NMS (segment everything)
and roi_align (SAM 3 exemplar boxes). Runs in the parity venv (`make parity`), which has torchvision;
skipped elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torchvision = pytest.importorskip("torchvision")

from model.masks import box_nms  # noqa: E402
from model.sam.roi_align import roi_align  # noqa: E402


@pytest.mark.parametrize("seed", range(50))
def test_box_nms_equals_torchvision(seed: int, figures: list[str]) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 400))
    corners = rng.uniform(0, 500, (count, 2))
    boxes = torch.from_numpy(np.concatenate([corners, corners + rng.uniform(1, 120, (count, 2))], axis=1)).float()
    scores = torch.from_numpy(rng.permutation(count).astype(np.float32))
    threshold = float(rng.uniform(0.1, 0.9))
    ours = box_nms(boxes, scores, threshold)
    theirs = torchvision.ops.nms(boxes, scores, threshold)
    assert ours.tolist() == theirs.tolist()
    if seed == 0:
        figures.append("box_nms == torchvision.ops.nms on 50 random sets of 1-400 boxes")


@pytest.mark.parametrize("seed", range(50))
def test_roi_align_equals_torchvision(seed: int, figures: list[str]) -> None:
    rng = np.random.default_rng(seed)
    features = torch.from_numpy(rng.normal(size=(2, 8, 24, 30)).astype(np.float32))
    boxes = []
    for _ in range(2):
        x0, y0 = rng.uniform(-4, 28, 2)
        boxes.append(
            torch.tensor([[x0, y0, x0 + rng.uniform(0.1, 30), y0 + rng.uniform(0.1, 24)]], dtype=torch.float32)
        )
    size = int(rng.integers(1, 8))
    scale = float(rng.choice([1.0, 0.5, 0.25]))
    ours = roi_align(features, boxes, size, scale)
    theirs = torchvision.ops.roi_align(features, boxes, size, scale)
    error = float((ours - theirs).abs().max())
    assert error < 1e-4
    if seed == 0:
        figures.append(f"roi_align vs torchvision.ops.roi_align: max |diff| {error:.2e} (seed 0)")
