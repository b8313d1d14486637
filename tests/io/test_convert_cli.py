"""`annotator convert` through the real command-line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.document.project import Project
from annotator.io.project_io import dataset_from_project, write_project


@pytest.fixture
def project_file(sample_project: Project, tmp_path: Path) -> Path:
    """The sample project saved to a file."""
    return write_project(dataset_from_project(sample_project), tmp_path / "p.annot")


def test_project_to_coco_to_labelme_to_project(
    project_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["convert", str(project_file), "-o", str(tmp_path / "c.json"), "--to", "coco", "--polygons"]) == 0
    assert "converted 8 masks from project to coco" in capsys.readouterr().out
    assert isinstance(json.loads((tmp_path / "c.json").read_text())["annotations"][0]["segmentation"], list)
    assert main(["convert", str(tmp_path / "c.json"), "-o", str(tmp_path / "lm"), "--to", "labelme"]) == 0
    assert main(["convert", str(tmp_path / "lm"), "-o", str(tmp_path / "new.annot"), "--to", "project"]) == 0
    project = Project.open(tmp_path / "new.annot")
    try:
        # The unlabelled object went out under the explicit class 'object' (convert's default) and came back so.
        assert {label.name for label in project.labels} == {"cat", "dog", "object"}
    finally:
        project.close()


def test_skip_unlabelled_leaves_objects_without_a_label_out(project_file: Path, tmp_path: Path) -> None:
    args = ["convert", str(project_file), "-o", str(tmp_path / "c.json"), "--to", "coco"]
    assert main([*args, "--skip-unlabelled"]) == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert len(data["annotations"]) == 7 and {c["name"] for c in data["categories"]} == {"cat", "dog"}
    assert main([*args, "--unlabelled", "thing"]) == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert len(data["annotations"]) == 8 and {c["name"] for c in data["categories"]} == {"cat", "dog", "thing"}


def test_exports_name_images_below_the_project_folder(project_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "deep"
    assert main(["convert", str(project_file), "-o", str(out / "c.json"), "--to", "coco"]) == 0
    names = [image["file_name"] for image in json.loads((out / "c.json").read_text())["images"]]
    assert names[:2] == ["media/a.png", "media/b.jpg"] and not any(".." in name for name in names)
    # Read back from elsewhere: the names are found below a folder above the file.
    assert main(["convert", str(out / "c.json"), "-o", str(tmp_path / "back.annot"), "--to", "project"]) == 0


def test_png_to_coco_with_images_option(project_file: Path, tmp_path: Path, media: Path) -> None:
    assert main(["convert", str(project_file), "-o", str(tmp_path / "png"), "--to", "png"]) == 0
    args = ["convert", str(tmp_path / "png"), "-o", str(tmp_path / "c.json"), "--to", "coco", "--from", "png"]
    assert main([*args, "--images", str(media)]) == 0
    assert len(json.loads((tmp_path / "c.json").read_text())["annotations"]) == 8


def test_bad_input_exits_2_with_the_file_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [], "annotations": [{"id": 1}], "categories": []}')
    assert main(["convert", str(bad), "-o", str(tmp_path / "out.annot"), "--to", "project"]) == 2
    err = capsys.readouterr().err
    assert "annotator: error:" in err and str(bad) in err and "annotations[0]" in err
    assert not (tmp_path / "out.annot").exists()
