"""YOLO segmentation: the layouts Ultralytics, Roboflow and Darknet write, box lines, and our export as a dataset.

The input folders are built here as each tool's documentation lays them out: Ultralytics' segment
datasets (images/<split> + labels/<split>, a dataset YAML of any name with `path`, `train`, `val`
and `names` as a list or {id: name}), Roboflow's YOLO export (<split>/images + <split>/labels,
data.yaml with `../train/images`, `nc`, `names` list, README files) and Darknet's (obj.names, a
train.txt image list, images and label files side by side). Polygons are rectangles on whole
pixels of 64x32 images, so their normalised coordinates are exact and the pixels cv2.fillPoly
fills (the rectangle's pixels, both ends included) are known without our code.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from annotator.cli import main
from annotator.document.mask import Mask
from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.formats import detect_format, import_annotations, read_dataset
from annotator.io.polygons import split_cuts
from annotator.io.yolo import read_yolo, write_yolo

from .conftest import consumer_python, disc, ring_mask, write_image

W, H = 64, 32
Box = tuple[int, int, int, int]


def polygon_line(cls: int, box: Box) -> str:
    """A YOLO polygon line for the rectangle x0, y0, x1, y1 (whole pixels)."""
    x0, y0, x1, y1 = box
    points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return f"{cls} " + " ".join(f"{x / W:.6f} {y / H:.6f}" for x, y in points)


def box_line(cls: int, box: Box) -> str:
    """A YOLO detection line `class cx cy w h` (normalised)."""
    x0, y0, x1, y1 = box
    return f"{cls} {(x0 + x1) / 2 / W:.6f} {(y0 + y1) / 2 / H:.6f} {(x1 - x0) / W:.6f} {(y1 - y0) / H:.6f}"


def filled(box: Box) -> np.ndarray:
    """The pixels of a rectangle polygon: x0..x1 and y0..y1, ends included."""
    x0, y0, x1, y1 = box
    mask = np.zeros((H, W), bool)
    mask[y0 : y1 + 1, x0 : x1 + 1] = True
    return mask


def write_split(images: Path, labels: Path, files: dict[str, list[str] | None], suffix: str = ".jpg") -> None:
    """Images (64x32) and their label files; None: an image without a label file (a background image)."""
    for stem, lines in files.items():
        write_image(images / f"{stem}{suffix}", W, H)
        if lines is not None:
            labels.mkdir(parents=True, exist_ok=True)
            (labels / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))


CAT, DOG = (2, 3, 20, 12), (30, 10, 50, 25)


@pytest.fixture
def ultralytics_dataset(tmp_path: Path) -> Path:
    """coco8-seg's layout: images/{train,val}, labels/{train,val}, coco8-seg.yaml (names as {id: name})."""
    root = tmp_path / "coco8-seg"
    write_split(root / "images" / "train", root / "labels" / "train", {"a": [polygon_line(0, CAT)], "b": []})
    write_split(root / "images" / "val", root / "labels" / "val", {"c": [polygon_line(1, DOG)], "d": None})
    # `path` is relative to Ultralytics' datasets folder, which is not here: the YAML's folder is the root.
    text = "path: ../datasets/coco8-seg\ntrain: images/train\nval: images/val\ntest:\n\nnames:\n  0: cat\n  1: dog\n"
    (root / "coco8-seg.yaml").write_text(text)
    return root


