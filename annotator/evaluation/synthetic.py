"""Synthetic tracks with exact ground truth: a real image warped by a smooth affine sequence.

Frame t is the image under the affine A_t (rotation, scale, drift that change smoothly with t), with
a gain change and noise, so every point and box of frame 0 has a known place on every frame. A
point is occluded where it leaves the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class WarpedVideo:
    """Frames (T x H x W x 3 uint8) and the 2 x 3 affine of each frame (frame 0's pixels -> frame t's)."""

    frames: list[np.ndarray]
    affines: list[np.ndarray]

    def points(self, xy: np.ndarray) -> np.ndarray:
        """Frame 0's (x, y) points on every frame: (N, T, 2) float64."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        ones = np.ones((len(xy), 1))
        return np.stack([np.hstack([xy, ones]) @ a.T for a in self.affines], axis=1)

    def occluded(self, tracks: np.ndarray, margin: float = 2.0) -> np.ndarray:
        """(N, T) bool: the point is off the frame (or within `margin` of its edge)."""
        height, width = self.frames[0].shape[:2]
        x, y = tracks[..., 0], tracks[..., 1]
        return (x < margin) | (y < margin) | (x > width - 1 - margin) | (y > height - 1 - margin)

    def boxes(self, xyxy: np.ndarray) -> np.ndarray:
        """Frame 0's box on every frame as the axis-aligned box of its warped corners: (T, 4)."""
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        corners = self.points(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        return np.concatenate([corners.min(axis=0), corners.max(axis=0)], axis=1)


def warp_video(
    image: np.ndarray,
    count: int = 40,
    rotation: float = 12.0,
    scale: float = 0.15,
    drift: float = 60.0,
    noise: float = 3.0,
    seed: int = 0,
) -> WarpedVideo:
    """Warp `image` (HxWx3 uint8) into `count` frames: up to +-`rotation` degrees, 1 +- `scale`, `drift` pixels."""
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    centre = (width / 2, height / 2)
    phases = rng.uniform(0, 2 * np.pi, 4)
    frames, affines = [], []
    for t in range(count):
        u = t / max(1, count - 1)
        angle = rotation * np.sin(np.pi * u + phases[0]) - rotation * np.sin(phases[0])
        zoom = 1 + scale * (np.sin(np.pi * u + phases[1]) - np.sin(phases[1]))
        dx = drift * u * np.cos(phases[2])
        dy = drift * u * np.sin(phases[2]) * 0.5
        affine = cv2.getRotationMatrix2D(centre, float(angle), float(zoom))
        affine[:, 2] += (dx, dy)
        warped = cv2.warpAffine(image, affine, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        gain = 1 + 0.08 * np.sin(2 * np.pi * u + phases[3])
        noisy = warped.astype(np.float32) * gain + rng.normal(0, noise, warped.shape)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
        affines.append(affine.astype(np.float64))
    return WarpedVideo(frames, affines)
