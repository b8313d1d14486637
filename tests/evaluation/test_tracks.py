"""Track metrics (OTB success/precision, TAP-Vid, BADJA PCK) on hand-checked cases, and `annotator eval tracks`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotator.cli import main
from annotator.evaluation.data import VideoItem
from annotator.evaluation.track_metrics import (
    SUCCESS_THRESHOLDS,
    box_iou,
    centre_error,
    pck,
    precision_at,
    success_auc,
    success_curve,
    tapvid_metrics,
    to_tapvid_raster,
)
from annotator.evaluation.tracks import BADJA_WIDTH, evaluate_box_sequence, evaluate_point_sequence, read_badja
from model.classic.box_track import ClassicBoxSession
from model.classic.point_track import ClassicPointSession


def test_success_and_precision_follow_the_otb_definitions() -> None:
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10.0]])
    # IoU > t for t = 0, 0.05, ..., 1: a perfect track misses only t = 1, so its AUC is 20/21 (as in got10k).
    assert success_auc(gt, gt) == pytest.approx(20 / 21) and precision_at(gt, gt) == 1.0
    half = gt + np.array([5, 0, 5, 0])  # half the box off: IoU 50 / 150 = 1/3
    assert box_iou(half, gt) == pytest.approx([1 / 3] * 3)
    # IoU 1/3 exceeds the thresholds 0, 0.05, ..., 0.30: 7 of the 21.
    assert success_curve(half, gt).tolist() == [1.0] * 7 + [0.0] * 14
    assert success_auc(half, gt) == pytest.approx(7 / 21)
    lost = np.array([[np.nan] * 4, [20, 0, 30, 10], [0, 21, 10, 31.0]])
    assert box_iou(lost, gt).tolist() == [0.0, 0.0, 0.0]
    assert centre_error(lost, gt).tolist() == [np.inf, 20.0, 21.0]
    assert precision_at(lost, gt) == pytest.approx(1 / 3)  # exactly 20 px counts, 21 does not
    # the success curve at t = 0 counts frames with any overlap
    assert success_curve(lost, gt)[0] == 0.0 and len(SUCCESS_THRESHOLDS) == 21


def test_tapvid_metrics_on_a_hand_worked_case() -> None:
    # two points, four frames, queried on frame 0 (not scored); ground truth at x = 10, 20, 30, 40.
    gt = np.zeros((2, 4, 2))
    gt[:, :, 0] = [10, 20, 30, 40]
    gt_occluded = np.array([[False, False, False, True], [False, False, False, False]])
    pred = gt.copy()
    pred[0, 1, 0] += 3  # error 3: within 4, 8, 16
    pred[1, 2, 0] += 20  # error 20: within none
    pred_occluded = np.array([[False, False, False, False], [False, False, True, False]])
    m = tapvid_metrics(gt_occluded, gt, pred_occluded, pred, np.array([0, 0]))
    # scored pairs: frames 1-3 of both points (6). Occlusion right on 4 of 6 (wrong: p0 f3, p1 f2).
    assert m["occlusion_accuracy"] == pytest.approx(4 / 6)
    # visible gt pairs: p0 f1, f2 and p1 f1, f2, f3 (5); within x: thresholds 1, 2 -> 3 of 5; 4, 8, 16 -> 4 of 5.
    assert [m[f"pts_within_{x}"] for x in (1, 2, 4, 8, 16)] == pytest.approx([0.6, 0.6, 0.8, 0.8, 0.8])
    assert m["delta_avg"] == pytest.approx(0.72)
    # Jaccard at 1, 2: TP = p0 f2, p1 f1, p1 f3 (3); FP = p0 f1 (too far), p0 f3 (gt occluded) -> 3 / (5 + 2).
    # At 4, 8, 16: TP = 4 (p0 f1 joins), FP = p0 f3 -> 4 / (5 + 1). p1 f2 predicted occluded is a miss, not a FP.
    assert [m[f"jaccard_{x}"] for x in (1, 2, 4, 8, 16)] == pytest.approx([3 / 7, 3 / 7, 4 / 6, 4 / 6, 4 / 6])
    assert m["average_jaccard"] == pytest.approx((2 * 3 / 7 + 3 * 4 / 6) / 5)
    perfect = tapvid_metrics(gt_occluded, gt, gt_occluded, gt, np.array([0, 0]))
    assert perfect["average_jaccard"] == perfect["delta_avg"] == perfect["occlusion_accuracy"] == 1.0
    strided = tapvid_metrics(gt_occluded, gt, gt_occluded, gt, np.array([2, 2]), mode="strided")
    first = tapvid_metrics(gt_occluded, gt, pred_occluded, pred, np.array([2, 2]))
    assert strided["average_jaccard"] == 1.0 and first["occlusion_accuracy"] == 0.5  # only frame 3 scored
    with pytest.raises(ValueError, match="query mode"):
        tapvid_metrics(gt_occluded, gt, gt_occluded, gt, np.array([0, 0]), mode="every")
    assert to_tapvid_raster(np.array([[854.0, 480.0]]), (480, 854)).tolist() == [[256.0, 256.0]]


def test_pck_counts_joints_within_a_fifth_of_the_root_area() -> None:
    errors = np.array([1.0, 19.9, 20.0, np.nan, np.inf])
    assert pck(errors, np.full(5, 10000.0)) == pytest.approx(2 / 5)  # 0.2 * sqrt(10000) = 20, strict
    assert np.isnan(pck(np.array([]), np.array([])))


def write_badja(path: Path, frames: dict[int, list[tuple[float, float]]], width: int) -> None:
    """A BADJA-style joint file: (x, y) in our pixels written as Full-Resolution (row, col)."""
    scale = BADJA_WIDTH / width
    entries = []
    for frame, joints in frames.items():
        rows_cols = [[y * scale, x * scale] for x, y in joints] + [[0.0, 0.0]]
        entries.append(
            {
                "image_path": f"DAVIS/JPEGImages/Full-Resolution/square/{frame:05d}.jpg",
                "segmentation_path": "",
                "joints": rows_cols,
                "visibility": [1] * len(joints) + [0],
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries))


def test_eval_tracks_cli_scores_boxes_and_badja_points(data_folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # The generated object moves 3 px a frame to the right: joints on it follow.
    joints = [(60.0, 60.0), (75.0, 55.0), (50.0, 70.0)]
    moved = {f: [(x + 3 * f, y) for x, y in joints] for f in (0, 4, 7)}
    write_badja(data_folder / "tracks" / "badja" / "square.json", moved, width=160)
    annotated = read_badja(data_folder / "tracks" / "badja" / "square.json", 160)
    assert [a.frame for a in annotated] == [0, 4, 7] and annotated[1].joints[0].tolist() == pytest.approx([72, 60])
    assert annotated[0].visible.tolist() == [True, True, True, False]
    out = tmp_path / "tracks.json"
    assert main(["eval", "tracks", "--data", str(data_folder), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    (box,) = result["boxes"]["sequences"]
    assert box["name"] == "square" and box["frames"] == 7 and box["auc"] > 0.6 and box["fps"] > 0
    (points,) = result["points"]["sequences"]
    assert points["joints"] == 3 and points["scored"] == 6 and points["pck"] > 0.8
    printed = capsys.readouterr().out
    assert "success AUC" in printed and "| square |" in printed and "PCK" in printed
    assert main(["eval", "tracks", "--data", str(data_folder), "--box-tracker", "mask", "--mask-gate", "--snap"]) == 0
    assert main(["eval", "tracks", "--data", str(tmp_path / "nowhere")]) == 2


@pytest.mark.data
@pytest.mark.slow
def test_the_classic_trackers_on_shared_sequences(shared_data: Path) -> None:
    videos = shared_data / "videos"
    swan = VideoItem("blackswan", videos / "blackswan" / "frames", videos / "blackswan" / "masks")
    score = evaluate_box_sequence(ClassicBoxSession, swan)
    assert score.frames == 49 and score.auc > 0.85 and score.precision > 0.9  # measured 0.915 and 1.0
    camel = VideoItem("camel", videos / "camel" / "frames", videos / "camel" / "masks")
    points = evaluate_point_sequence(
        lambda frames, source: ClassicPointSession(frames, mask_source=source),
        camel,
        shared_data / "tracks" / "badja" / "camel.json",
    )
    assert points.joints == 20 and points.scored == 311 and points.pck > 0.7  # measured 0.80