def test_ultralytics_layout_and_any_yaml_name_import_every_split(
    ultralytics_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert detect_format(ultralytics_dataset) == "yolo"
    out = tmp_path / "p.annot"
    assert main(["convert", str(ultralytics_dataset), "-o", str(out), "--to", "project"]) == 0
    printed = capsys.readouterr().out
    assert "converted 2 masks from yolo to project" in printed
    assert "skipped 1 images without a label file (background, no object) in val" in printed
    project = Project.open(out)
    try:
        assert [label.name for label in project.labels] == ["cat", "dog"]
        by_name = {Path(item.path).name: item for item in project.items}
        assert sorted(by_name) == ["a.jpg", "b.jpg", "c.jpg"]  # b has an empty label file: an image, no object
        (cat,) = project.objects(by_name["a.jpg"].id)
        assert project.label(cat.label_id).name == "cat"
        assert np.array_equal(project.mask(cat.id).to_array(), filled(CAT))
        (dog,) = project.objects(by_name["c.jpg"].id)
        assert np.array_equal(project.mask(dog.id).to_array(), filled(DOG))
    finally:
        project.close()
    # The YAML itself as the source: the same dataset.
    assert detect_format(ultralytics_dataset / "coco8-seg.yaml") == "yolo"
    dataset = read_dataset(ultralytics_dataset / "coco8-seg.yaml")
    assert dataset.mask_count() == 2 and [item.ref for item in dataset.items] == [
        "train/a.jpg",
        "train/b.jpg",
        "val/c.jpg",
    ]


def test_flat_ultralytics_layout_with_names_as_a_list_and_png_images(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_split(root / "images", root / "labels", {"a": [polygon_line(1, CAT), polygon_line(0, DOG)]}, ".png")
    (root / "dataset.yaml").write_text("names: [cat, dog]\n")
    assert detect_format(root) == "yolo"  # not 'png', although its images are PNGs
    (item,) = read_yolo(root).items
    assert [obj.label for obj in item.objects] == ["dog", "cat"]
    assert np.array_equal(item.objects[0].masks[0].to_array(), filled(CAT))


def test_roboflow_layout(tmp_path: Path) -> None:
    root = tmp_path / "roboflow"
    write_split(root / "train" / "images", root / "train" / "labels", {"a": [polygon_line(0, CAT)]})
    write_split(root / "valid" / "images", root / "valid" / "labels", {"b": [polygon_line(1, DOG)]})
    write_split(root / "test" / "images", root / "test" / "labels", {"c": [polygon_line(0, DOG)]})
    (root / "README.roboflow.txt").write_text("This dataset was exported via roboflow.com\n")
    (root / "README.dataset.txt").write_text("# pets\n")
    text = "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 2\nnames: ['cat', 'dog']\n"
    (root / "data.yaml").write_text(text + "\nroboflow:\n  workspace: me\n  version: 1\n")
    dataset = read_dataset(root)
    assert [(Path(item.path).parent.parent.name, item.ref) for item in dataset.items] == [
        ("train", "a.jpg"),
        ("valid", "b.jpg"),
        ("test", "c.jpg"),
    ]
    assert [obj.label for item in dataset.items for obj in item.objects] == ["cat", "dog", "cat"]
    # Without the YAML, the same folders are found by their layout (names then from classes.txt).
    (root / "data.yaml").unlink()
    (root / "classes.txt").write_text("cat\ndog\n")
    assert read_dataset(root, "yolo").mask_count() == 3


def test_darknet_image_list_is_read_as_a_list_not_as_labels(tmp_path: Path) -> None:
    data = tmp_path / "images" / "darknet" / "data"  # an `images` folder above the dataset is not its images/
    write_split(data / "obj", data / "obj", {"img1": [polygon_line(0, CAT)], "img2": [polygon_line(1, DOG)]})
    (data / "obj.names").write_text("cat\ndog\n")
    (data / "train.txt").write_text("data/obj/img1.jpg\n")
    (data / "valid.txt").write_text("data/obj/img2.jpg\n")
    (data / "obj.data").write_text(
        "classes = 2\ntrain = data/train.txt\nvalid = data/valid.txt\nnames = data/obj.names\n"
    )
    dataset = read_yolo(data)
    assert sorted(Path(item.path).name for item in dataset.items) == ["img1.jpg", "img2.jpg"]
    assert dataset.mask_count() == 2 and dataset.label_names() == ["cat", "dog"]
    # The folder of images with their label files side by side, and no list: its names live one folder up.
    with pytest.raises(FormatError, match="has no class names"):
        read_yolo(data / "obj")
    (data / "obj" / "classes.txt").write_text("cat\ndog\n")
    assert read_yolo(data / "obj").mask_count() == 2


def test_box_lines_are_skipped_counted_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "mixed"
    files = {"a": [polygon_line(0, CAT), box_line(1, DOG), box_line(0, DOG)], "b": [box_line(1, CAT)]}
    write_split(root / "images", root / "labels", files)
    (root / "classes.txt").write_text("cat\ndog\n")
    assert main(["convert", str(root), "-o", str(tmp_path / "p.annot"), "--to", "project"]) == 0
    printed = capsys.readouterr().out
    assert "converted 1 masks from yolo to project" in printed
    assert "skipped 2 box lines (detection labels, no mask) in a.txt" in printed
    assert (
        "skipped 1 box lines (detection labels, no mask): a detection label file, it has no polygon in b.txt" in printed
    )
    # The GUI's import says the same in its summary.
    project = Project.in_memory()
    report = import_annotations(project, root)
    assert report.masks == 1 and "skipped 2 box lines (detection labels, no mask) in a.txt" in report.summary()


def test_no_label_file_is_an_error_not_zero_masks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "empty"
    write_split(root / "images" / "train", root / "labels" / "train", {"a": None})
    (root / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [cat]\n")
    with pytest.raises(FormatError, match="holds no YOLO label file") as caught:
        read_yolo(root)
    assert caught.value.path == str(root)
    assert main(["convert", str(root), "-o", str(tmp_path / "p.annot"), "--to", "project", "--from", "yolo"]) == 2
    assert "holds no YOLO label file" in capsys.readouterr().err and not (tmp_path / "p.annot").exists()


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"data.yaml": "names: [a]\ntrain: [\n"}, "is not valid YAML"),
        ({"data.yaml": "- a\n- b\n"}, "not a YAML mapping"),
        ({"data.yaml": "names: 3\n"}, "must be a list of class names"),
        ({"a.yaml": "names: [a]\n", "b.yaml": "names: [b]\n"}, "several dataset YAMLs"),
        ({"notes.txt": "hello\n"}, "has no class names"),
    ],
)
def test_bad_names_are_a_format_error(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    root = tmp_path / "bad"
    write_split(root / "images", root / "labels", {"a": [polygon_line(0, CAT)]})
    for name, text in files.items():
        (root / name).write_text(text)
    with pytest.raises(FormatError, match=problem):
        read_yolo(root)


def test_a_class_id_outside_a_names_mapping_is_refused_naming_the_line(tmp_path: Path) -> None:
    root = tmp_path / "gaps"
    write_split(root / "images", root / "labels", {"a": [polygon_line(3, CAT), polygon_line(1, DOG)]})
    (root / "data.yaml").write_text("names:\n  1: cat\n  3: dog\n")
    (item,) = read_yolo(root).items
    assert [obj.label for obj in item.objects] == ["dog", "cat"]
    (root / "labels" / "a.txt").write_text(polygon_line(1, CAT) + "\n" + polygon_line(2, DOG) + "\n")
    with pytest.raises(FormatError, match="class 2 is not among") as caught:
        read_yolo(root)
    assert caught.value.element == "line 2" and caught.value.path == str(root / "labels" / "a.txt")


# -- export ----------------------------------------------------------------------------------------


def _two_part_dataset(media: Path) -> Dataset:
    """Image a: a cat of two discs far apart, a dog with holes and specks (ring_mask); a two-frame video."""
    a = ItemData(str(media / "a.png"), 64, 50)
    two_discs = disc(50, 64, 12, 12, 6) | disc(50, 64, 50, 38, 7)
    a.objects = [
        ObjectData("cat", "cat", {0: Mask.from_array(two_discs)}),
        ObjectData("dog", "dog", {0: Mask.from_array(ring_mask(50, 64))}),
    ]
    clip = ItemData(str(media / "clip"), 48, 32, "video", 3, frame_names=["00000.jpg", "00001.jpg", "00002.jpg"])
    clip.objects = [ObjectData("walker", "dog", {1: Mask.from_array(disc(32, 48, 20, 15, 6))})]
    return Dataset([LabelData("cat"), LabelData("dog")], [a, clip], root=str(media))


def test_export_is_a_dataset_whose_yaml_paths_are_true(media: Path, tmp_path: Path) -> None:
    out = write_yolo(_two_part_dataset(media), tmp_path / "yolo")
    data = yaml.safe_load((out / "data.yaml").read_text())
    # No `path`: Ultralytics then takes the YAML's folder as the root, wherever the export is moved.
    assert "path" not in data and data["names"] == {0: "cat", 1: "dog"} and data["nc"] == 2
    for split in ("train", "val"):
        assert (out / data[split]).is_dir()
    images = sorted(p.relative_to(out / "images").as_posix() for p in (out / "images").rglob("*.*"))
    assert images == ["a.png", "clip/00000.jpg", "clip/00001.jpg", "clip/00002.jpg"]
    assert (out / "images" / "a.png").read_bytes() == (media / "a.png").read_bytes()
    labels = sorted(p.relative_to(out / "labels").as_posix() for p in (out / "labels").rglob("*.txt"))
    assert labels == ["a.txt", "clip/00000.txt", "clip/00001.txt", "clip/00002.txt"]
    # One line per object, the cat's two discs and the dog's parts and holes joined into one polygon each.
    lines = (out / "labels" / "a.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"]
    assert (out / "labels" / "clip" / "00000.txt").read_text() == ""
    assert len((out / "labels" / "clip" / "00001.txt").read_text().splitlines()) == 1


def test_export_round_trip_keeps_each_object_whole_and_exact(media: Path, tmp_path: Path) -> None:
    dataset = _two_part_dataset(media)
    out = write_yolo(dataset, tmp_path / "yolo", tolerance=0.0)
    back = read_yolo(out)
    by_ref = {item.ref: item for item in back.items}
    assert sorted(by_ref) == ["a.png", "clip/00000.jpg", "clip/00001.jpg", "clip/00002.jpg"]
    assert [obj.label for obj in by_ref["a.png"].objects] == ["cat", "dog"]
    for original, read in zip(dataset.items[0].objects, by_ref["a.png"].objects, strict=True):
        assert np.array_equal(read.masks[0].to_array(), original.masks[0].to_array()), original.name
    (walker,) = by_ref["clip/00001.jpg"].objects
    assert np.array_equal(walker.masks[0].to_array(), dataset.items[1].objects[0].masks[1].to_array())


def test_export_into_the_dataset_folder_itself_keeps_its_images(media: Path, tmp_path: Path) -> None:
    dataset = _two_part_dataset(media)
    out = write_yolo(dataset, tmp_path / "yolo")
    again = read_yolo(out)
    write_yolo(again, out)  # the images are already there: linked to themselves, not lost
    assert (out / "images" / "a.png").read_bytes() == (media / "a.png").read_bytes()
    assert read_yolo(out).mask_count() == dataset.mask_count()


def _ultralytics_python() -> str | None:
    """An interpreter with ultralytics ($ANNOTATOR_ULTRALYTICS_PYTHON or .venv-ultra), or None."""
    return consumer_python("ultralytics", "ANNOTATOR_ULTRALYTICS_PYTHON", ".venv-ultra")


def test_ultralytics_loads_our_export(media: Path, tmp_path: Path) -> None:
    python = _ultralytics_python()
    if python is None:
        pytest.skip("no interpreter with ultralytics (set ANNOTATOR_ULTRALYTICS_PYTHON or make .venv-ultra)")
    dataset = _two_part_dataset(media)
    out = write_yolo(dataset, tmp_path / "export", tolerance=0.0)
    result = tmp_path / "ultralytics.json"
    script = Path(__file__).with_name("ultralytics_reference.py")
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "config"), "YOLO_OFFLINE": "1"}
    run = subprocess.run(
        [python, str(script), str(out / "data.yaml"), str(result)],
        cwd=tmp_path,  # not the export: a `path: .` would have been read against this folder
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    theirs = json.loads(result.read_text())
    assert theirs["names"] == {"0": "cat", "1": "dog"}
    found = {Path(image["im_file"]).relative_to(out / "images").as_posix(): image for image in theirs["images"]}
    assert sorted(found) == ["a.png", "clip/00000.jpg", "clip/00001.jpg", "clip/00002.jpg"]
    image = found["a.png"]
    assert image["shape"] == [50, 64] and image["cls"] == [0, 1]  # one instance per object, none split or lost
    for segment, original in zip(image["segments"], dataset.items[0].objects, strict=True):
        ours = original.masks[0].to_array()
        points = np.array(segment) * [64, 50]
        # What Ultralytics trains on (cv2.fillPoly of the line): the object, plus the one-pixel cuts joining its parts.
        whole = np.zeros((50, 64), np.uint8)
        cv2.fillPoly(whole, [points.astype(np.int32)], 1)
        assert (ours & ~whole.astype(bool)).sum() == 0, original.name
        # Its polygon is ours: split at its cuts, it fills the object exactly.
        loops = np.zeros((50, 64), np.uint8)
        cv2.fillPoly(loops, [loop.astype(np.int32) for loop in split_cuts(points)], 1)
        assert np.array_equal(loops.astype(bool), ours), original.name
    # The cat's extra pixels are its one cut: a thin line between its two discs.
    ours = dataset.items[0].objects[0].masks[0].to_array()
    whole = np.zeros((50, 64), np.uint8)
    cv2.fillPoly(whole, [(np.array(image["segments"][0]) * [64, 50]).astype(np.int32)], 1)
    ys, xs = np.nonzero(whole.astype(bool) & ~ours)
    direction = np.array([50 - 12, 38 - 12]) / np.hypot(50 - 12, 38 - 12)
    offsets = np.stack([xs - 12, ys - 12], axis=1)
    assert len(xs) > 0 and np.abs(offsets @ [-direction[1], direction[0]]).max() <= 2.0
    assert found["clip/00001.jpg"]["cls"] == [1] and found["clip/00000.jpg"]["cls"] == []


def test_labels_without_their_images_are_refused_or_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    labels, images = tmp_path / "y" / "labels", tmp_path / "photos"
    labels.mkdir(parents=True)
    (tmp_path / "y" / "classes.txt").write_text("cat\n")
    for stem in ("a", "b"):
        (labels / f"{stem}.txt").write_text(polygon_line(0, CAT) + "\n")
    write_image(images / "a.jpg", W, H)
    args = ["convert", str(tmp_path / "y"), "-o", str(tmp_path / "p.annot"), "--to", "project", "--images", str(images)]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert f"{labels / 'b.txt'}: no image named b.* in {images}" in error
    assert "--images DIR, or --no-check-media" in error  # the message says what to do
    assert main([*args, "--no-check-media"]) == 0
    printed = capsys.readouterr().out
    assert "converted 1 masks" in printed and "skipped 1 annotated images not found (left out: b.*) in y" in printed
