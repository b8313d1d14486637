"""PNG masks as other tools write them: labelme's VOC export, Pascal VOC, split folders, and video frame folders.

Built from the tools' documentation: labelme's `labelme2voc.py` writes OUT/class_names.txt (line i =
pixel value i, `_background_` first), OUT/JPEGImages/NAME.jpg and OUT/SegmentationClassPNG/NAME.png
(palette PNG; its `__ignore__` class as 255); Pascal VOC 2012 has SegmentationClass/NAME.png and
JPEGImages/NAME.jpg, its 20 classes in the devkit's order and 255 for boundaries and "don't care".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.cli import main
from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.formats import detect_format, read_dataset
from annotator.io.png_masks import PngImportOptions, palette_bytes, read_png_masks

from .conftest import write_image

W, H = 40, 30


def write_palette_png(path: Path, values: np.ndarray) -> Path:
    """An 8-bit palette PNG of pixel values, as labelme and VOC save them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(values.astype(np.uint8), mode="P")
    image.putpalette(palette_bytes([(128, 0, 0), (0, 128, 0), (128, 128, 0)]))
    image.save(path)
    return path


def scene(cat: int = 1, dog: int = 2) -> np.ndarray:
    """A cat (value `cat`) and a dog (`dog`), each outlined by VOC's void boundary (255)."""
    values = np.zeros((H, W), np.uint8)
    values[3:12, 3:15] = 255
    values[4:11, 4:14] = cat
    values[15:28, 20:38] = 255
    values[16:27, 21:37] = dog
    return values


def test_labelme_voc_export_reads_class_names_and_ignores_void(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "data_dataset_voc"
    (root).mkdir()
    (root / "class_names.txt").write_text("_background_\ncat\ndog\nbird\n")
    write_image(root / "JPEGImages" / "2011_000003.jpg", W, H)
    write_palette_png(root / "SegmentationClassPNG" / "2011_000003.png", scene())
    assert detect_format(root) == "semantic" and detect_format(root / "SegmentationClassPNG") == "semantic"
    out = tmp_path / "p.annot"
    assert main(["convert", str(root), "-o", str(out), "--to", "project"]) == 0
    printed = capsys.readouterr().out
    assert "converted 2 masks from semantic to project" in printed
    assert (
        "skipped 1 void regions (value 255: boundary or don't care, not an object) in SegmentationClassPNG" in printed
    )
    project = Project.open(out)
    try:
        assert [label.name for label in project.labels] == ["cat", "dog", "bird"]
        (item,) = project.items
        assert Path(item.path).name == "2011_000003.jpg"  # JPEGImages beside the PNGs, without --images
        masks = {project.label(o.label_id).name: project.mask(o.id).to_array() for o in project.objects(item.id)}
        assert sorted(masks) == ["cat", "dog"]
        assert np.array_equal(masks["cat"], scene() == 1) and np.array_equal(masks["dog"], scene() == 2)
    finally:
        project.close()


def test_pascal_voc_folder_gets_the_devkit_class_names(tmp_path: Path) -> None:
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    write_image(voc / "JPEGImages" / "2007_000032.jpg", W, H)
    write_palette_png(voc / "SegmentationClass" / "2007_000032.png", scene(cat=1, dog=15))
    dataset = read_dataset(voc / "SegmentationClass")
    (item,) = dataset.items
    assert [obj.label for obj in item.objects] == ["aeroplane", "person"]
    assert 255 not in [obj.track_id for obj in item.objects]
    assert len(dataset.labels) == 20 and "background" not in dataset.label_names()


def test_void_is_an_object_only_where_the_names_name_it(tmp_path: Path) -> None:
    folder = tmp_path / "sem"
    write_image(tmp_path / "images" / "a.jpg", W, H)
    write_palette_png(folder / "a.png", scene())
    (folder / "label_map.json").write_text('{"0": "background", "1": "cat", "2": "dog", "255": "edge"}')
    dataset = read_png_masks(folder, PngImportOptions(images=tmp_path / "images"))
    assert [obj.label for obj in dataset.items[0].objects] == ["cat", "dog", "edge"] and dataset.skipped == []
    # Instance PNGs without objects.json: 255 is void there too.
    (folder / "label_map.json").unlink()
    instances = read_png_masks(folder, PngImportOptions(images=tmp_path / "images", mode="instance"))
    assert [obj.track_id for obj in instances.items[0].objects] == [1, 2]
    assert instances.skipped == ["1 void regions (value 255: boundary or don't care, not an object) in sem"]


def test_pngs_in_subfolders_are_images_of_split_folders(tmp_path: Path) -> None:
    masks, images = tmp_path / "masks", tmp_path / "images"
    for split, stem in (("train", "a"), ("train", "b"), ("val", "c"), ("one", "00007")):
        write_image(images / split / f"{stem}.jpg", W, H)
        write_palette_png(masks / split / f"{stem}.png", scene())
    dataset = read_png_masks(masks, PngImportOptions(images=images))
    assert [(item.kind, Path(item.path).relative_to(images).as_posix()) for item in dataset.items] == [
        ("image", "one/00007.jpg"),  # one numbered PNG alone: an image, not a one-frame video
        ("image", "train/a.jpg"),
        ("image", "train/b.jpg"),
        ("image", "val/c.jpg"),
    ]
    # Two or more PNGs named by frame numbers are a video's frames (DAVIS' layout).
    for frame in range(2):
        write_image(images / "clip" / f"{frame:05d}.jpg", W, H)
        write_palette_png(masks / "clip" / f"{frame:05d}.png", scene())
    clip = next(item for item in read_png_masks(masks, PngImportOptions(images=images)).items if item.kind == "video")
    assert clip.frame_count == 2 and Path(clip.path) == images / "clip"


def test_video_pngs_are_checked_against_their_frames_and_keep_the_frames_names(tmp_path: Path) -> None:
    frames, masks = tmp_path / "frames", tmp_path / "masks"
    for n in (1, 2, 3):
        write_image(frames / f"img_{n:07d}.png", W, H)
        write_palette_png(masks / f"img_{n:07d}.png", scene())
    options = PngImportOptions(images=frames, video=True)
    (item,) = read_png_masks(masks, options).items
    assert item.frame_names == ["img_0000001.png", "img_0000002.png", "img_0000003.png"]  # their own suffix
    # A frame of another size than its PNG is refused, as an image is in image mode.
    Image.new("RGB", (12, 10)).save(frames / "img_0000002.png")
    with pytest.raises(FormatError, match=r"is 40x30 but its image img_0000002\.png is 12x10") as caught:
        read_png_masks(masks, options)
    assert caught.value.path == str(masks / "img_0000002.png")


def test_video_pngs_named_otherwise_than_the_frames_pair_by_order(tmp_path: Path) -> None:
    frames, masks = tmp_path / "frames", tmp_path / "masks"
    for n in range(3):
        write_image(frames / f"img_{n + 1:07d}.jpg", W, H)
        write_palette_png(masks / f"{n:05d}.png", scene())
    (item,) = read_png_masks(masks, PngImportOptions(images=frames, video=True)).items
    assert item.frame_names == ["img_0000001.jpg", "img_0000002.jpg", "img_0000003.jpg"]
    write_image(frames / "extra.jpg", W, H)  # now neither the names nor the count pair them
    with pytest.raises(FormatError, match=r"no frame named 00000\.\* in the frame folder"):
        read_png_masks(masks, PngImportOptions(images=frames, video=True))
