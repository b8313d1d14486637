"""RLE JSON, PNG masks, YOLO, YouTube-VIS, tracks, project files and format detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.document.mask import Mask
from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.coco import CocoOptions
from annotator.io.dataset import Dataset
from annotator.io.formats import FormatOptions, convert, detect_format, read_dataset, write_dataset
from annotator.io.png_masks import PngImportOptions, read_png_masks, write_png_masks
from annotator.io.project_io import dataset_from_project, read_project, write_project
from annotator.io.rle_json import read_rle_json, write_rle_json
from annotator.io.tracks import point_tracks, write_mot, write_point_tracks
from annotator.io.yolo import read_yolo, write_yolo
from annotator.io.ytvis import read_ytvis, write_ytvis

from .conftest import assert_same_masks, exported, reimport


def test_rle_json_round_trip_keeps_everything(sample_project: Project, tmp_path: Path) -> None:
    path = write_rle_json(dataset_from_project(sample_project), tmp_path / "masks.json")
    back = reimport(read_rle_json(path))
    assert_same_masks(sample_project, back)
    assert [o.name for o in back.objects(back.items[0].id)] == ["ring", "disc", "free"]
    assert [(lab.name, lab.color) for lab in back.labels] == [("cat", (255, 0, 0)), ("dog", (0, 255, 0))]
    assert back.items[2].kind == "video" and back.items[2].fps == 10.0


def test_rle_json_bad_size_and_frame(sample_project: Project, tmp_path: Path) -> None:
    path = write_rle_json(dataset_from_project(sample_project), tmp_path / "masks.json")
    data = json.loads(path.read_text())
    data["items"][2]["objects"][0]["masks"][0]["frame"] = 7
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match="outside the item's 3 frames"):
        read_rle_json(path)


def test_png_round_trip_and_palette(sample_project: Project, tmp_path: Path) -> None:
    out = write_png_masks(dataset_from_project(sample_project), tmp_path / "png")
    with Image.open(out / "a.png") as image:
        assert image.mode == "P"
        palette = image.getpalette()[:12]
        assert np.unique(np.asarray(image)).tolist() == [0, 1, 2, 3]
    objects = sample_project.objects(sample_project.items[0].id)
    assert palette == [0, 0, 0, *objects[0].color, *objects[1].color, *objects[2].color]
    assert sorted(p.name for p in (out / "clip").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    back = reimport(read_png_masks(out))
    assert_same_masks(sample_project, back)
    assert [label.name for label in back.labels] == ["cat", "dog"]


def test_png_import_pairs_images_by_stem(sample_project: Project, tmp_path: Path, media: Path) -> None:
    out = write_png_masks(dataset_from_project(sample_project), tmp_path / "png")
    (out / "objects.json").unlink()
    dataset = read_png_masks(out, PngImportOptions(images=media))
    assert [Path(item.path).name for item in dataset.items] == ["a.png", "b.jpg", "clip"]
    (media / "b.jpg").unlink()
    with pytest.raises(FormatError, match=r"no image named b\.\*"):
        read_png_masks(out, PngImportOptions(images=media))


@pytest.mark.data
def test_png_import_of_shared_instances(shared_data: Path) -> None:
    dataset = read_png_masks(shared_data / "instances", PngImportOptions(images=shared_data / "images"))
    for item in dataset.items:
        index = np.asarray(Image.open(shared_data / "instances" / f"{Path(item.path).stem}.png"))
        assert len(item.objects) == len(set(np.unique(index).tolist()) - {0})
        for obj in item.objects:
            assert np.array_equal(obj.masks[0].to_array(), index == obj.track_id)


@pytest.mark.data
def test_png_import_of_a_shared_video(shared_data: Path, tmp_path: Path) -> None:
    seq = shared_data / "videos" / "dog"
    dataset = read_png_masks(seq / "masks", PngImportOptions(images=seq / "frames", video=True))
    (item,) = dataset.items
    assert item.kind == "video" and item.frame_count == len(list((seq / "masks").glob("*.png")))
    project = reimport(dataset)
    out = write_png_masks(dataset_from_project(project), tmp_path / "png")
    assert_same_masks(project, reimport(read_png_masks(out)))


def test_semantic_png_with_label_map(sample_project: Project, tmp_path: Path) -> None:
    out = write_png_masks(dataset_from_project(sample_project), tmp_path / "sem", "semantic")
    assert json.loads((out / "label_map.json").read_text()) == {"0": "background", "1": "cat", "2": "dog"}
    with Image.open(out / "a.png") as image:
        assert image.getpalette()[3:9] == [255, 0, 0, 0, 255, 0]
        values = np.asarray(image)
    project_masks = {o.name: sample_project.mask(o.id).to_array() for o in sample_project.objects(1)}
    assert np.array_equal(values == 1, project_masks["ring"])
    assert detect_format(out) == "semantic"
    dataset = read_dataset(out)
    assert [(o.label, o.name) for o in dataset.items[0].objects] == [("cat", "cat"), ("dog", "dog")]


def test_png_rejects_rgb(tmp_path: Path, media: Path) -> None:
    (tmp_path / "png").mkdir()
    Image.new("RGB", (64, 50)).save(tmp_path / "png" / "a.png")
    with pytest.raises(FormatError, match="not an index"):
        read_png_masks(tmp_path / "png", PngImportOptions(images=media))


def test_yolo_round_trip(sample_project: Project, tmp_path: Path, media: Path) -> None:
    dataset = exported(sample_project)
    dataset.items = dataset.items[:2]
    out = write_yolo(dataset, tmp_path / "yolo", tolerance=0.0)
    assert (out / "classes.txt").read_text() == "cat\ndog\nobject\n"
    assert "names:" in (out / "data.yaml").read_text()
    line = (out / "labels" / "a.txt").read_text().splitlines()[0].split()
    assert line[0] == "0" and all(0 <= float(v) <= 1 for v in line[1:])
    back = read_yolo(out, images=media)
    original = {(o.label or "object"): o.masks[0].to_array() for o in dataset.items[0].objects}
    merged: dict[str, np.ndarray] = {}
    for obj in back.items[0].objects:
        merged[obj.label] = merged.get(obj.label, False) | obj.masks[0].to_array()
    for label, mask in original.items():
        assert (mask & merged[label]).sum() / (mask | merged[label]).sum() >= 0.98, label


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("7 0.1 0.1 0.2 0.2 0.3 0.1", "class 7"),
        ("0 0.1 0.1", "at least 3"),
        ("0 0.1 0.1 0.2 0.2 0.3 0.3 0.4", "x, y"),
        ("0 a b c d e f", "CLASS"),
        ("0 0.1 0.1 0.2 0.2 3 0.1", "normalised"),
    ],
)
def test_bad_yolo_line(tmp_path: Path, media: Path, line: str, problem: str) -> None:
    (tmp_path / "y" / "labels").mkdir(parents=True)
    (tmp_path / "y" / "classes.txt").write_text("cat\n")
    (tmp_path / "y" / "labels" / "a.txt").write_text(line + "\n")
    with pytest.raises(FormatError, match=problem) as caught:
        read_yolo(tmp_path / "y", images=media)
    assert caught.value.element == "line 1"


@pytest.mark.parametrize("mode", ["rle", "polygon"])
def test_ytvis_round_trip(sample_project: Project, tmp_path: Path, mode: str) -> None:
    path = write_ytvis(exported(sample_project), tmp_path / "vis.json", CocoOptions(mode))
    data = json.loads(path.read_text())
    assert data["videos"][2]["length"] == 3 and len(data["annotations"][-1]["segmentations"]) == 3
    assert data["annotations"][-1]["segmentations"][1] is None
    assert_same_masks(sample_project, reimport(read_ytvis(path)), 1.0 if mode == "rle" else 0.95)


def test_mot_and_point_tracks(sample_project: Project, tmp_path: Path) -> None:
    dataset = dataset_from_project(sample_project)
    write_mot(dataset, tmp_path / "mot")
    rows = [r.split(",") for r in (tmp_path / "mot" / "clip.txt").read_text().splitlines()]
    assert len(rows) == 5 and rows[0][0] == "1" and rows[0][6:] == ["1", "-1", "-1", "-1"]
    walker = dataset.items[2].objects[0].masks[0]
    x0, y0, x1, y1 = walker.bbox
    assert [int(v) for v in rows[0][2:6]] == [x0, y0, x1 - x0, y1 - y0]
    write_point_tracks(dataset, tmp_path / "pts")
    tracks = np.load(tmp_path / "pts" / "clip.npz")
    assert tracks["points"].shape == (2, 3, 2) and tracks["visible"].tolist() == [[1, 1, 1], [1, 0, 1]]
    assert np.isnan(tracks["points"][1, 1]).all()
    for n, obj in enumerate(dataset.items[2].objects):
        for frame, mask in obj.masks.items():
            x, y = tracks["points"][n, frame]
            assert mask.to_array()[int(y), int(x)]
    assert point_tracks(dataset, 0)["names"].tolist() == ["ring", "disc", "free"]


def test_project_file_round_trip(sample_project: Project, tmp_path: Path) -> None:
    path = write_project(dataset_from_project(sample_project), tmp_path / "p.annot")
    assert detect_format(path) == "project"
    reopened = Project.open(path)
    try:
        assert_same_masks(sample_project, reopened)
    finally:
        reopened.close()
    assert read_project(path).mask_count() == dataset_from_project(sample_project).mask_count()


@pytest.mark.parametrize("fmt", ["coco", "ytvis", "rle", "labelme", "png", "semantic", "yolo"])
def test_detect_format_of_every_export(sample_project: Project, tmp_path: Path, fmt: str) -> None:
    dataset: Dataset = dataset_from_project(sample_project)
    out = tmp_path / (f"{fmt}.json" if fmt in ("coco", "ytvis", "rle") else fmt)
    write_dataset(dataset, out, fmt)
    assert detect_format(out) == fmt


def test_convert_between_formats(sample_project: Project, tmp_path: Path, media: Path) -> None:
    source = write_project(dataset_from_project(sample_project), tmp_path / "p.annot")
    fmt, count = convert(source, tmp_path / "c.json", "coco", options=FormatOptions(unlabelled="object"))
    assert (fmt, count) == ("project", 8)
    convert(tmp_path / "c.json", tmp_path / "png", "png")
    convert(tmp_path / "png", tmp_path / "back.annot", "project", options=FormatOptions(images=media))
    back = Project.open(tmp_path / "back.annot")
    try:
        assert len(back.items) == 3 and sum(len(back.objects(i.id)) for i in back.items) == 5
    finally:
        back.close()


def test_unknown_input_is_a_format_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(FormatError, match="no known annotation format"):
        detect_format(tmp_path / "x.txt")
    (tmp_path / "y.json").write_text("{}")
    with pytest.raises(FormatError, match="no known annotation format"):
        detect_format(tmp_path / "y.json")
    with pytest.raises(FormatError, match="does not exist"):
        detect_format(tmp_path / "missing")


def test_export_and_import_helpers_for_the_gui(sample_project: Project, tmp_path: Path) -> None:
    from annotator.io.formats import export_project, import_annotations

    options = FormatOptions(unlabelled="object")
    export_project(sample_project, tmp_path / "c.json", "coco", options, item_ids=[sample_project.items[0].id])
    target = Project.in_memory()
    assert import_annotations(target, tmp_path / "c.json").masks == 3
    assert len(target.items) == 1 and target.undo() and target.items == []


def test_blank_label_names_import_as_unlabelled(sample_dataset: Dataset) -> None:
    sample_dataset.items[0].objects[0].label = "  "
    sample_dataset.labels[0].name = " cat "
    project = reimport(sample_dataset)
    assert [label.name for label in project.labels] == ["cat", "dog"]
    assert project.objects(project.items[0].id)[0].label_id is None


def test_import_adds_objects_to_items_already_in_the_project(sample_project: Project, tmp_path: Path) -> None:
    path = write_rle_json(dataset_from_project(sample_project), tmp_path / "masks.json")
    before = len(sample_project.objects(sample_project.items[0].id))
    from annotator.io.project_io import import_dataset

    import_dataset(sample_project, read_rle_json(path))
    assert len(sample_project.items) == 3
    assert len(sample_project.objects(sample_project.items[0].id)) == 2 * before


def test_import_of_a_mask_of_the_wrong_size_into_a_project_is_refused(sample_project: Project, tmp_path: Path) -> None:
    from annotator.io.project_io import import_dataset

    dataset = dataset_from_project(sample_project)
    dataset.items[0].width = 10
    dataset.items[0].objects[0].masks[0] = Mask.empty(50, 10)
    with pytest.raises(FormatError, match="but the image is 64x50"):
        import_dataset(sample_project, dataset)
    assert len(sample_project.objects(sample_project.items[0].id)) == 3


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d["annotations"][0]["segmentations"].pop(), "entries for 1 frames"),
        (lambda d: d["annotations"][0].update(video_id=42), "no video has id 42"),
        (lambda d: d["annotations"][0].update(category_id=42), "no category has id 42"),
        (lambda d: d["videos"][0].update(file_names=["gone.png"]), "listed but absent"),
        (lambda d: d["videos"][0].update(width=1), "but the image is"),
    ],
)
def test_bad_ytvis_is_a_format_error(sample_project: Project, tmp_path: Path, mutate: object, problem: str) -> None:
    path = write_ytvis(dataset_from_project(sample_project), tmp_path / "vis.json")
    data = json.loads(path.read_text())
    mutate(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=problem):
        read_ytvis(path)


def test_png_of_another_size_than_its_image(sample_project: Project, tmp_path: Path, media: Path) -> None:
    out = write_png_masks(dataset_from_project(sample_project), tmp_path / "png")
    Image.new("P", (10, 10)).save(out / "a.png")
    with pytest.raises(FormatError, match=r"is 10x10 but its image a\.png is 64x50"):
        read_png_masks(out, PngImportOptions(images=media))
