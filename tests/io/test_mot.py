"""MOT exports: the ground-truth layout (gt/gt.txt, seqinfo.ini) beside the results layout.

The ground-truth layout is checked against MOTChallenge's documentation (gt.txt: frame, id, box,
consider flag, class, visibility; seqinfo.ini's [Sequence] keys), the way a training reader
parses it: frames 1-based, classes looked up in gt/labels.txt.
"""

from __future__ import annotations

import configparser
import csv
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.document.mask import Mask
from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.project_io import dataset_from_project, read_project, write_project
from annotator.io.tracks import track_ids, write_mot_gt

from .conftest import disc


def _sequence(folder: Path) -> tuple[dict[str, str], list[list[str]], list[str]]:
    """seqinfo.ini's [Sequence] section (keys as written), gt.txt's rows and labels.txt's names."""
    ini = configparser.ConfigParser()
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini.read(folder / "seqinfo.ini", encoding="utf-8")
    with (folder / "gt" / "gt.txt").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    labels = (folder / "gt" / "labels.txt").read_text(encoding="utf-8").splitlines()
    return dict(ini["Sequence"]), rows, labels


def test_ground_truth_layout_from_the_cli(sample_project: Project, tmp_path: Path) -> None:
    project_file = write_project(dataset_from_project(sample_project), tmp_path / "p.annot")
    out = tmp_path / "mot"
    assert main(["convert", str(project_file), "-o", str(out), "--to", "mot-gt"]) == 0
    info, rows, labels = _sequence(out / "clip")
    expected = {"name": "clip", "imDir": "img1", "frameRate": "10", "seqLength": "3", "imWidth": "48"}
    assert info == {**expected, "imHeight": "32", "imExt": ".jpg"}
    assert labels == ["cat", "dog", "object"]  # the unlabelled object of image a, named as convert names it
    assert all(len(row) == 9 for row in rows) and len(rows) == 5
    assert sorted({int(row[0]) for row in rows}) == [1, 2, 3]  # 1-based frames
    assert {row[6] for row in rows} == {"1"} and {float(row[8]) for row in rows} == {1.0}
    clip = read_project(project_file).items[2]
    boxes = {}
    for obj, track in zip(clip.objects, track_ids(clip), strict=True):
        for frame, mask in obj.masks.items():
            x0, y0, x1, y1 = mask.bbox
            boxes[(frame + 1, track)] = (obj.label, [x0, y0, x1 - x0, y1 - y0])
    theirs = {(int(r[0]), int(r[1])): (labels[int(r[7]) - 1], [int(v) for v in r[2:6]]) for r in rows}
    assert theirs == boxes
    a_info, a_rows, _ = _sequence(out / "a")
    assert a_info["seqLength"] == "1" and a_info["imExt"] == ".png" and len(a_rows) == 3


def test_results_layout_is_still_written(sample_project: Project, tmp_path: Path) -> None:
    project_file = write_project(dataset_from_project(sample_project), tmp_path / "p.annot")
    assert main(["convert", str(project_file), "-o", str(tmp_path / "res"), "--to", "mot"]) == 0
    rows = [line.split(",") for line in (tmp_path / "res" / "clip.txt").read_text().splitlines()]
    assert len(rows) == 5 and all(len(row) == 10 and row[6:] == ["1", "-1", "-1", "-1"] for row in rows)
    assert not (tmp_path / "res" / "clip" / "gt").exists()


def test_track_ids_are_unique_and_positive() -> None:
    masks = {0: Mask.from_array(disc(20, 20, 10, 10, 4))}
    item = ItemData("v", 20, 20, "video", 1)
    item.objects = [
        ObjectData("x", "cat", masks, track_id=2),
        ObjectData("y", "cat", masks),
        ObjectData("z", "cat", masks),
    ]
    item.objects.append(ObjectData("w", "cat", masks, track_id=0))
    ids = track_ids(item)
    assert ids[:2] == [2, 3] and len(set(ids)) == 4 and min(ids) >= 1  # y would be 2 too


def test_two_items_of_one_name_are_refused(tmp_path: Path) -> None:
    masks = {0: Mask.from_array(disc(20, 20, 10, 10, 4))}
    items = [ItemData(f"{folder}/clip", 20, 20, "video", 1) for folder in ("x", "y")]
    for item in items:
        item.objects = [ObjectData("o", "cat", masks)]
    with pytest.raises(FormatError, match="two items are named clip"):
        write_mot_gt(Dataset([LabelData("cat")], items), tmp_path / "mot")
    assert not (tmp_path / "mot").exists()
