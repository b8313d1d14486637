"""Monocular depth from Depth Anything V2 Small (transformers), when its weights are installed.

Our own pre-processing (no torchvision): the image is resized so its shorter side is 518 pixels
(both sides multiples of 14, the ViT patch), normalised with the ImageNet mean and std. The
model's output is a relative inverse depth (disparity); `estimate` returns its negation, a
relative depth (larger = farther) as the reconstruction protocol takes it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from model.errors import EngineError

log = logging.getLogger(__name__)

MODEL = "depth-anything-v2-small"
SIDE = 518
PATCH = 14
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def installed_folder() -> Path | None:
    """The installed Depth Anything V2 Small folder, or None."""
    from model.sam.weights import installed

    return installed(MODEL)


def load(folder: Path, device: str = "auto") -> Any:
    """The depth model in `folder` (transformers format) on `device`, kept loaded for the next call."""
    from model.device import move, pick_device

    device = pick_device(device)
    key = f"{Path(folder).resolve()}@{device}"
    with _lock:
        if key not in _loaded:
            from transformers import AutoModelForDepthEstimation

            try:
                model = AutoModelForDepthEstimation.from_pretrained(str(folder))
            except (OSError, ValueError) as error:
                raise EngineError(f"{folder}: cannot load the depth model: {error}") from error
            _loaded.clear()
            _loaded[key] = move(model, device)
        return _loaded[key]


def _input_size(height: int, width: int, side: int) -> tuple[int, int]:
    scale = side / min(height, width)
    return (max(PATCH, round(height * scale / PATCH) * PATCH), max(PATCH, round(width * scale / PATCH) * PATCH))


def estimate(image: np.ndarray, folder: Path, device: str = "auto", side: int = SIDE) -> np.ndarray:
    """Relative depth HxW float32 (larger = farther) of an HxWx3 uint8 image."""
    import torch

    model = load(folder, device)
    height, width = image.shape[:2]
    in_h, in_w = _input_size(height, width, side)
    resized = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    pixels = torch.from_numpy(((resized - MEAN) / STD).transpose(2, 0, 1)[None].copy())
    parameter = next(model.parameters())
    with torch.inference_mode():
        output = model(pixel_values=pixels.to(parameter.device, parameter.dtype))
    disparity = output.predicted_depth[0].float().cpu().numpy()
    disparity = cv2.resize(disparity, (width, height), interpolation=cv2.INTER_LINEAR)
    return (-disparity).astype(np.float32)
