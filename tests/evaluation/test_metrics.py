"""Metrics and the click robot against hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.evaluation.metrics import boundary_f, boundary_map, iou, noc
from annotator.evaluation.robot import next_click


def square(size: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_iou_known_values_and_ignore() -> None:
    gt = square(10, 0, 4, 0, 4)  # 16 px
    pred = square(10, 0, 4, 2, 6)  # 16 px, 8 shared
    assert iou(pred, gt) == pytest.approx(8 / 24)
    ignore = square(10, 0, 4, 4, 6)  # hides pred's 8 extra px
    assert iou(pred, gt, ignore) == pytest.approx(8 / 16)
    assert iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0
    assert iou(gt, gt) == 1.0


def test_noc_is_the_first_click_reaching_the_threshold() -> None:
    ious = [0.5, 0.86, 0.89, 0.91, 0.95]
    assert noc(ious, 0.85, 20) == 2
    assert noc(ious, 0.90, 20) == 4
    assert noc([0.1, 0.2], 0.9, 20) == 20
    assert noc([0.1, 0.95], 0.9, 1) == 1  # max_clicks caps the search and the answer


def test_boundary_map_of_a_half_plane_is_one_column() -> None:
    gt = np.zeros((100, 100), bool)
    gt[:, :50] = True
    edge = boundary_map(gt)
    assert edge.sum() == 100 and edge[:, 49].all()


@pytest.mark.parametrize(("shift", "expected"), [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.0), (10, 0.0)])
def test_boundary_f_tolerance_is_0_008_of_the_diagonal(shift: int, expected: float) -> None:
    # 100x100: tolerance ceil(0.008 * 141.4) = 2 px.
    gt = np.zeros((100, 100), bool)
    gt[:, :50] = True
    pred = np.zeros_like(gt)
    pred[:, : 50 + shift] = True
    assert boundary_f(pred, gt) == pytest.approx(expected)


def test_boundary_f_partial_match_by_hand() -> None:
    gt = np.zeros((100, 100), bool)
    gt[:, :50] = True
    pred = gt.copy()
    pred[50:, 50:60] = True
    # pred boundary: col 49 rows 0-49 (50) + row 49 cols 50-59 (10) + col 59 rows 50-99 (50) = 110 px,
    # of which col 49 rows 0-49 and row 49 cols 50-51 lie within 2 px of gt's: 52.
    # gt boundary: col 49, 100 px, of which rows 0-51 lie within 2 px of pred's: 52.
    precision, recall = 52 / 110, 52 / 100
    assert boundary_f(pred, gt) == pytest.approx(2 * precision * recall / (precision + recall))


def test_boundary_f_empty_cases() -> None:
    empty = np.zeros((20, 20), bool)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(square(20, 5, 10, 5, 10), empty) == 0.0
    assert boundary_f(empty, square(20, 5, 10, 5, 10)) == 0.0


def test_robot_clicks_the_centre_of_a_missed_object() -> None:
    gt = square(41, 10, 31, 10, 31)  # 21x21, centre (20, 20)
    click = next_click(np.zeros_like(gt), gt)
    assert click is not None and click.positive and (click.x, click.y) == (20, 20)


def test_robot_picks_the_larger_error_and_its_sign() -> None:
    gt = square(60, 5, 15, 5, 15)  # small miss: 10x10
    pred = square(60, 30, 56, 30, 56)  # big false positive: 26x26, centre (42.5, 42.5)
    click = next_click(pred, gt)
    assert click is not None and not click.positive
    assert 40 <= click.x <= 45 and 40 <= click.y <= 45


def test_robot_counts_the_image_border_as_an_edge() -> None:
    gt = square(40, 0, 40, 0, 10)  # a strip along the left border
    click = next_click(np.zeros_like(gt), gt)
    assert click is not None and click.positive and 4 <= click.x <= 5


def test_robot_honours_ignore_and_stops_when_done() -> None:
    gt = square(30, 5, 20, 5, 20)
    assert next_click(gt, gt) is None
    pred = gt | square(30, 22, 28, 22, 28)
    assert next_click(pred, gt, ignore=square(30, 21, 29, 21, 29)) is None
