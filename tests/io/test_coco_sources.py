"""COCO files as other tools write them: ids, crowd regions, box-only annotations, other COCO tasks.

Each file is built here from the format's documentation (cocodataset.org "data format", and
what Roboflow, CVAT and Datumaro write for boxes and masks), never copied from anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO

from annotator.cli import main
from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.coco import keep_ids, read_coco
from annotator.io.dataset import CROWD_NAME
from annotator.io.formats import FormatOptions, convert, export_project, import_annotations
from annotator.io.project_io import import_dataset

from .coco_files import CROWD, DOG, HEIGHT, WIDTH, ann, image, uncompressed, val2017, write_coco2017
from .conftest import write_image


@pytest.fixture
def coco2017(tmp_path: Path) -> Path:
    """A COCO 2017-like instances file (coco_files.write_coco2017)."""
    return write_coco2017(tmp_path)


def _masks_by_id(coco: COCO) -> dict[int, np.ndarray]:
    return {ann["id"]: coco.annToMask(ann).astype(bool) for ann in coco.loadAnns(coco.getAnnIds())}


def test_coco_to_coco_keeps_ids_crowd_and_other_keys(coco2017: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    images = val2017(coco2017)
    assert main(["convert", str(coco2017), "-o", str(out), "--to", "coco", "--images", str(images)]) == 0
    source, ours = COCO(str(coco2017)), COCO(str(out))
    assert ours.getCatIds() == [1, 18, 90]
    assert [c["supercategory"] for c in ours.loadCats([1, 18, 90])] == ["person", "animal", "indoor"]
    assert sorted(ours.getImgIds()) == [37777, 397133]
    assert sorted(ours.getAnnIds()) == [1270, 1768, 900100397133]
    crowd = ours.loadAnns([900100397133])[0]
    assert crowd["iscrowd"] == 1 and isinstance(crowd["segmentation"]["counts"], list)
    assert [a["iscrowd"] for a in ours.loadAnns([1270, 1768])] == [0, 0]
    theirs, mine = _masks_by_id(source), _masks_by_id(ours)
    assert all(np.array_equal(theirs[i], mine[i]) for i in (1270, 900100397133))
    assert (theirs[1768] & mine[1768]).sum() / (theirs[1768] | mine[1768]).sum() > 0.9
    data, original = json.loads(out.read_text()), json.loads(coco2017.read_text())
    assert data["info"] == original["info"] and data["licenses"] == original["licenses"]
    assert ours.loadImgs([397133])[0]["coco_url"] == original["images"][0]["coco_url"]
    # Evaluation treats the crowd region as one: it matches no instance, so it is an ignore region.
    assert ours.getAnnIds(iscrowd=False) == [1768, 1270]


def test_polygon_export_keeps_crowd_as_rle(coco2017: Path, tmp_path: Path) -> None:
    out = tmp_path / "poly.json"
    convert(coco2017, out, "coco", options=FormatOptions(segmentation="polygon", images=val2017(coco2017)))
    by_id = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    assert isinstance(by_id[900100397133]["segmentation"], dict) and by_id[900100397133]["iscrowd"] == 1
    assert isinstance(by_id[1270]["segmentation"], list)


def test_ids_that_collide_are_renumbered_above_the_kept_ones() -> None:
    assert keep_ids([5, None, 5, 0, None]) == [5, 6, 7, 0, 8]
    assert keep_ids([None, None]) == [1, 2]


def test_project_import_keeps_crowd_as_named_objects_and_export_takes_ids_by_name(
    coco2017: Path, tmp_path: Path
) -> None:
    project = Project.create(tmp_path / "p.annot")
    try:
        report = import_annotations(project, coco2017, options=FormatOptions(images=val2017(coco2017)))
        assert report.crowd == 1 and "1 crowd region (iscrowd 1) kept as objects named 'crowd'" in report.summary()
        names = [obj.name for item in project.items for obj in project.objects(item.id)]
        assert names.count(CROWD_NAME) == 1 and report.masks == 3
        plain, with_ids = tmp_path / "plain.json", tmp_path / "ids.json"
        export_project(project, plain, "coco")
        export_project(project, with_ids, "coco", FormatOptions(categories=coco2017))
    finally:
        project.close()
    # A project keeps no ids: without the original its labels are numbered in order ...
    plain_data = json.loads(plain.read_text())
    assert [(c["id"], c["name"]) for c in plain_data["categories"]] == [(1, "person"), (2, "dog"), (3, "toothbrush")]
    # ... with it, a label takes the id (and supercategory) of the category of its name.
    ours = COCO(str(with_ids))
    assert ours.getCatIds() == [1, 18, 90] and ours.loadCats(18)[0]["supercategory"] == "animal"
    crowd = [a for a in ours.loadAnns(ours.getAnnIds()) if a["iscrowd"]]
    assert len(crowd) == 1 and np.array_equal(ours.annToMask(crowd[0]).astype(bool), CROWD)


def test_a_label_missing_from_the_categories_file_gets_an_id_above_them(coco2017: Path, tmp_path: Path) -> None:
    dataset = read_coco(coco2017, val2017(coco2017))
    for label in dataset.labels:
        label.source_id = None
    dataset.labels[1].name = "hound"
    for obj in dataset.items[1].objects:
        obj.label = "hound"
    project = Project.in_memory()
    import_dataset(project, dataset)
    export_project(project, tmp_path / "c.json", "coco", FormatOptions(categories=coco2017))
    categories = json.loads((tmp_path / "c.json").read_text())["categories"]
    assert [(c["id"], c["name"]) for c in categories] == [(1, "person"), (91, "hound"), (90, "toothbrush")]


def test_a_bad_categories_file_is_a_format_error_naming_it(coco2017: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cats.json"
    bad.write_text(json.dumps({"categories": [{"id": "one", "name": "cat"}]}))
    with pytest.raises(FormatError) as caught:
        convert(coco2017, tmp_path / "o.json", "coco", options=FormatOptions(categories=bad, images=val2017(coco2017)))
    assert caught.value.path == str(bad) and "categories[0].id" in caught.value.element
    assert not (tmp_path / "o.json").exists()


@pytest.fixture
def roboflow(tmp_path: Path) -> Path:
    """Roboflow's COCO export: 0-based ids everywhere, a workspace class with id 0, boxes as
    `segmentation: []`, masks as polygons."""
    for name in ("img_0.jpg", "img_1.jpg"):
        write_image(tmp_path / "train" / name, WIDTH, HEIGHT)
    polygon = [[10.0, 10.0, 40.0, 10.0, 40.0, 30.0]]
    data = {
        "info": {"year": "2024", "version": "3", "description": "Exported from roboflow.com"},
        "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}],
        "categories": [
            {"id": 0, "name": "cells", "supercategory": "none"},
            {"id": 1, "name": "red", "supercategory": "cells"},
            {"id": 2, "name": "white", "supercategory": "cells"},
        ],
        "images": [image(0, "img_0.jpg", license=1), image(1, "img_1.jpg", license=1)],
        "annotations": [
            ann(0, 0, 1, polygon),
            ann(1, 0, 2, []),
            ann(2, 1, 2, polygon),
            ann(3, 1, 1, []),
        ],
    }
    path = tmp_path / "train" / "_annotations.coco.json"
    path.write_text(json.dumps(data))
    return path


def test_box_only_annotations_are_skipped_and_counted(
    roboflow: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out.json"
    assert main(["convert", str(roboflow), "-o", str(out), "--to", "coco"]) == 0
    printed = capsys.readouterr().out
    assert "converted 2 masks from coco to coco" in printed
    assert "skipped 2 box-only annotations (no mask) in _annotations.coco.json" in printed
    ours = COCO(str(out))
    assert ours.getCatIds() == [0, 1, 2] and sorted(ours.getImgIds()) == [0, 1]
    assert sorted(ours.getAnnIds()) == [0, 2]


def test_box_only_annotations_in_a_project_import_are_reported(roboflow: Path) -> None:
    project = Project.in_memory()
    report = import_annotations(project, roboflow)
    assert report.masks == 2
    assert "skipped 2 box-only annotations (no mask) in _annotations.coco.json" in report.summary()


@pytest.fixture
def cvat(tmp_path: Path) -> Path:
    """CVAT's "COCO 1.0" export: ids from 1, `attributes` on annotations, boxes as `segmentation: []`,
    mask shapes as iscrowd 1 with uncompressed RLE (COCO allows RLE only for crowd), and a box
    whose writer left `segmentation` out and one with `[[]]`."""
    write_image(tmp_path / "images" / "frame_000000.png", WIDTH, HEIGHT)
    info = {"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""}
    attributes = {"occluded": False, "rotation": 0.0}
    data = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": info,
        "categories": [{"id": 1, "name": "car", "supercategory": ""}, {"id": 2, "name": "tree", "supercategory": ""}],
        "images": [image(1, "frame_000000.png", license=0, flickr_url="", coco_url="", date_captured=0)],
        "annotations": [
            ann(1, 1, 1, [], attributes=attributes),
            ann(2, 1, 2, uncompressed(DOG), 1, attributes=attributes),
            ann(3, 1, 1, [[5.0, 5.0, 20.0, 5.0, 20.0, 15.0]], attributes=attributes),
            ann(4, 1, 1, ..., attributes=attributes),
            ann(5, 1, 2, [[]]),
            ann(6, 1, 2, None),
        ],
    }
    path = tmp_path / "annotations" / "instances_default.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path


def test_every_box_only_form_is_skipped_and_masks_are_read(cvat: Path) -> None:
    dataset = read_coco(cvat, cvat.parent.parent / "images")
    (item,) = dataset.items
    assert [(obj.label, obj.iscrowd) for obj in item.objects] == [("tree", True), ("car", False)]
    assert np.array_equal(item.objects[0].masks[0].to_array(), DOG)
    assert dataset.skipped == ["4 box-only annotations (no mask) in instances_default.json"]


def test_a_box_only_annotation_is_still_checked(cvat: Path) -> None:
    data = json.loads(cvat.read_text())
    data["annotations"][0]["image_id"] = 7
    cvat.write_text(json.dumps(data))
    with pytest.raises(FormatError, match="no image has id 7"):
        read_coco(cvat, cvat.parent.parent / "images")


def test_crowd_regions_are_left_out_of_formats_without_a_crowd_flag(cvat: Path, tmp_path: Path) -> None:
    skipped: list[str] = []
    options = FormatOptions(images=cvat.parent.parent / "images")
    convert(cvat, tmp_path / "r.json", "rle", options=options, skipped=skipped)
    assert "1 crowd regions (iscrowd 1: rle has no crowd flag) in instances_default.json" in skipped
    assert len(json.loads((tmp_path / "r.json").read_text())["items"][0]["objects"]) == 1


@pytest.mark.parametrize("flag", [2, -1, "yes"])
def test_bad_iscrowd_is_a_format_error(cvat: Path, flag: object) -> None:
    data = json.loads(cvat.read_text())
    data["annotations"][1]["iscrowd"] = flag
    cvat.write_text(json.dumps(data))
    with pytest.raises(FormatError) as caught:
        read_coco(cvat, cvat.parent.parent / "images")
    assert caught.value.element == "annotations[1].iscrowd"


def _panoptic() -> dict:
    """panoptic_val2017.json: one PNG per image, its segments in segments_info; categories with isthing."""
    segments = [{"id": 3226956, "category_id": 1, "iscrowd": 0, "bbox": [413, 158, 53, 138], "area": 2840}]
    return {
        "info": {},
        "licenses": [],
        "images": [image(139, "000000000139.jpg")],
        "annotations": [{"segments_info": segments, "file_name": "000000000139.png", "image_id": 139}],
        "categories": [{"supercategory": "person", "isthing": 1, "id": 1, "name": "person"}],
    }


def _captions() -> dict:
    """captions_val2017.json: no categories, annotations of image_id, id and caption."""
    annotations = [{"image_id": 179765, "id": 38, "caption": "A black Honda motorcycle parked in front of a garage."}]
    return {"info": {}, "licenses": [], "images": [image(179765, "000000179765.jpg")], "annotations": annotations}


@pytest.mark.parametrize(("build", "task"), [(_panoptic, "panoptic"), (_captions, "captions")])
def test_panoptic_and_captions_files_are_refused_by_name(
    build: Any, task: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / f"{task}_val2017.json"
    path.write_text(json.dumps(build()))
    assert main(["convert", str(path), "-o", str(tmp_path / "o.annot"), "--to", "project"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and f"{task} COCO is not supported" in err and "annotations[0]" in err
    assert not (tmp_path / "o.annot").exists()


def test_an_absent_image_says_how_to_fix_it(roboflow: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (roboflow.parent / "img_1.jpg").unlink()
    assert main(["convert", str(roboflow), "-o", str(tmp_path / "o.json"), "--to", "coco"]) == 2
    err = capsys.readouterr().err
    assert "'img_1.jpg' is listed but absent" in err and "--images DIR" in err and "--no-check-media" in err
    assert main(["convert", str(roboflow), "-o", str(tmp_path / "o.json"), "--to", "coco", "--no-check-media"]) == 0
