"""Media paths do not depend on the current directory: convert, open and export each run elsewhere.

The labelme files here are written as labelme writes them beside their images: `imagePath` the
image's file name, `imageData` null, shapes with `group_id`, `description`, `flags` and `mask`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.document.project import Project
from annotator.io.formats import export_project
from annotator.io.matching import media_root
from annotator.workspace import media_path, open_path

from .conftest import write_image

NAMES = ("a.jpg", "b.jpg")


def labelme_file(image: Path, label: str, points: list[list[float]]) -> Path:
    """A labelme 5 file beside `image` with one polygon."""
    shape = {"label": label, "points": points, "group_id": None, "description": "", "shape_type": "polygon"}
    shape.update(flags={}, mask=None)
    data = {"version": "5.5.0", "flags": {}, "shapes": [shape], "imagePath": image.name, "imageData": None}
    data.update(imageHeight=50, imageWidth=64)
    path = image.with_suffix(".json")
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """tmp/data/imgs with two annotated images, and three unrelated working directories."""
    for index, name in enumerate(NAMES):
        image = write_image(tmp_path / "data" / "imgs" / name, 64, 50)
        labelme_file(image, "cat", [[2 + index, 3], [20, 3], [20, 20], [2, 20 + index]])
    for cwd in ("cwd1", "cwd2", "cwd3"):
        (tmp_path / cwd).mkdir()
    return tmp_path


def _open(path: Path) -> Project:
    project, _, problems = open_path(path)
    assert problems == []
    return project


def test_a_project_converted_elsewhere_finds_its_media_from_anywhere(
    folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = folders / "data" / "imgs"
    monkeypatch.chdir(folders / "cwd1")
    assert main(["convert", "../data/imgs", "-o", "../out/proj/p.annot", "--to", "project"]) == 0
    assert main(["convert", "../data/imgs", "-o", "../data/near.annot", "--to", "project"]) == 0
    monkeypatch.chdir(folders / "cwd2")
    far, near = _open(Path("../out/proj/p.annot")), _open(Path("../data/near.annot"))
    try:
        # Below the project's folder: relative to it; elsewhere: absolute. Never from cwd1.
        assert [item.path for item in near.items] == [f"imgs/{name}" for name in NAMES]
        assert [item.path for item in far.items] == [str((images / name).resolve()) for name in NAMES]
        for project in (far, near):
            assert [media_path(project, item.path) for item in project.items] == [images / n for n in NAMES]
            assert media_root(project) is not None and media_root(project).is_absolute()  # type: ignore[union-attr]
    finally:
        far.close()
        near.close()


@pytest.mark.parametrize("project_file", ["out/proj/p.annot", "data/near.annot"])
def test_exports_from_a_third_directory_name_the_images_as_they_are(
    folders: Path, monkeypatch: pytest.MonkeyPatch, project_file: str
) -> None:
    images = folders / "data" / "imgs"
    monkeypatch.chdir(folders / "cwd1")
    assert main(["convert", "../data/imgs", "-o", f"../{project_file}", "--to", "project"]) == 0
    monkeypatch.chdir(folders / "cwd2")
    project = _open(Path("..") / project_file)
    monkeypatch.chdir(folders / "cwd3")
    try:
        export_project(project, Path("c.json"), "coco")
        export_project(project, Path("lm"), "labelme")
    finally:
        project.close()
    assert main(["convert", f"../{project_file}", "-o", "cli.json", "--to", "coco"]) == 0
    # Items below the project's folder are named from it; all-absolute items from their common folder.
    near = project_file.startswith("data/")
    root, expected = ("../data", [f"imgs/{n}" for n in NAMES]) if near else ("../data/imgs", list(NAMES))
    for coco in ("c.json", "cli.json"):
        assert [image["file_name"] for image in json.loads(Path(coco).read_text())["images"]] == expected
    # labelme resolves imagePath from the JSON file's folder, as labelme itself does.
    for name in NAMES:
        json_file = Path("lm") / Path(name).with_suffix(".json")
        image_path = json.loads(json_file.read_text())["imagePath"]
        assert (json_file.parent / image_path).resolve() == (images / name).resolve(), image_path
    # And the export comes back into a new project from here, found through --images.
    assert main(["convert", "c.json", "-o", "../back.annot", "--to", "project", "--images", root]) == 0
    back = Project.open(folders / "back.annot")
    try:
        assert [media_path(back, item.path) for item in back.items] == [images / n for n in NAMES]
    finally:
        back.close()
