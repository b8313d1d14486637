"""Exports name images below the image root; imports match them to a folder's items by that path.

The projects here are real folder projects (`annotator.workspace.open_path`): their items are
stored relative to the project file's folder, as the app stores them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annotator.document import AddItem, Project
from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.formats import FormatOptions, import_annotations, read_dataset, unlabelled_left_out, write_dataset
from annotator.io.labelme import write_labelme
from annotator.io.project_io import ImportReport, dataset_from_project, import_dataset
from annotator.workspace import open_path, sync_folder

from .conftest import disc, write_image

NAMES = ("a.png", "b.png")


def _folder(root: Path, sizes: tuple[tuple[int, int], ...] = ((64, 50), (40, 30))) -> Path:
    for name, (width, height) in zip(NAMES, sizes, strict=True):
        write_image(root / name, width, height)
    return root


def _open(folder: Path) -> Project:
    project, _, problems = open_path(folder)
    assert problems == []
    return project


@pytest.fixture
def annotated(tmp_path: Path) -> Project:
    """Folder A opened as the app opens it, with a cat and an unlabelled blob on a.png and a dog on b.png."""
    project = _open(_folder(tmp_path / "A"))
    a, b = (str(project.path.parent / name) for name in NAMES)  # type: ignore[union-attr]
    item_a = ItemData(a, 64, 50, objects=[ObjectData("c", "cat", {0: Mask.from_array(disc(50, 64, 20, 20, 8))})])
    item_a.objects.append(ObjectData("free", None, {0: Mask.from_array(disc(50, 64, 50, 30, 5))}))
    item_b = ItemData(b, 40, 30, objects=[ObjectData("d", "dog", {0: Mask.from_array(disc(30, 40, 20, 15, 6))})])
    report = import_dataset(project, Dataset([LabelData("cat"), LabelData("dog")], [item_a, item_b]))
    assert (report.items_matched, report.items_added, report.missing) == (2, 0, ())
    return project


def _export(project: Project, tmp_path: Path, fmt: str = "coco", **options: object) -> Path:
    suffix = ".json" if fmt in ("coco", "ytvis", "rle") else ".annot" if fmt == "project" else ""
    out = project.path.parent / "exports" / f"{fmt}{suffix}"  # type: ignore[union-attr]
    return write_dataset(dataset_from_project(project), out, fmt, FormatOptions(**options))  # type: ignore[arg-type]


def _fresh_copy(project: Project, folder: Path, names: tuple[str, ...] = NAMES) -> Project:
    folder.mkdir()
    for name in names:
        shutil.copy2(project.path.parent / name, folder / name)  # type: ignore[union-attr]
    return _open(folder)


def _objects(project: Project) -> dict[str, list[tuple[str | None, np.ndarray]]]:
    result = {}
    for item in project.items:
        result[item.path] = [
            (project.label(o.label_id).name if o.label_id else None, project.mask(o.id).to_array())  # type: ignore[union-attr]
            for o in project.objects(item.id)
        ]
    return result


def _refs(out: Path, fmt: str) -> list[str]:
    """The image names an export wrote."""
    if fmt == "coco":
        return [image["file_name"] for image in json.loads(out.read_text())["images"]]
    if fmt == "ytvis":
        return [name for video in json.loads(out.read_text())["videos"] for name in video["file_names"]]
    if fmt == "rle":
        return [item["path"] for item in json.loads(out.read_text())["items"]]
    if fmt == "labelme":  # imagePath is relative to the JSON file (labelme's rule); named here from the root
        folder = out.parents[1]
        files = sorted(out.glob("*.json"))
        return [
            (p.parent / json.loads(p.read_text())["imagePath"]).resolve().relative_to(folder).as_posix() for p in files
        ]
    return [item["path"] for item in json.loads((out / "objects.json").read_text())["items"]]


@pytest.mark.parametrize("fmt", ["coco", "ytvis", "rle", "labelme", "png", "semantic"])
def test_exports_name_images_below_the_project_folder(annotated: Project, tmp_path: Path, fmt: str) -> None:
    out = _export(annotated, tmp_path, fmt)
    assert _refs(out, fmt) == list(NAMES)


def test_an_image_outside_the_image_root_is_named_by_its_absolute_path(annotated: Project, tmp_path: Path) -> None:
    out = _export(annotated, tmp_path, images=tmp_path / "elsewhere")
    assert _refs(out, "coco") == [(annotated.path.parent / n).as_posix() for n in NAMES]  # type: ignore[union-attr]


def test_labelme_files_beside_their_images_name_just_the_file(annotated: Project) -> None:
    dataset = dataset_from_project(annotated)
    files = write_labelme(dataset)
    assert [json.loads(f.read_text())["imagePath"] for f in files] == list(NAMES)


@pytest.mark.parametrize("fmt", ["coco", "ytvis", "rle", "labelme", "png", "project"])
def test_import_into_a_fresh_copy_matches_every_item_once(annotated: Project, tmp_path: Path, fmt: str) -> None:
    out = _export(annotated, tmp_path, fmt, unlabelled="object")
    fresh = _fresh_copy(annotated, tmp_path / "B")
    report = import_annotations(fresh, out)
    assert (report.items_matched, report.items_added, report.missing) == (2, 0, ())
    assert [item.path for item in fresh.items] == list(NAMES)
    named = fmt in ("coco", "ytvis", "labelme")  # these need a label: the unlabelled blob went out as 'object'
    expected = {
        p: [(lab or "object" if named else lab, m) for lab, m in objs] for p, objs in _objects(annotated).items()
    }
    got = _objects(fresh)
    assert got.keys() == expected.keys()
    for path, objects in expected.items():
        assert [label for label, _ in got[path]] == [label for label, _ in objects]
        assert all(np.array_equal(m, n) for (_, m), (_, n) in zip(got[path], objects, strict=True))
    fresh.close()
    reopened = _open(tmp_path / "B")  # opening the folder again adds nothing either
    assert [item.path for item in reopened.items] == list(NAMES)


def test_yolo_pairs_by_stem_in_the_project_folder(annotated: Project, tmp_path: Path) -> None:
    out = _export(annotated, tmp_path, "yolo")
    fresh = _fresh_copy(annotated, tmp_path / "B")
    report = import_annotations(fresh, out)
    assert (report.items_matched, report.items_added, report.objects) == (2, 0, 2)
    assert [item.path for item in fresh.items] == list(NAMES)


def test_missing_images_are_skipped_and_reported(annotated: Project, tmp_path: Path) -> None:
    out = _export(annotated, tmp_path)
    fresh = _fresh_copy(annotated, tmp_path / "B", NAMES[:1])
    report = import_annotations(fresh, out)
    assert report.missing == ("b.png",) and (report.items_matched, report.items_added) == (1, 0)
    assert report.masks == 1 and [item.path for item in fresh.items] == ["a.png"]
    assert "1 image not found, skipped: b.png" in report.summary()


@pytest.mark.parametrize("fmt", ["yolo", "png", "labelme", "rle"])
def test_missing_images_of_other_formats_are_reported_too(annotated: Project, tmp_path: Path, fmt: str) -> None:
    out = _export(annotated, tmp_path, fmt, unlabelled="object")
    if fmt == "png":
        (out / "objects.json").unlink()  # pairing by stem only
    fresh = _fresh_copy(annotated, tmp_path / "B", NAMES[:1])
    report = import_annotations(fresh, out)
    # A YOLO export holds its images (images/b.png), so the import knows the name; PNGs pair by stem only.
    assert report.missing == (("b.*",) if fmt == "png" else ("b.png",))
    assert [item.path for item in fresh.items] == ["a.png"] and report.items_matched == 1


def test_strict_refuses_the_whole_import_naming_the_file_and_the_images(annotated: Project, tmp_path: Path) -> None:
    out = _export(annotated, tmp_path)
    fresh = _fresh_copy(annotated, tmp_path / "B", NAMES[:1])
    with pytest.raises(FormatError) as caught:
        import_annotations(fresh, out, strict=True)
    assert caught.value.path == str(out) and "b.png" in caught.value.problem
    assert fresh.labels == [] and fresh.objects(fresh.items[0].id) == []


def test_an_unmatched_path_falls_back_to_a_unique_file_name(tmp_path: Path) -> None:
    project = _open(_folder(tmp_path / "B"))
    elsewhere = ItemData("/nowhere/deep/a.png", 64, 50, ref="deep/a.png")
    elsewhere.objects = [ObjectData("x", "cat", {0: Mask.from_array(disc(50, 64, 10, 10, 4))})]
    report = import_dataset(project, Dataset([LabelData("cat")], [elsewhere]))
    assert (report.items_matched, report.items_added, report.missing) == (1, 0, ())
    assert len(project.objects(project.items[0].id)) == 1


def test_a_file_name_shared_by_two_items_is_no_match(tmp_path: Path) -> None:
    (tmp_path / "B").mkdir()
    project = _open(tmp_path / "B")
    for sub in ("x", "y"):
        write_image(tmp_path / "B" / sub / "a.png", 64, 50)
        project.execute(AddItem(f"{sub}/a.png", "image", 64, 50))
    guess = ItemData("/nowhere/a.png", 64, 50, ref="a.png")
    guess.objects = [ObjectData("x", None, {0: Mask.from_array(disc(50, 64, 10, 10, 4))})]
    assert import_dataset(project, Dataset([], [guess])).missing == ("a.png",)
    # An absent image with no annotations loses nothing, so it is not reported.
    assert import_dataset(project, Dataset([], [ItemData("/nowhere/a.png", 64, 50, ref="a.png")])).missing == ()
    exact = ItemData("/nowhere/y/a.png", 64, 50, ref="y/a.png")
    exact.objects = [ObjectData("x", None, {0: Mask.from_array(disc(50, 64, 10, 10, 4))})]
    report = import_dataset(project, Dataset([], [exact]))
    assert report.items_matched == 1 and len(project.objects(project.items[1].id)) == 1


def test_new_media_below_the_folder_are_added_as_the_folder_sync_stores_them(
    annotated: Project, tmp_path: Path
) -> None:
    out = _export(annotated, tmp_path)
    (tmp_path / "B").mkdir()
    fresh = _open(tmp_path / "B")  # empty when opened; the images arrive afterwards
    for name in NAMES:
        shutil.copy2(annotated.path.parent / name, tmp_path / "B" / name)  # type: ignore[union-attr]
    report = import_annotations(fresh, out)
    assert (report.items_matched, report.items_added) == (0, 2)
    assert [item.path for item in fresh.items] == list(NAMES)
    assert [(item.width, item.height) for item in fresh.items] == [(64, 50), (40, 30)]
    assert sync_folder(fresh, tmp_path / "B") == [] and len(fresh.items) == 2


def test_a_mask_that_does_not_fit_the_matched_image_refuses_the_import(annotated: Project, tmp_path: Path) -> None:
    out = _export(annotated, tmp_path)
    fresh = _open(_folder(tmp_path / "B", ((32, 32), (40, 30))))
    with pytest.raises(FormatError) as caught:
        import_annotations(fresh, out)
    error = caught.value
    assert error.path == str(out) and "a.png" in error.element and "64x50" in error.problem and "32x32" in error.problem
    assert fresh.labels == []


def test_import_is_one_undo_step_in_a_folder_project(annotated: Project, tmp_path: Path) -> None:
    out = _export(annotated, tmp_path)
    fresh = _fresh_copy(annotated, tmp_path / "B")
    import_annotations(fresh, out)
    assert fresh.undo()
    assert [item.path for item in fresh.items] == list(NAMES) and fresh.labels == []


@pytest.mark.parametrize("fmt", ["coco", "ytvis", "labelme", "yolo", "semantic"])
def test_objects_without_a_label_are_left_out_unless_named(annotated: Project, tmp_path: Path, fmt: str) -> None:
    dataset = dataset_from_project(annotated)
    assert unlabelled_left_out(dataset, fmt, FormatOptions()) == 1
    assert unlabelled_left_out(dataset, fmt, FormatOptions(unlabelled="thing")) == 0
    images = FormatOptions(images=annotated.path.parent)  # type: ignore[union-attr]
    skipped = read_dataset(_export(annotated, tmp_path, fmt), options=images)
    assert "object" not in skipped.label_names()
    assert sum(len(item.objects) for item in skipped.items) == 2
    named = read_dataset(_export(annotated, tmp_path, fmt, unlabelled="thing"), options=images)
    assert "thing" in named.label_names()
    assert sum(len(item.objects) for item in named.items) == 3


@pytest.mark.parametrize("fmt", ["rle", "png", "project"])
def test_formats_that_can_say_no_label_keep_unlabelled_objects(annotated: Project, tmp_path: Path, fmt: str) -> None:
    dataset = dataset_from_project(annotated)
    assert unlabelled_left_out(dataset, fmt, FormatOptions()) == 0
    back = read_dataset(_export(annotated, tmp_path, fmt))
    assert [obj.label for obj in back.items[0].objects] == ["cat", None]


def test_the_report_names_a_few_missing_images_then_counts() -> None:
    report = ImportReport(
        masks=3, objects=2, items_matched=1, missing=tuple(f"{n}.png" for n in range(8)), items_annotated=1
    )
    assert report.missing_text() == "0.png, 1.png, 2.png, 3.png, 4.png and 3 more"
    assert report.summary().startswith("imported 3 masks (2 objects) on 1 image; 8 images not found")
    assert ImportReport(masks=1, objects=1, items_annotated=1).summary() == "imported 1 mask (1 object) on 1 image"


def test_what_a_reader_skipped_reaches_the_import_report() -> None:
    project = Project.in_memory()
    dataset = Dataset()
    dataset.skip(3, "box-only annotations (no mask)", "/data/train.json")
    dataset.skip(0, "crowd regions", "/data/train.json")  # nothing skipped: no line
    report = import_dataset(project, dataset, "train.json")
    assert report.skipped == ("3 box-only annotations (no mask) in train.json",)
    assert report.summary().endswith("; skipped 3 box-only annotations (no mask) in train.json")
