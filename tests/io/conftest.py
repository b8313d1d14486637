"""Fixtures of the format tests: small projects with image and video items and tricky masks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.document.mask import Mask
from annotator.document.project import Project
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.project_io import dataset_from_project, import_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]


def consumer_python(package: str, variable: str, venv: str) -> str | None:
    """An interpreter that imports `package`: $`variable`, else the repo's `venv` (which `make test`
    builds for the tools that read our exports), or None when neither has it."""
    for candidate in (os.environ.get(variable), str(REPO_ROOT / venv / "bin" / "python")):
        if candidate and Path(candidate).is_file():
            check = subprocess.run([candidate, "-c", f"import {package}"], capture_output=True, check=False)
            if check.returncode == 0:
                return candidate
    return None


def ring_mask(height: int, width: int) -> np.ndarray:
    """A square with a hole, a one-pixel line, a diagonal pinch and a separate blob."""
    mask = np.zeros((height, width), bool)
    mask[5:30, 5:30] = True
    mask[12:20, 12:20] = False  # hole
    mask[15:17, 15:17] = True  # island in the hole
    mask[35, 5:40] = True  # one-pixel line
    mask[40:44, 40:44] = True
    mask[44:48, 44:48] = True  # touches the square above at one corner only
    mask[0, 0] = True  # a lone pixel in the corner
    return mask


def disc(height: int, width: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A filled disc."""
    ys, xs = np.mgrid[:height, :width]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def write_image(path: Path, width: int, height: int) -> Path:
    """A small RGB image file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 127, np.uint8)).save(path)
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A folder with two images and a three-frame frame folder."""
    root = tmp_path / "media"
    write_image(root / "a.png", 64, 50)
    write_image(root / "b.jpg", 40, 30)
    for frame in range(3):
        write_image(root / "clip" / f"{frame:05d}.jpg", 48, 32)
    return root


@pytest.fixture
def sample_dataset(media: Path) -> Dataset:
    """Two labels; image a with three objects (one unlabelled), image b empty, a video with two tracks."""
    a = ItemData(str(media / "a.png"), 64, 50)
    a.objects = [
        ObjectData("ring", "cat", {0: Mask.from_array(ring_mask(50, 64))}),
        ObjectData("disc", "dog", {0: Mask.from_array(disc(50, 64, 50, 20, 9))}),
        ObjectData("free", None, {0: Mask.from_array(disc(50, 64, 20, 40, 4))}),
    ]
    b = ItemData(str(media / "b.jpg"), 40, 30)
    clip = ItemData(str(media / "clip"), 48, 32, "video", 3, 10.0)
    clip.objects = [
        ObjectData("walker", "dog", {f: Mask.from_array(disc(32, 48, 10 + 5 * f, 15, 6)) for f in range(3)}),
        ObjectData(
            "sitter", "cat", {0: Mask.from_array(disc(32, 48, 40, 20, 5)), 2: Mask.from_array(disc(32, 48, 38, 20, 5))}
        ),
    ]
    return Dataset([LabelData("cat", (255, 0, 0)), LabelData("dog", (0, 255, 0))], [a, b, clip])


@pytest.fixture
def sample_project(sample_dataset: Dataset) -> Project:
    """The sample dataset imported into a project in memory."""
    project = Project.in_memory()
    import_dataset(project, sample_dataset)
    return project


def masks_by_key(dataset: Dataset) -> dict[tuple[str, str, int], np.ndarray]:
    """{(item name, object key, frame): full mask}; objects keyed by label and order within the label."""
    result = {}
    for item in dataset.items:
        seen: dict[str | None, int] = {}
        for obj in item.objects:
            index = seen.get(obj.label, 0)
            seen[obj.label] = index + 1
            for frame, mask in obj.masks.items():
                result[(item.name, f"{obj.label}#{index}", frame)] = mask.to_array()
    return result


def project_dataset(project: Project) -> Dataset:
    """Shortcut for dataset_from_project."""
    return dataset_from_project(project)


UNLABELLED = "object"
"""The label name that `annotator convert` gives objects without a label by default."""


def exported(project: Project) -> Dataset:
    """The project as a writer gets it when the user includes unlabelled objects as 'object'."""
    return dataset_from_project(project).with_unlabelled(UNLABELLED)


def project_masks(project: Project) -> dict[tuple[int, int, int], np.ndarray]:
    """{(item position, object position, frame): full mask} of a project."""
    result = {}
    for i, item in enumerate(project.items):
        for o, obj in enumerate(project.objects(item.id)):
            for frame in project.mask_frames(obj.id):
                mask = project.mask(obj.id, frame)
                assert mask is not None
                result[(i, o, frame)] = mask.to_array()
    return result


def reimport(dataset: Dataset) -> Project:
    """A new in-memory project holding `dataset`."""
    project = Project.in_memory()
    import_dataset(project, dataset)
    return project


def assert_same_masks(before: Project, after: Project, min_iou: float = 1.0) -> list[float]:
    """Same objects with the same masks (bit-identical when min_iou is 1); returns the IoUs."""
    a, b = project_masks(before), project_masks(after)
    assert a.keys() == b.keys()
    scores = []
    for key in a:
        if min_iou >= 1.0:
            assert np.array_equal(a[key], b[key]), key
            scores.append(1.0)
        else:
            union = (a[key] | b[key]).sum()
            scores.append(float((a[key] & b[key]).sum() / union))
    assert min(scores, default=1.0) >= min_iou, scores
    return scores
