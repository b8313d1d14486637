"""Datumaro as the consumer and producer of our COCO and MOT files, run in its own environment.

Datumaro pins its own dependencies, so it lives in .venv-datumaro (`make test` creates it; or set
ANNOTATOR_DATUMARO_PYTHON); without it these tests are skipped, never failed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.document.project import Project
from annotator.io.coco import read_coco
from annotator.io.project_io import dataset_from_project, write_project

from .coco_files import val2017, write_coco2017
from .conftest import consumer_python

SCRIPT = Path(__file__).with_name("datumaro_reference.py")


def _datumaro_python() -> str | None:
    """An interpreter with datumaro ($ANNOTATOR_DATUMARO_PYTHON or .venv-datumaro), or None."""
    return consumer_python("datumaro", "ANNOTATOR_DATUMARO_PYTHON", ".venv-datumaro")


@pytest.fixture(scope="module")
def datumaro() -> str:
    """The interpreter with Datumaro (the test is skipped without one)."""
    python = _datumaro_python()
    if python is None:
        pytest.skip("no interpreter with the datumaro package (make .venv-datumaro or set ANNOTATOR_DATUMARO_PYTHON)")
    return python


def _run(python: str, *args: str | Path) -> None:
    subprocess.run([python, str(SCRIPT), *map(str, args)], check=True, timeout=300, capture_output=True)


def _read(python: str, fmt: str, path: Path, out: Path, *flags: str) -> dict:
    _run(python, "read", fmt, path, out, *flags)
    return json.loads(out.read_text())


def test_datumaro_imports_our_coco_in_its_layout(datumaro: str, tmp_path: Path) -> None:
    coco2017 = write_coco2017(tmp_path)
    root = tmp_path / "dm"
    shutil.copytree(val2017(coco2017), root / "images" / "val")
    out = root / "annotations" / "instances_val.json"
    args = ["convert", str(coco2017), "-o", str(out), "--to", "coco", "--images", str(root / "images" / "val")]
    assert main(args) == 0
    ours = json.loads(out.read_text())
    theirs = _read(datumaro, "coco_instances", root, tmp_path / "d.json", "keep_ids")
    assert len(theirs["items"]) == len(ours["images"]) == 2
    assert {item["subset"] for item in theirs["items"]} == {"val"}
    regions = [a for item in theirs["items"] for a in item["annotations"] if a["type"] in ("mask", "polygon")]
    assert sorted(a["id"] for a in regions) == sorted(a["id"] for a in ours["annotations"])
    # keep_original_category_ids: Datumaro's label index is the category id, so names show the ids kept.
    names = {c["id"]: c["name"] for c in ours["categories"]}
    assert (
        {theirs["labels"][i]: i for i in names}
        == {name: i for i, name in names.items()}
        == {
            "person": 1,
            "dog": 18,
            "toothbrush": 90,
        }
    )
    by_id = {a["id"]: a for a in regions}
    for ann in ours["annotations"]:
        assert by_id[ann["id"]]["label"] == names[ann["category_id"]]
        assert by_id[ann["id"]]["attributes"]["is_crowd"] == bool(ann["iscrowd"])
    assert Counter(a["attributes"]["is_crowd"] for a in regions) == {False: 2, True: 1}


def test_we_read_datumaros_coco_with_boxes_and_masks(datumaro: str, tmp_path: Path) -> None:
    _run(datumaro, "write-coco", tmp_path / "dm")
    path = tmp_path / "dm" / "annotations" / "instances_train.json"
    dataset = read_coco(path, tmp_path / "dm" / "images" / "train")
    (item,) = dataset.items
    assert sorted((obj.label, obj.iscrowd) for obj in item.objects) == [("car", True), ("person", False)]
    mask = next(obj for obj in item.objects if obj.iscrowd).masks[0]
    assert mask.area == 36 and mask.bbox == (3, 2, 9, 8)
    assert dataset.skipped == ["2 box-only annotations (no mask) in instances_train.json"]


def test_datumaro_imports_our_mot_ground_truth(datumaro: str, sample_project: Project, tmp_path: Path) -> None:
    project_file = write_project(dataset_from_project(sample_project), tmp_path / "p.annot")
    out = tmp_path / "mot"
    assert main(["convert", str(project_file), "-o", str(out), "--to", "mot-gt"]) == 0
    # mot_seq is one sequence a dataset (its items are the frame numbers): import the video's folder.
    theirs = _read(datumaro, "mot_seq", out / "clip", tmp_path / "m.json")
    assert theirs["labels"] == ["cat", "dog", "object"]
    clip = next(item for item in dataset_from_project(sample_project).items if item.kind == "video")
    tracks = json.loads((out / "tracks.json").read_text())["clip"]
    expected = set()
    for obj in clip.objects:
        track = next(int(t) for t, entry in tracks.items() if entry["name"] == obj.name)
        for frame, mask in obj.masks.items():
            x0, y0, x1, y1 = mask.bbox
            expected.add((str(frame + 1), obj.label, track, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))))
    got = set()
    for item in theirs["items"]:
        for ann in item["annotations"]:
            attributes = ann["attributes"]
            assert (
                attributes["visibility"] == 1.0 and attributes["occluded"] is False and attributes["ignored"] is False
            )
            got.add((item["id"], ann["label"], attributes["track_id"], tuple(ann["bbox"])))
    assert got == expected
    assert sorted(item["id"] for item in theirs["items"]) == ["1", "2", "3"]
