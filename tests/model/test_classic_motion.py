"""The classic tracker's motion cue: cells that move like the background are costly to call object."""

from __future__ import annotations

import numpy as np

from model.classic.video import _background_motion

SHAPE = (80, 120)


def scene(object_flow: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A background panning by (2, 0) cells per frame and a disc moving by `object_flow`."""
    ys, xs = np.mgrid[: SHAPE[0], : SHAPE[1]]
    disc = (ys - 40) ** 2 + (xs - 60) ** 2 < 15**2
    flow = np.zeros((*SHAPE, 2), np.float32)
    flow[..., 0] = 2.0
    flow[disc] = object_flow
    return flow, disc.astype(np.float32), np.ones(SHAPE, bool)


def test_cells_moving_with_the_background_are_marked_and_the_object_is_not() -> None:
    flow, moved, reliable = scene((-3.0, 1.5))
    like = _background_motion(flow, moved, reliable, least=1.0, share=0.35)
    assert like is not None and like.shape == SHAPE and like.dtype == np.float32
    disc = moved > 0.5
    assert like[disc].max() == 0.0  # the object moves against the background
    assert like[~disc].mean() > 0.99  # the panning background is recognised everywhere


def test_unreliable_cells_carry_no_motion_evidence() -> None:
    flow, moved, reliable = scene((-3.0, 1.5))
    reliable[:, :20] = False
    like = _background_motion(flow, moved, reliable, least=1.0, share=0.35)
    assert like is not None
    assert like[:, :20].max() == 0.0 and like[:, 30:40].min() == 1.0


def test_an_object_moving_with_the_background_gives_no_motion_cue() -> None:
    flow, moved, reliable = scene((2.0, 0.0))  # the disc pans with the camera
    assert _background_motion(flow, moved, reliable, least=1.0, share=0.35) is None
    nearly, moved, reliable = scene((2.5, 0.0))  # half a cell apart: below `least`
    assert _background_motion(nearly, moved, reliable, least=1.0, share=0.35) is None


def test_too_little_background_or_object_gives_no_motion_cue() -> None:
    flow, _moved, reliable = scene((-3.0, 1.5))
    assert _background_motion(flow, np.ones(SHAPE, np.float32), reliable, 1.0, 0.35) is None  # all object
    assert _background_motion(flow, np.zeros(SHAPE, np.float32), reliable, 1.0, 0.35) is None  # no object
