"""labelme files as labelme and X-AnyLabeling write them: 4-corner rectangles, rotated boxes, embedded
images, folders that also hold other JSON, and what is skipped (counted) or refused (FormatError).

The files are built from the tools' documented layouts: labelme 5 (`version`, `flags`, `shapes` with
`group_id` / `description` / `flags` / `mask`, `imagePath`, `imageData` as the base64 of the image
file, `imageHeight`, `imageWidth`) and X-AnyLabeling's user guide template (shapes with `score`,
`difficult`, `attributes`, `kie_linking`, null `flags` / `description`; rectangles as their four
corners clockwise from the top-left; `rotation` boxes as four corners).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from annotator.cli import main
from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.formats import import_annotations
from annotator.io.labelme import read_labelme
from annotator.workspace import media_path, open_path

from .conftest import write_image
from .test_labelme import _labelme_python

WIDTH, HEIGHT = 64, 50


def labelme_shape(label: str, points: list, kind: str = "polygon", group: int | None = None) -> dict:
    """A shape as labelme 5 writes it."""
    shape = {"label": label, "points": points, "group_id": group, "description": "", "shape_type": kind}
    shape.update(flags={}, mask=None)
    return shape


def xany_shape(label: str, points: list, kind: str, **extra: Any) -> dict:
    """A shape as X-AnyLabeling writes it."""
    shape = {"label": label, "score": None, "points": points, "group_id": None, "description": None}
    shape.update(difficult=False, shape_type=kind, flags=None, attributes={}, kie_linking=[], **extra)
    return shape


def label_file(path: Path, shapes: list[dict], image_path: str, image_data: str | None = None, **extra: Any) -> Path:
    """A labelme file at `path` (version 5.5.0 unless `version` is given)."""
    data = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": image_data}
    data.update(imageHeight=HEIGHT, imageWidth=WIDTH)
    data.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def image_bytes(fmt: str = "PNG", width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """An image file's bytes (a gradient, so that a wrong copy would show)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = np.arange(width, dtype=np.uint8)[None, :] * 3
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def only_mask(path: Path) -> np.ndarray:
    (item,) = read_labelme(path).items
    (obj,) = item.objects
    return obj.masks[0].to_array()


SQUARE = [[2, 3], [20, 3], [20, 20], [2, 20]]


# -- X-AnyLabeling shapes -------------------------------------------------------------------------


