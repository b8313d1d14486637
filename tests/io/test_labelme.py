"""labelme: round trips, labelme's own reader as the consumer, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.labelme import LabelmeOptions, read_labelme, write_labelme
from annotator.io.project_io import dataset_from_project, import_dataset

from .conftest import assert_same_masks, consumer_python, exported, reimport


def _labelme_python() -> str | None:
    """An interpreter with labelme ($ANNOTATOR_LABELME_PYTHON or .venv-labelme), or None."""
    return consumer_python("labelme", "ANNOTATOR_LABELME_PYTHON", ".venv-labelme")


def _images_only(project: Project) -> Project:
    dataset = dataset_from_project(project)
    dataset.items = [item for item in dataset.items if item.kind == "image"]
    return reimport(dataset)


@pytest.mark.parametrize("shapes", ["polygon", "mask"])
def test_round_trip(sample_project: Project, tmp_path: Path, media: Path, shapes: str) -> None:
    project = _images_only(sample_project)
    files = write_labelme(exported(project), tmp_path / "lm", LabelmeOptions(shapes))
    assert [f.name for f in files] == ["a.json", "b.json"]
    data = json.loads(files[0].read_text())
    # imagePath is the image's path from the JSON file's folder, as labelme resolves it.
    assert data["imagePath"] == "../media/a.png" and data["imageData"] is None
    back = reimport(read_labelme(tmp_path / "lm"))
    assert_same_masks(project, back, min_iou=1.0 if shapes == "mask" else 0.95)
    assert [label.name for label in back.labels] == ["cat", "dog", "object"]


def test_zero_tolerance_polygons_are_exact(sample_project: Project, tmp_path: Path) -> None:
    project = _images_only(sample_project)
    write_labelme(exported(project), tmp_path / "lm", LabelmeOptions("polygon", 0.0))
    assert_same_masks(project, reimport(read_labelme(tmp_path / "lm")))


def test_files_beside_the_images_and_video_frames(sample_project: Project, media: Path) -> None:
    files = write_labelme(dataset_from_project(sample_project))
    assert media / "a.json" in files
    assert [f.name for f in files if f.parent == media / "clip"] == ["00000.json", "00001.json", "00002.json"]


@pytest.mark.parametrize("shapes", ["polygon", "mask"])
def test_labelme_package_reads_our_files(sample_project: Project, tmp_path: Path, shapes: str) -> None:
    python = _labelme_python()
    if python is None:
        pytest.skip("no interpreter with the labelme package (set ANNOTATOR_LABELME_PYTHON)")
    project = _images_only(sample_project)
    files = write_labelme(exported(project), tmp_path / "lm", LabelmeOptions(shapes, 0.0))
    out = tmp_path / "labelme.npz"
    script = Path(__file__).with_name("labelme_reference.py")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([python, str(script), str(out), *map(str, files)], check=True, env=env, timeout=120)
    theirs = dict(np.load(out))
    ours = {}
    for item in project.items:
        for group, obj in enumerate(project.objects(item.id), 1):
            label = project.label(obj.label_id).name if obj.label_id else "object"
            ours[f"{Path(item.path).stem}|{label}|{group}"] = project.mask(obj.id).to_array()
    assert ours.keys() == theirs.keys()
    for key, mask in ours.items():
        assert np.array_equal(mask, theirs[key]), key


def _valid(sample_project: Project, tmp_path: Path) -> tuple[Path, dict]:
    files = write_labelme(exported(_images_only(sample_project)), tmp_path / "lm")
    return files[0], json.loads(files[0].read_text())


BAD = {
    "no shapes": (lambda d: d.pop("shapes"), "", "misses the key 'shapes'"),
    "shapes not a list": (lambda d: d.update(shapes="x"), "shapes", "must be a list"),
    "absent image": (lambda d: d.update(imagePath="missing.png"), "imagePath", "absent"),
    "two-point polygon": (lambda d: d["shapes"][0].update(points=[[1, 1], [4, 4]]), "shapes[0].points", "at least 3"),
    "point of three numbers": (lambda d: d["shapes"][0]["points"].append([1, 2, 3]), "shapes[0].points", "[x, y]"),
    "label not text": (lambda d: d["shapes"][0].update(label=5), "shapes[0].label", "must be a string"),
    "height as text": (lambda d: d.update(imageHeight="50"), "imageHeight", "must be an integer"),
    "unknown shape": (lambda d: d["shapes"][0].update(shape_type="blob"), "shapes[0].shape_type", "unknown"),
    "bad mask data": (
        lambda d: d["shapes"][0].update(shape_type="mask", mask="!!", points=[[0, 0], [3, 3]]),
        "shapes[0].mask",
        "base64 PNG",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_labelme_is_a_format_error_and_imports_nothing(case: str, sample_project: Project, tmp_path: Path) -> None:
    path, data = _valid(sample_project, tmp_path)
    mutate, element, problem = BAD[case]
    mutate(data)
    path.write_text(json.dumps(data))
    target = Project.in_memory()
    with pytest.raises(FormatError) as caught:
        import_dataset(target, read_labelme(tmp_path / "lm"))
    assert caught.value.path == str(path) and element in caught.value.element and problem in caught.value.problem
    assert target.items == []


def test_lines_and_points_are_skipped(sample_project: Project, tmp_path: Path) -> None:
    path, data = _valid(sample_project, tmp_path)
    data["shapes"].append({"label": "cat", "points": [[1, 1], [5, 5]], "shape_type": "line", "group_id": None})
    path.write_text(json.dumps(data))
    assert len(read_labelme(path).items[0].objects) == 3


def test_labelme_written_rectangle_and_circle_are_read(tmp_path: Path, media: Path) -> None:
    shapes = [
        {"label": "box", "points": [[2, 3], [10, 8]], "shape_type": "rectangle", "group_id": None},
        {"label": "ball", "points": [[30, 30], [30, 35]], "shape_type": "circle", "group_id": None},
    ]
    data = {"shapes": shapes, "imagePath": "a.png", "imageData": None, "imageHeight": 50, "imageWidth": 64}
    path = media / "a.json"
    path.write_text(json.dumps(data))
    item = read_labelme(path).items[0]
    box, ball = (obj.masks[0] for obj in item.objects)
    assert box.bbox == (2, 3, 11, 9) and box.area == 9 * 6
    assert ball.bbox == (25, 25, 36, 36)
