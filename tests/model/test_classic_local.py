"""Local colour models (model/classic/local.py): they tell the object from the background next to it."""

from __future__ import annotations

import numpy as np

from model.classic.local import local_model, shape_confidence


def test_local_models_follow_colours_that_the_global_histogram_would_confuse() -> None:
    # Left half: a red object on a green background; right half: the colours swapped. A single global
    # histogram sees red and green on both sides; the local models get each half right.
    lab = np.zeros((40, 80, 3), np.float32)
    mask = np.zeros((40, 80), np.float32)
    lab[:, :40] = (50, 200, 150)  # green surroundings on the left
    lab[10:30, 10:30] = (50, 60, 200)  # a red object there
    mask[10:30, 10:30] = 1.0
    lab[:, 40:] = (50, 60, 200)  # red surroundings on the right
    lab[10:30, 50:70] = (50, 200, 150)  # a green object there
    mask[10:30, 50:70] = 1.0
    model = local_model(lab, mask, lab, 15)
    near = model.supported
    assert near.sum() > 200
    assert np.mean(np.abs(model.posterior[near] - mask[near])) < 0.05
    assert model.confidence[near].mean() > 0.9


def test_shape_confidence_grows_away_from_the_boundary_and_widens_with_colour_confidence() -> None:
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    low = shape_confidence(mask, np.zeros((40, 40), np.float32), 0.85, 2.0, 20.0, 2.0)
    high = shape_confidence(mask, np.ones((40, 40), np.float32), 0.85, 2.0, 20.0, 2.0)
    assert low[20, 10] < 0.5 and low[20, 20] > 0.99  # on the boundary vs deep inside
    assert np.all(high <= low + 1e-6)  # trusted colour: the shape pins less
    assert np.isfinite(shape_confidence(np.ones((8, 8), bool), np.ones((8, 8), np.float32), 0.85, 2, 9, 2)).all()