def test_x_anylabeling_four_corner_rectangle_is_labelmes_two_corner_box(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", WIDTH, HEIGHT)
    corners = [[2.0, 3.0], [10.0, 3.0], [10.0, 8.0], [2.0, 8.0]]
    xany = label_file(tmp_path / "x" / "a.json", [xany_shape("box", corners, "rectangle")], "../a.png", version="2.4.0")
    ours = label_file(tmp_path / "l" / "a.json", [labelme_shape("box", [[2, 3], [10, 8]], "rectangle")], "../a.png")
    mask = only_mask(xany)
    assert np.array_equal(mask, only_mask(ours)) and mask.sum() == 9 * 6
    assert read_labelme(xany).items[0].objects[0].label == "box"


def test_x_anylabeling_rotated_box_is_its_four_corners(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", WIDTH, HEIGHT)
    diamond = [[30.0, 5.0], [45.0, 20.0], [30.0, 35.0], [15.0, 20.0]]
    rotated = label_file(tmp_path / "r.json", [xany_shape("tag", diamond, "rotation", direction=0.785)], "a.png")
    polygon = label_file(tmp_path / "p.json", [labelme_shape("tag", diamond)], "a.png")
    assert np.array_equal(only_mask(rotated), only_mask(polygon)) and only_mask(rotated)[20, 30]


@pytest.mark.parametrize(
    ("kind", "points", "problem"),
    [
        ("rectangle", [[1, 1], [5, 1], [5, 5]], "a rectangle needs 2 or 4 points (its corners), got 3"),
        ("rotation", [[1, 1], [5, 5]], "a rotated box needs 4 points (its corners), got 2"),
        ("circle", [[1, 1], [5, 5], [6, 6]], "a circle needs 2 points (centre, rim), got 3"),
        ("cuboid", [[1, 1], [5, 5]], "unknown shape type 'cuboid'"),
    ],
)
def test_shapes_with_the_wrong_points_are_refused(tmp_path: Path, kind: str, points: list, problem: str) -> None:
    write_image(tmp_path / "a.png", WIDTH, HEIGHT)
    path = label_file(tmp_path / "a.json", [labelme_shape("ok", SQUARE), xany_shape("bad", points, kind)], "a.png")
    with pytest.raises(FormatError) as caught:
        read_labelme(tmp_path)
    assert caught.value.path == str(path) and caught.value.element.startswith("shapes[1]")
    assert problem in caught.value.problem


# -- folders with other JSON, and what is skipped --------------------------------------------------


def mixed_folder(root: Path) -> Path:
    """Two labelme files (one with a line and a point), a COCO file and a colour map beside them."""
    for name in ("a", "b"):
        write_image(root / f"{name}.png", WIDTH, HEIGHT)
    label_file(root / "a.json", [labelme_shape("cat", SQUARE)], "a.png")
    no_area = [labelme_shape("edge", [[1, 1], [9, 9]], "line"), labelme_shape("dot", [[4, 4]], "point")]
    label_file(root / "b.json", [labelme_shape("dog", SQUARE), *no_area], "b.png")
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": WIDTH, "height": HEIGHT}], "annotations": []}
    coco["categories"] = [{"id": 1, "name": "cat"}]
    (root / "annotations").mkdir()
    (root / "annotations" / "instances.json").write_text(json.dumps(coco))
    (root / "color_map.json").write_text(json.dumps({"cat": [255, 0, 0], "dog": [0, 255, 0]}))
    return root


SKIPPED = ["2 JSON files that are not labelme in lm", "2 line and point shapes (no area) in lm"]


def test_a_folder_import_skips_and_counts_json_that_is_not_labelme(tmp_path: Path) -> None:
    dataset = read_labelme(mixed_folder(tmp_path / "lm"))
    assert [item.name for item in dataset.items] == ["a.png", "b.png"]
    assert [obj.label for item in dataset.items for obj in item.objects] == ["cat", "dog"]
    assert dataset.skipped == SKIPPED


def test_convert_prints_every_skipped_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = mixed_folder(tmp_path / "lm")
    assert main(["convert", str(src), "-o", str(tmp_path / "p.annot"), "--to", "project", "--from", "labelme"]) == 0
    out = capsys.readouterr().out
    assert "converted 2 masks from labelme to project" in out
    assert [line.strip() for line in out.splitlines()[1:]] == [f"skipped {line}" for line in SKIPPED]


def test_the_gui_import_reports_what_it_skipped(tmp_path: Path) -> None:
    src = mixed_folder(tmp_path / "lm")
    project, _, _ = open_path(src)
    report = import_annotations(project, src)
    assert (report.masks, report.items_matched, report.missing) == (2, 2, ())
    assert list(report.skipped) == SKIPPED
    assert all(f"skipped {line}" in report.summary() for line in SKIPPED)


def test_a_folder_without_labelme_files_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "coco_only"
    write_image(folder / "a.jpg", 8, 8)
    (folder / "color_map.json").write_text(json.dumps({"cat": [255, 0, 0]}))
    out = tmp_path / "p.annot"
    assert main(["convert", str(folder), "-o", str(out), "--to", "project", "--from", "labelme"]) == 2
    err = capsys.readouterr().err
    assert f"{folder}: holds no labelme files (found 1 JSON file that is not labelme)" in err
    (folder / "color_map.json").unlink()
    assert main(["convert", str(folder), "-o", str(out), "--to", "coco", "--from", "labelme"]) == 2
    assert f"{folder}: holds no labelme files (no *.json file below it)" in capsys.readouterr().err
    assert not out.exists()


def test_a_single_file_that_is_not_labelme_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    with pytest.raises(FormatError, match="is not a labelme file"):
        read_labelme(path)


# -- imagePath and imageData ---------------------------------------------------------------------


@pytest.mark.parametrize(("image_path", "problem"), [("a.json", "names this JSON file itself"), ("b.json", "names a")])
def test_an_image_path_naming_a_json_file_is_refused(tmp_path: Path, image_path: str, problem: str) -> None:
    label_file(tmp_path / "b.json", [], "b.png")
    path = label_file(tmp_path / "a.json", [labelme_shape("cat", SQUARE)], image_path, b64(image_bytes()))
    with pytest.raises(FormatError) as caught:
        read_labelme(path)
    assert (caught.value.element, caught.value.path) == ("imagePath", str(path)) and problem in caught.value.problem


def embedded_folder(root: Path, image_path: str = "a.png", data: bytes | None = None) -> Path:
    """A labelme file whose image is only embedded (no image file anywhere)."""
    data = image_bytes() if data is None else data
    label_file(root / "a.json", [labelme_shape("cat", SQUARE)], image_path, b64(data))
    return root


def test_an_embedded_image_is_extracted_beside_a_new_project(tmp_path: Path) -> None:
    src, out = embedded_folder(tmp_path / "lm"), tmp_path / "proj" / "p.annot"
    assert main(["convert", str(src), "-o", str(out), "--to", "project"]) == 0
    assert (tmp_path / "proj" / "a.png").read_bytes() == image_bytes() and not (src / "a.png").exists()
    project = Project.open(out)
    try:
        (item,) = project.items
        assert (item.path, item.width, item.height) == ("a.png", WIDTH, HEIGHT)
        assert media_path(project, item.path).is_file()
        assert np.array_equal(project.mask(project.objects(item.id)[0].id).to_array(), only_mask(src / "a.json"))
    finally:
        project.close()


def test_an_embedded_image_is_extracted_beside_a_coco_file_and_named_from_it(tmp_path: Path) -> None:
    jpeg = image_bytes("JPEG")
    src = embedded_folder(tmp_path / "lm", image_path="", data=jpeg)  # no name: the JSON's, with the format's suffix
    out = tmp_path / "coco" / "c.json"
    assert main(["convert", str(src), "-o", str(out), "--to", "coco"]) == 0
    assert (tmp_path / "coco" / "a.jpg").read_bytes() == jpeg
    assert [image["file_name"] for image in json.loads(out.read_text())["images"]] == ["a.jpg"]


def test_an_image_file_beside_the_json_wins_over_the_embedded_copy(tmp_path: Path) -> None:
    src = embedded_folder(tmp_path / "lm")
    write_image(src / "a.png", WIDTH, HEIGHT)
    assert main(["convert", str(src), "-o", str(tmp_path / "out" / "p.annot"), "--to", "project"]) == 0
    assert not (tmp_path / "out" / "a.png").exists()


def test_the_gui_import_extracts_an_embedded_image_into_the_project_folder(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_image(folder / "other.png", WIDTH, HEIGHT)
    project, _, _ = open_path(folder)
    report = import_annotations(project, embedded_folder(tmp_path / "lm"))
    assert (report.masks, report.items_added, report.missing) == (1, 1, ())
    assert (folder / "a.png").read_bytes() == image_bytes()
    assert sorted(item.path for item in project.items) == ["a.png", "other.png"]
    # The same file again: the image is now there, so it matches and nothing is extracted twice.
    again = import_annotations(project, tmp_path / "lm")
    assert (again.items_matched, again.items_added) == (1, 0) and not (folder / "a-1.png").exists()


@pytest.mark.parametrize(
    ("change", "element", "problem"),
    [
        (
            {"imageHeight": HEIGHT + 1},
            "imageHeight",
            f"is {HEIGHT + 1} but the image embedded in imageData is {HEIGHT}",
        ),
        ({"imageData": "not base64!"}, "imageData", "is not base64"),
        ({"imageData": b64(b"GIF89a but no image")}, "imageData", "holds no readable image"),
        ({"imageData": None}, "imagePath", "the image 'a.png' is absent (and no imageData is embedded)"),
    ],
)
def test_bad_embedded_images_are_format_errors(tmp_path: Path, change: dict, element: str, problem: str) -> None:
    path = embedded_folder(tmp_path / "lm") / "a.json"
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError) as caught:
        read_labelme(path)
    assert (caught.value.path, caught.value.element) == (str(path), element) and problem in caught.value.problem


WRITER = """
import json, sys
from labelme import LabelFile
out, image, shape, height, width = sys.argv[1:]
LabelFile().save(out, [json.loads(shape)], "a.png", int(height), int(width), LabelFile.load_image_file(image))
"""
"""Saves a labelme file through labelme's own LabelFile, with the image's data embedded."""


def test_a_file_labelme_saved_with_its_image_data_converts_without_the_image(tmp_path: Path) -> None:
    python = _labelme_python()
    if python is None:
        pytest.skip("no interpreter with the labelme package (set ANNOTATOR_LABELME_PYTHON)")
    src = tmp_path / "lm"
    image = src / "a.png"
    image.parent.mkdir()
    image.write_bytes(image_bytes())
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    shape = json.dumps(labelme_shape("cat", SQUARE))
    args = [python, "-c", WRITER, str(src / "a.json"), str(image), shape, str(HEIGHT), str(WIDTH)]
    subprocess.run(args, check=True, env=env, timeout=120)
    assert json.loads((src / "a.json").read_text())["imageData"]  # labelme embedded it
    with_image = only_mask(src / "a.json")
    image.unlink()
    assert main(["convert", str(src), "-o", str(tmp_path / "out" / "p.annot"), "--to", "project"]) == 0
    assert (tmp_path / "out" / "a.png").read_bytes() == image_bytes()
    project = Project.open(tmp_path / "out" / "p.annot")
    try:
        (item,) = project.items
        assert np.array_equal(project.mask(project.objects(item.id)[0].id).to_array(), with_image)
    finally:
        project.close()
