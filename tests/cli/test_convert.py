"""`annotator convert` onto an existing project: refused unless --append."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.document.project import Project

from ..io.conftest import write_image


def _labelme_folder(folder: Path) -> Path:
    """One image with a labelme file beside it, as labelme saves it: one rectangle."""
    write_image(folder / "a.jpg", 64, 50)
    shape = {
        "label": "box",
        "points": [[2, 3], [10, 8]],
        "group_id": None,
        "description": "",
        "shape_type": "rectangle",
    }
    shape.update(flags={}, mask=None)
    data = {"version": "5.5.0", "flags": {}, "shapes": [shape], "imagePath": "a.jpg", "imageData": None}
    data.update(imageHeight=50, imageWidth=64)
    (folder / "a.json").write_text(json.dumps(data, indent=2))
    return folder


def _objects(path: Path) -> int:
    project = Project.open(path)
    try:
        return sum(len(project.objects(item.id)) for item in project.items)
    finally:
        project.close()


def test_converting_onto_an_existing_project_is_refused_unless_appending(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, out = _labelme_folder(tmp_path / "lm"), tmp_path / "p.annot"
    args = ["convert", str(src), "-o", str(out), "--to", "project"]
    assert main(args) == 0 and _objects(out) == 1
    before = out.read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "already exists" in err and "--append" in err
    assert out.read_bytes() == before and _objects(out) == 1
    assert main([*args, "--append"]) == 0 and _objects(out) == 2
    assert main(["convert", str(src), "-o", str(tmp_path / "c.json"), "--to", "coco", "--append"]) == 2
    assert "does not apply to --to coco" in capsys.readouterr().err
