"""The three SAM architectures and how each one wants its pixels, written with torch ops only.

- SAM (v1): the long side is resized to 1024 (bilinear, antialiased, rounded to uint8 like the
  reference's PIL resize), normalised with the ImageNet mean/std on the 0-255 scale, and zero
  padded at the bottom right to 1024x1024. Its 256x256 logits go up to 1024, are cropped to the
  resized image, then resized to the original size.
- SAM 2.1: the image is resized (not padded) to 1024x1024, bilinear with antialiasing, scaled to
  [0, 1] and normalised with the ImageNet mean/std. Its 256x256 logits go straight to the
  original size.
- SAM 3 tracker: as SAM 2.1 at 1008x1008 with mean = std = 0.5; its logits are 288x288.
- Video frames of SAM 2.1: the reference video predictor reads frames with PIL's default resize
  (bicubic, into uint8) instead; so do we (`preprocess(..., frame=True)`).

Prompt coordinates follow the resize: (x, y) are scaled by the resized width/W and height/H.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Above this share of the image, a candidate is upsampled whole by OpenCV (about 30 times faster
# per pixel than the exact region interpolation below).
REGION_FRACTION = 0.02


@dataclass(frozen=True)
class Family:
    """One architecture: its transformers classes and its pre/post-processing."""

    architecture: str  # "sam", "sam2" or "sam3"
    image_model: str  # transformers class names
    image_config: str
    video_model: str | None
    video_config: str | None
    video_session: str | None
    longest_side: bool  # SAM: resize the long side and pad; SAM 2/3: resize to a square
    mean: tuple[float, float, float]  # on the 0..1 scale
    std: tuple[float, float, float]
    pil_bicubic_frames: bool = False  # video frames resized as PIL's default resize does

    def resized_size(self, image_size: tuple[int, int], size: int) -> tuple[int, int]:
        """(height, width) of the image inside the model's size x size input."""
        height, width = image_size
        if not self.longest_side:
            return size, size
        scale = size / max(height, width)
        return int(height * scale + 0.5), int(width * scale + 0.5)

    def coordinate_scale(self, image_size: tuple[int, int], size: int) -> np.ndarray:
        """Multiply (x, y) image pixels by this to get model-input pixels."""
        height, width = image_size
        resized_h, resized_w = self.resized_size(image_size, size)
        return np.array([resized_w / width, resized_h / height], np.float32)

    def to_model_space(
        self, points: np.ndarray, box: np.ndarray | None, image_size: tuple[int, int], size: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Points Nx2 and box xyxy in image pixels, clipped to the image -> model-input pixels
        (points Nx2 float32, box as its two corners 2x2 float32 or None)."""
        height, width = image_size
        scale = self.coordinate_scale(image_size, size)
        model_points = (np.clip(points, 0, [width, height]) * scale).astype(np.float32)
        if box is None:
            return model_points, None
        return model_points, (np.clip(box.reshape(2, 2), 0, [width, height]) * scale).astype(np.float32)

    def mask_to_logits(self, mask: np.ndarray, size: int, low_size: int) -> np.ndarray:
        """An HxW bool mask (a user's edit) -> 1 x low x low float32 logits in the model's frame, the
        mask input the decoder refines from (+10 inside, -10 outside, soft along the edge)."""
        import cv2

        resized_h, resized_w = self.resized_size(mask.shape, size)
        scaled = cv2.resize(mask.astype(np.float32), (resized_w, resized_h), interpolation=cv2.INTER_AREA)
        frame = np.zeros((size, size), np.float32)
        frame[: scaled.shape[0], : scaled.shape[1]] = scaled
        low = cv2.resize(frame, (low_size, low_size), interpolation=cv2.INTER_AREA)
        return ((low * 2.0 - 1.0) * 10.0)[None].astype(np.float32)

    def preprocess(self, image: np.ndarray, size: int, device: str, frame: bool = False) -> Any:
        """HxWx3 uint8 RGB -> 1x3xSxS float32 tensor ready for the image encoder; `frame`: a video
        frame, prepared as the family's reference video predictor does."""
        import torch
        import torch.nn.functional as F

        array = image if image.flags.writeable and image.flags.c_contiguous else np.array(image)
        tensor = torch.from_numpy(array).to(device).permute(2, 0, 1)[None].float()
        resized_h, resized_w = self.resized_size(image.shape[:2], size)
        if self.longest_side:  # the reference resizes a uint8 PIL image (bilinear, antialiased)
            tensor = pil_like_resize(tensor, (resized_h, resized_w), "bilinear") / 255.0
        elif frame and self.pil_bicubic_frames:  # PIL's default resize (bicubic) into uint8
            tensor = pil_like_resize(tensor, (resized_h, resized_w), "bicubic") / 255.0
        else:
            tensor = F.interpolate(
                tensor / 255.0, size=(resized_h, resized_w), mode="bilinear", align_corners=False, antialias=True
            )
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        tensor = (tensor - mean) / std
        if self.longest_side:
            tensor = F.pad(tensor, (0, size - resized_w, 0, size - resized_h))
        return tensor

    def masks_to_image(self, low: Any, image_size: tuple[int, int], size: int) -> np.ndarray:
        """K x h x w low-resolution logits (tensor) -> K x H x W bool masks at the original size."""
        if not self.longest_side:
            return upsample_positive(low, image_size)
        resized_h, resized_w = self.resized_size(image_size, size)
        masks = []
        for logits in low.float().cpu().numpy():
            padded = resize_logits(logits, (size, size))
            masks.append(resize_logits(padded[:resized_h, :resized_w], image_size) > 0)
        return np.stack(masks)


def pil_like_resize(tensor: Any, size: tuple[int, int], mode: str) -> Any:
    """Resize 1x3xHxW 0..255 values as PIL does for a uint8 image: width first into uint8, then
    height, rounding half up each time (torch's antialiased filters are PIL's); the result is whole
    numbers in 0..255. Matches PIL on all but about 1e-5 of the values (off by one)."""
    import torch
    import torch.nn.functional as F

    for step in ((tensor.shape[2], size[1]), size):
        if tuple(tensor.shape[2:]) != tuple(step):
            tensor = F.interpolate(tensor, size=step, mode=mode, align_corners=False, antialias=True)
            tensor = torch.floor(tensor + 0.5).clamp_(0, 255)
    return tensor


FAMILIES: dict[str, Family] = {
    "sam": Family("sam", "SamModel", "SamConfig", None, None, None, True, IMAGENET_MEAN, IMAGENET_STD),
    "sam2": Family(
        "sam2",
        "Sam2Model",
        "Sam2Config",
        "Sam2VideoModel",
        "Sam2VideoConfig",
        "Sam2VideoInferenceSession",
        False,
        IMAGENET_MEAN,
        IMAGENET_STD,
        pil_bicubic_frames=True,
    ),
    "sam3": Family(
        "sam3",
        "Sam3TrackerModel",
        "Sam3TrackerConfig",
        "Sam3TrackerVideoModel",
        "Sam3TrackerVideoConfig",
        "Sam3TrackerVideoInferenceSession",
        False,
        (0.5, 0.5, 0.5),
        (0.5, 0.5, 0.5),
    ),
}


def _source_index(count: int, out_size: int, start: int, stop: int) -> tuple[Any, Any, Any]:
    """For output pixels start..stop-1, the two source indices and the weight of the second
    (bilinear, align_corners=False, as torch's interpolate)."""
    import torch

    scale = count / out_size
    positions = ((torch.arange(start, stop, dtype=torch.float32) + 0.5) * scale - 0.5).clamp_(min=0)
    first = positions.floor().long().clamp_(max=count - 1)
    second = (first + 1).clamp_(max=count - 1)
    return first, second, positions - first


def resize_logits(low: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (half-pixel centres, as torch's align_corners=False) of h x w float32 logits.

    OpenCV's SIMD resize is 5x faster than torch's interpolate here and differs from it on a few
    pixels in a million (rounding of the source coordinates).
    """
    import cv2

    return cv2.resize(np.ascontiguousarray(low, np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def upsample_positive(low: Any, image_size: tuple[int, int]) -> np.ndarray:
    """Where the bilinear upsampling of K x h x w logits to image_size is > 0, as K x H x W bool.

    A pixel is positive only if one of its four source cells is, so for a candidate whose positive
    logits cover a small box only that box (plus one low-resolution cell) is interpolated, exactly
    as torch would; larger candidates are resized whole by OpenCV.
    """
    import torch

    low = low.float().cpu()
    count, low_h, low_w = low.shape
    height, width = image_size
    out = np.zeros((count, height, width), bool)
    for k in range(count):
        positive = low[k] > 0
        rows = torch.nonzero(positive.any(dim=1)).flatten()
        if len(rows) == 0:
            continue
        cols = torch.nonzero(positive.any(dim=0)).flatten()
        y0, y1 = int(rows[0]), int(rows[-1])
        x0, x1 = int(cols[0]), int(cols[-1])
        top = max(0, math.floor((y0 - 0.5) * height / low_h - 0.5))
        bottom = min(height, math.ceil((y1 + 1.5) * height / low_h - 0.5) + 1)
        left = max(0, math.floor((x0 - 0.5) * width / low_w - 0.5))
        right = min(width, math.ceil((x1 + 1.5) * width / low_w - 0.5) + 1)
        if (bottom - top) * (right - left) > REGION_FRACTION * height * width:
            out[k] = resize_logits(low[k].numpy(), image_size) > 0
            continue
        r0, r1, wy = _source_index(low_h, height, top, bottom)
        c0, c1, wx = _source_index(low_w, width, left, right)
        lines = low[k][r0] * (1 - wy)[:, None] + low[k][r1] * wy[:, None]
        values = lines[:, c0] * (1 - wx) + lines[:, c1] * wx
        out[k, top:bottom, left:right] = (values > 0).numpy()
    return out
