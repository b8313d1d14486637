"""The click and video harness and their CLI on generated data, with engines of known behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.cli import main
from annotator.evaluation.clicks import evaluate_clicks, markdown_table, run_clicks
from annotator.evaluation.data import DataError, list_images, list_videos, read_video_gt, video_masks
from annotator.evaluation.video import evaluate_video, scored_frames
from annotator.evaluation.video import markdown_table as video_markdown
from model.protocol import Embedding, Prediction, Prompt


class RowsEngine:
    """A fake engine whose mask after n clicks is the GT's first 2n rows (IoU 0.2, 0.4, ... on a 10-row GT)."""

    name = model_id = "rows"
    device = "cpu"

    def __init__(self, gt: np.ndarray) -> None:
        self.gt = gt
        self.prompts: list[Prompt] = []

    def embed(self, image: np.ndarray) -> Embedding:
        return Embedding(self.model_id, image.shape[:2], {})

    def predict(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        self.prompts.append(prompt)
        rows = np.flatnonzero(self.gt.any(axis=1))[: 2 * len(prompt.points)]
        mask = np.zeros_like(self.gt)
        mask[rows] = self.gt[rows]
        return Prediction(mask[None], np.ones(1, np.float32), np.zeros((1, 4, 4), np.float32))

    def open_video(self, frames):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_run_clicks_gives_known_ious_and_feeds_back_logits() -> None:
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    engine = RowsEngine(gt)
    ious, times = run_clicks(engine, engine.embed(np.zeros((20, 20, 3), np.uint8)), gt, None, max_clicks=8)
    assert ious[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert ious[5:] == [1.0, 1.0, 1.0] and len(times) == 5
    assert engine.prompts[0].multimask and not engine.prompts[1].multimask
    assert engine.prompts[1].logits is not None
    assert all(p.labels.all() for p in engine.prompts)  # every miss is a false negative: positive clicks


def test_click_report_on_a_data_folder(data_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = list_images(data_folder)
    assert [i.name for i in items] == ["item0", "item1"] and items[0].ignore is not None
    from annotator.evaluation import clicks

    monkeypatch.setattr(clicks, "load_image_item", lambda item: _rows_item())
    report = evaluate_clicks(RowsEngine(_rows_item()[1]), items, max_clicks=20)
    assert report.mean("noc85") == 5 and report.mean("noc90") == 5
    assert report.mean("iou1") == pytest.approx(0.2) and report.mean("iou5") == pytest.approx(1.0)
    table = markdown_table(report)
    assert "| **mean** | 5.00 | 5.00 | 0.200 | 1.000 |" in table


def _rows_item() -> tuple[np.ndarray, np.ndarray, None]:
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    return np.zeros((20, 20, 3), np.uint8), gt, None


def test_eval_clicks_cli_with_the_classic_engine(data_folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "clicks.json"
    code = main(
        ["eval", "clicks", "--data", str(data_folder), "--engine", "classic", "--max-clicks", "5", "--json", str(out)]
    )
    assert code == 0
    assert "| **mean** |" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert len(result["items"]) == 2 and result["means"]["iou5"] > 0.85


def test_eval_video_cli_with_the_classic_engine(data_folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "video.json"
    assert main(["eval", "video", "--data", str(data_folder), "--engine", "classic", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    sequence = result["sequences"][0]
    assert sequence["frames"] == 8 and sequence["jf"] > 0.8 and sequence["fps"] > 0
    assert "J&F" in capsys.readouterr().out


def test_scored_frames_leave_out_the_prompt_and_last_frame() -> None:
    assert list(scored_frames(5)) == [1, 2, 3]
    assert list(scored_frames(2)) == [1]


def test_empty_or_missing_data_folders_give_clear_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="is not a folder"):
        list_images(tmp_path / "missing")
    with pytest.raises(DataError, match="no images/ folder"):
        list_images(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match="no image with a ground-truth mask"):
        list_images(tmp_path)
    with pytest.raises(DataError, match="no videos/ folder"):
        list_videos(tmp_path)
    assert main(["eval", "clicks", "--data", str(tmp_path)]) == 2
    assert "no image with a ground-truth mask" in capsys.readouterr().err


def test_unreadable_files_are_named(data_folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (data_folder / "images" / "item1.png").write_bytes(b"not a png")
    assert main(["eval", "clicks", "--data", str(data_folder), "--max-clicks", "2"]) == 2
    assert "item1.png" in capsys.readouterr().err
    (data_folder / "videos" / "square" / "masks" / "00003.png").unlink()
    assert main(["eval", "video", "--data", str(data_folder)]) == 2
    assert "7 masks for 8 frames" in capsys.readouterr().err


def test_unknown_engine_is_reported(data_folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["eval", "video", "--data", str(data_folder), "--engine", "nope"]) == 2
    assert "unknown engine 'nope'" in capsys.readouterr().err


def test_video_report_uses_any_engine_session(data_folder: Path) -> None:
    from model import registry

    report = evaluate_video(registry.create("classic"), list_videos(data_folder))
    assert report.sequences[0].j > 0.8
    assert report.peak_rss_mb is None or report.peak_rss_mb > 0


def test_bench_cli_runs_on_generated_inputs_and_says_so(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bench.json"
    assert main(["bench", "--synthetic", "--clicks", "3", "--frames", "4", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["image_size"] == [1080, 1920] and figures["clicks"] == 3 and figures["source"] == "synthetic"
    assert figures["click_ms_p50"] > 0 and figures["propagate_ms_per_frame"] > 0
    assert figures["propagate_ms_second_half"] > 0
    out = capsys.readouterr().out
    assert "click -> mask p50" in out and "propagation, second half" in out and "SYNTHETIC" in out


def test_bench_cli_times_segment_everything_when_asked(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bench.json"
    args = ["bench", "--synthetic", "--clicks", "1", "--frames", "0", "--everything", "8", "--json", str(out)]
    assert main(args) == 0
    figures = json.loads(out.read_text())
    assert figures["everything_ms"] > 0 and figures["everything_points"] == 8 and figures["everything_proposals"] > 0
    assert "segment everything" in capsys.readouterr().out
    assert main(["bench", "--synthetic", "--clicks", "1", "--frames", "0", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["everything_points"] == 0
    assert "segment everything" not in capsys.readouterr().out


def test_bench_cli_times_the_real_images_and_sequences(shared_data: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bench.json"
    args = ["bench", "--data", str(shared_data), "--clicks", "2", "--frames", "3", "--sequences", "1"]
    assert main([*args, "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    images, videos = list_images(shared_data), list_videos(shared_data)
    assert figures["source"] == str(shared_data) and figures["images"] == len(images)
    assert figures["clicks"] >= len(images)  # the robot clicked at least once on every image
    assert figures["first_click_ms_p50"] > 0 and figures["sequences"] == [videos[0].name]
    assert 0 < figures["first_mask_ms_p50"] <= figures["first_mask_ms_p95"]  # the classic engine's quick mask
    assert figures["video_size"] == list(read_video_gt(video_masks(videos[0])[0])[0].shape)
    assert figures["propagate_ms_per_frame"] > 0
    printed = capsys.readouterr().out
    assert f"on the data in {shared_data}" in printed and "SYNTHETIC" not in printed
    assert "quick first mask after a click" in printed


def test_eval_video_cli_with_a_tiny_sam2_on_the_shared_videos(shared_data: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    from tiny_sam import tiny_sam2
    from videos import link_first

    weights = tiny_sam2(tmp_path / "tiny")
    sequences = sorted(p for p in (shared_data / "videos").iterdir() if (p / "frames").is_dir())
    for sequence in sequences:
        for part in ("frames", "masks"):
            link_first(sequence / part, tmp_path / "data" / "videos" / sequence.name / part, 5)
    out = tmp_path / "video.json"
    args = ["eval", "video", "--data", str(tmp_path / "data"), "--engine", "sam2.1-tiny", "--device", "cpu"]
    assert main([*args, "--weights", str(weights), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [s["frames"] for s in result["sequences"]] == [5] * len(sequences)
    assert all(0 <= s["jf"] <= 1 and s["fps"] > 0 for s in result["sequences"])  # random weights: any score
    assert "| blackswan | 5 |" in capsys.readouterr().out


class _Replay:
    """A video session that streams given masks (None: no mask for the object on that frame)."""

    def __init__(self, masks: list[np.ndarray | None]) -> None:
        self.masks = masks

    def add_prompt(self, frame: int, obj_id: int, prompt: object) -> np.ndarray:
        return self.masks[frame]  # type: ignore[return-value]

    def propagate(self, start: int, direction: str = "forward", cancel: object = None):  # type: ignore[no-untyped-def]
        for index, mask in enumerate(self.masks):
            yield index, ({} if mask is None else {1: mask})

    def close(self) -> None:
        pass


def test_video_report_counts_frames_with_no_mask_and_masks_with_no_object(data_folder: Path) -> None:
    [video] = list_videos(data_folder)
    gts = video_masks(video)
    truth = [read_video_gt(path)[0] for path in gts]
    Image.fromarray(np.zeros(truth[4].shape, np.uint8)).save(gts[4])  # the object left the frame on frame 4
    replay = [m.copy() for m in truth]
    replay[2] = None  # no mask at all where the object is
    replay[3] = np.zeros_like(truth[3])  # an empty mask where the object is

    class Engine:
        model_id, device = "replay", "cpu"

        def open_video(self, frames: object) -> _Replay:
            return _Replay(replay)

    [score] = evaluate_video(Engine(), [video]).sequences  # type: ignore[arg-type]
    assert (score.missed, score.false_present) == (2, 1)
    assert "| object there, no mask | mask, object not there |" in video_markdown(evaluate_video(Engine(), [video]))  # type: ignore[arg-type]
