"""COCO: project round trips, pycocotools as the consumer, and bad input importing nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.coco import CocoOptions, read_coco, write_coco
from annotator.io.project_io import dataset_from_project, import_dataset

from .conftest import assert_same_masks, exported, reimport


def _self_ap(path: Path) -> float:
    """AP of the file's annotations evaluated against themselves by COCOeval."""
    ground = COCO(str(path))
    results = copy.deepcopy(json.loads(path.read_text())["annotations"])
    for result in results:
        result["score"] = 1.0
    evaluation = COCOeval(ground, ground.loadRes(results), "segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


def test_rle_round_trip_is_bit_identical(sample_project: Project, tmp_path: Path) -> None:
    path = write_coco(exported(sample_project), tmp_path / "out" / "coco.json")
    assert_same_masks(sample_project, reimport(read_coco(path)))


def test_polygon_round_trip_is_close(sample_project: Project, tmp_path: Path) -> None:
    path = write_coco(exported(sample_project), tmp_path / "coco.json", CocoOptions("polygon"))
    assert_same_masks(sample_project, reimport(read_coco(path)), min_iou=0.95)


@pytest.mark.parametrize("mode", ["rle", "polygon"])
def test_pycocotools_loads_export_and_self_ap_is_one(sample_project: Project, tmp_path: Path, mode: str) -> None:
    path = write_coco(exported(sample_project), tmp_path / "coco.json", CocoOptions(mode))
    ground = COCO(str(path))
    assert len(ground.getImgIds()) == 2 + 3
    assert {c["name"] for c in ground.loadCats(ground.getCatIds())} == {"cat", "dog", "object"}
    assert _self_ap(path) == pytest.approx(1.0)


def test_video_frames_carry_video_and_track_ids(sample_project: Project, tmp_path: Path) -> None:
    data = json.loads(write_coco(exported(sample_project), tmp_path / "c.json").read_text())
    frames = [image for image in data["images"] if "video_id" in image]
    assert [f["frame_id"] for f in frames] == [0, 1, 2]
    assert frames[0]["file_name"] == "media/clip/00000.jpg"
    tracks = {a["track_id"] for a in data["annotations"] if a["image_id"] in {f["id"] for f in frames}}
    assert len(tracks) == 2
    assert data["videos"][0]["length"] == 3


@pytest.mark.data
def test_shared_masks_round_trip(shared_data: Path, tmp_path: Path) -> None:
    from annotator.io.png_masks import PngImportOptions, read_png_masks

    dataset = read_png_masks(shared_data / "instances", PngImportOptions(images=shared_data / "images"))
    project = reimport(dataset)
    path = write_coco(exported(project), tmp_path / "coco.json")
    assert_same_masks(project, reimport(read_coco(path)))
    assert _self_ap(path) == pytest.approx(1.0)


def _valid(sample_project: Project, tmp_path: Path) -> dict:
    path = write_coco(exported(sample_project), tmp_path / "coco.json", CocoOptions("polygon"))
    return json.loads(path.read_text())


def _rle_size(data: dict) -> None:
    data["annotations"][0]["segmentation"] = {"size": [10, 10], "counts": [100]}


BAD = {
    "missing images": (lambda d: d.pop("images"), "", "misses the key 'images'"),
    "annotations not a list": (lambda d: d.update(annotations={}), "annotations", "must be a list"),
    "image without width": (lambda d: d["images"][1].pop("width"), "images[1]", "misses the key 'width'"),
    "width as text": (lambda d: d["images"][0].update(width="64"), "images[0].width", "must be an integer"),
    "absent image": (lambda d: d["images"][0].update(file_name="nope.png"), "file_name", "listed but absent"),
    "unknown category": (lambda d: d["annotations"][0].update(category_id=99), "category_id", "no category"),
    "unknown image": (lambda d: d["annotations"][-1].update(image_id=999), "image_id", "no image has id"),
    "two-point polygon": (
        lambda d: d["annotations"][0].update(segmentation=[[1, 1, 5, 5]]),
        "annotations[0].segmentation[0]",
        "at least 3",
    ),
    "rle of another size": (_rle_size, "annotations[0].segmentation.size", "but the image is"),
    "duplicate image id": (lambda d: d["images"][1].update(id=1), "images[1].id", "appears twice"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_coco_is_a_format_error_and_imports_nothing(case: str, sample_project: Project, tmp_path: Path) -> None:
    data = _valid(sample_project, tmp_path)
    mutate, element, problem = BAD[case]
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    target = Project.in_memory()
    with pytest.raises(FormatError) as caught:
        import_dataset(target, read_coco(path))
    error = caught.value
    assert error.path == str(path) and element in error.element and problem in error.problem
    assert target.items == [] and target.labels == []


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"images": 3}', "\xff\xfe"])
def test_malformed_json_is_a_format_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(FormatError) as caught:
        read_coco(path)
    assert caught.value.path == str(path)


def test_import_is_one_undo_step(sample_project: Project, tmp_path: Path) -> None:
    path = write_coco(exported(sample_project), tmp_path / "coco.json")
    target = Project.in_memory()
    import_dataset(target, read_coco(path))
    assert len(target.items) == 3
    assert target.undo()
    assert target.items == [] and target.labels == []


def test_empty_masks_are_not_exported(tmp_path: Path, sample_project: Project) -> None:
    dataset = dataset_from_project(sample_project)
    from annotator.document.mask import Mask

    dataset.items[0].objects[0].masks[0] = Mask.empty(50, 64)
    data = json.loads(write_coco(dataset, tmp_path / "c.json").read_text())
    assert all(np.sum(a["area"]) > 0 for a in data["annotations"])


@pytest.mark.data
def test_shared_masks_polygon_round_trip_iou(shared_data: Path, tmp_path: Path) -> None:
    from annotator.io.png_masks import PngImportOptions, read_png_masks

    dataset = read_png_masks(shared_data / "instances", PngImportOptions(images=shared_data / "images"))
    project = reimport(dataset)
    path = write_coco(exported(project), tmp_path / "coco.json", CocoOptions("polygon"))
    scores = assert_same_masks(project, reimport(read_coco(path)), min_iou=0.98)
    assert len(scores) == 4
    assert _self_ap(path) == pytest.approx(1.0)
