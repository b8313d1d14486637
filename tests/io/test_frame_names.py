"""A video's frame names survive every step, even when its frames are absent (--no-check-media)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as cocomask

from annotator.cli import main

NAMES = ["img_0000001.jpg", "img_0000002.jpg", "img_0000003.jpg"]


def _ytvis(path: Path) -> Path:
    """A YouTube-VIS file (its documented layout) of one video whose frames are not on this machine."""
    mask = np.zeros((20, 30), np.uint8)
    mask[4:10, 5:12] = 1
    rle = cocomask.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode()
    data = {
        "videos": [{"id": 1, "width": 30, "height": 20, "length": 3, "file_names": [f"seq/{n}" for n in NAMES]}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": [rle, None, rle]}],
    }
    path.write_text(json.dumps(data))
    return path


def _file_names(path: Path) -> list[str]:
    return json.loads(path.read_text())["videos"][0]["file_names"]


def test_frame_names_of_absent_frames_survive_a_project_and_rle_json(tmp_path: Path) -> None:
    source = _ytvis(tmp_path / "vis.json")
    project = tmp_path / "p.annot"
    assert main(["convert", str(source), "-o", str(project), "--to", "project", "--no-check-media"]) == 0
    assert main(["convert", str(project), "-o", str(tmp_path / "back.json"), "--to", "ytvis"]) == 0
    assert _file_names(tmp_path / "back.json") == [f"seq/{n}" for n in NAMES]
    assert main(["convert", str(project), "-o", str(tmp_path / "png"), "--to", "png"]) == 0
    assert sorted(p.name for p in (tmp_path / "png" / "seq").iterdir()) == [n.replace(".jpg", ".png") for n in NAMES]
    rle = tmp_path / "masks.json"
    assert main(["convert", str(project), "-o", str(rle), "--to", "rle"]) == 0
    assert json.loads(rle.read_text())["items"][0]["frame_names"] == NAMES
    assert main(["convert", str(rle), "-o", str(tmp_path / "again.json"), "--to", "ytvis", "--no-check-media"]) == 0
    assert _file_names(tmp_path / "again.json") == [f"seq/{n}" for n in NAMES]
