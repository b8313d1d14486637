"""Journeys through File > Export and File > Import Annotations: every format out of one folder and
back into a fresh folder that holds a copy of the same images.

The person annotates folder A, exports in each format, copies the images (not the annotations)
to a new folder B, opens B in a second window and imports the export. B must then list each
image once, with the same objects, labels and masks, and its project file must hold no
duplicate item. With an image missing from B, the import takes the rest and says which image it
skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox, QWidget
from pytestqt.exceptions import TimeoutError
from scenario_driver import User, accept, shape_centre, write_images

from annotator.document import Project
from annotator.views.export_dialog import ExportDialog, ImportDialog

pytestmark = pytest.mark.gui

Objects = dict[str, list[tuple[str | None, np.ndarray]]]
"""{image name: [(label name, full mask)]} as a project file holds them."""


@dataclass(frozen=True)
class Promise:
    """What a round trip through one format keeps: masks to `min_iou`, and objects as instances or not."""

    fmt: str
    polygons: bool = False
    labelme_masks: bool = False
    suffix: str = ""
    min_iou: float = 1.0
    instances: bool = True


ROUND_TRIPS = {
    "coco (RLE)": Promise("coco", suffix=".json"),
    "coco (polygons)": Promise("coco", polygons=True, suffix=".json", min_iou=0.95),
    "ytvis": Promise("ytvis", suffix=".json"),
    "labelme (polygons)": Promise("labelme", min_iou=0.95),
    "labelme (masks)": Promise("labelme", labelme_masks=True),
    "rle": Promise("rle", suffix=".json"),
    "png": Promise("png"),
    "project": Promise("project", suffix=".annot"),
    # One object per label and image: only the union of each label's objects comes back.
    "semantic": Promise("semantic", instances=False),
    # Polygons, one line per object (its parts joined): each object comes back, close to the original.
    "yolo": Promise("yolo", min_iou=0.95),
}


# -- what the person sees -------------------------------------------------------------------------
def image_rows(user: User) -> list[str]:
    """The names in the Images list, as shown (without the done mark)."""
    navigator = user.window.navigator
    return [navigator.item(row).text().strip(" ✔") for row in range(navigator.count())]


def status_messages(user: User) -> list[str]:
    """Every message the status bar shows from now on (a later one may replace it within milliseconds)."""
    shown: list[str] = []
    user.window.statusBar().messageChanged.connect(shown.append)
    return shown


def import_messages(user: User) -> list[str]:
    """The texts of the import's messages that are open now."""
    boxes = user.window.findChildren(QMessageBox, "import_report")
    return [f"{box.text()} {box.informativeText()}" for box in boxes if box.isVisible()]


# -- what lands on disk ---------------------------------------------------------------------------
def objects_on_disk(project_file: Path) -> Objects:
    """Each item's objects as the project file holds them, read as another program would."""
    project = Project.open(project_file)
    try:
        result: Objects = {}
        for item in project.items:
            entries = result.setdefault(item.name, [])
            for obj in project.objects(item.id):
                mask = project.mask(obj.id)
                label = project.label(obj.label_id).name if obj.label_id is not None else None
                entries.append((label, mask.to_array() if mask is not None else np.zeros(0, bool)))
        return result
    finally:
        project.close()


def item_paths(project_file: Path) -> list[str]:
    """The stored paths of the project's items."""
    project = Project.open(project_file)
    try:
        return [item.path for item in project.items]
    finally:
        project.close()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks of one size (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def by_label(objects: list[tuple[str | None, np.ndarray]]) -> dict[str | None, np.ndarray]:
    """The union mask of each label's objects."""
    unions: dict[str | None, np.ndarray] = {}
    for label, mask in objects:
        unions[label] = unions.get(label, np.zeros_like(mask)) | mask
    return unions


def differences(expected: Objects, actual: Objects, promise: Promise) -> list[str]:
    """What differs between two projects' objects, beyond what the format promises ([] when nothing)."""
    problems = []
    for name, wanted in expected.items():
        got = actual.get(name, [])
        if promise.instances:
            if sorted(str(label) for label, _ in got) != sorted(str(label) for label, _ in wanted):
                problems.append(f"{name}: labels {[g for g, _ in got]} instead of {[w for w, _ in wanted]}")
                continue
            for label, mask in wanted:
                best = max((iou(mask, other) for other_label, other in got if other_label == label), default=0.0)
                if best < promise.min_iou:
                    problems.append(f"{name}: a '{label}' mask comes back with IoU {best:.3f}")
        else:
            unions, theirs = by_label(wanted), by_label(got)
            if set(theirs) != set(unions):
                problems.append(f"{name}: labels {sorted(map(str, theirs))} instead of {sorted(map(str, unions))}")
                continue
            for label, mask in unions.items():
                score = iou(mask, theirs[label])
                if score < promise.min_iou:
                    problems.append(f"{name}: the '{label}' masks come back with IoU {score:.3f}")
    return problems


# -- answers to the dialogs -----------------------------------------------------------------------
def press_ok(dialog: QWidget) -> None:
    """Press the dialog's OK button."""
    buttons = dialog.findChild(QDialogButtonBox)
    buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def export_answer(promise: Promise, out: Path, include_unlabelled: bool | None = None) -> Callable[[QWidget], None]:
    """Fill the export dialog in: format, polygons, destination (and unlabelled objects), then OK."""

    def answer(dialog: QWidget) -> None:
        assert isinstance(dialog, ExportDialog), f"expected the export dialog, got {dialog!r}"
        dialog.format_box.setCurrentIndex(dialog.format_box.findData(promise.fmt))
        dialog.polygons.setChecked(promise.polygons)
        dialog.labelme_masks.setChecked(promise.labelme_masks)
        if include_unlabelled is not None:
            dialog.include_unlabelled.setChecked(include_unlabelled)
        dialog.path_edit.setText(str(out))
        press_ok(dialog)

    return answer


def import_answer(
    path: Path, strict: bool = False, then: Callable[[], None] | None = None
) -> Callable[[QWidget], None]:
    """Fill the import dialog in: the export's path, format detected, strict or not, then OK."""

    def answer(dialog: QWidget) -> None:
        assert isinstance(dialog, ImportDialog), f"expected the import dialog, got {dialog!r}"
        dialog.path_edit.setText(str(path))
        dialog.format_box.setCurrentIndex(0)  # detect
        dialog.strict.setChecked(strict)
        press_ok(dialog)
        if then is not None:
            then()

    return answer


# -- journeys -------------------------------------------------------------------------------------
def load_label_set(user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File > Load Label Set… with 'cat' and 'dog', answering the file dialog."""
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(labels), ""))
    user.choose_menu("File", "Load Label Set")
    user.wait(lambda: len(user.label_rows()) == 2)


def make_object(user: User, shape: int, key: Qt.Key | None, count: int) -> None:
    """Start a new object, click a shape, and give it the label of number `key` (None: no label)."""
    labelled = sum("[" in row for row in user.object_rows())
    user.key(Qt.Key.Key_N, widget=user.canvas_view)
    user.click(*shape_centre(shape))
    user.wait(lambda: len(user.object_rows()) == count)
    user.wait_idle()
    if key is not None:
        user.key(key, widget=user.canvas_view)
        user.wait(lambda: sum("[" in row for row in user.object_rows()) == labelled + 1)


def annotate(
    launch: Callable[..., User], folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unlabelled: bool = False
) -> User:
    """Two images of `folder` annotated: (one without a label,) cat and dog on the first, cat on the second."""
    user = launch(folder)
    user.wait_ready()
    load_label_set(user, tmp_path, monkeypatch)
    if unlabelled:  # before any label is given: after that, new objects take the last label given
        make_object(user, 3, None, 1)
    make_object(user, 0, Qt.Key.Key_1, 1 + unlabelled)
    make_object(user, 1, Qt.Key.Key_2, 2 + unlabelled)
    user.choose_menu("Navigate", "Next Image")
    user.wait_ready()
    make_object(user, 2, Qt.Key.Key_1, 1)
    return user


def export(user: User, promise: Promise, out: Path, include_unlabelled: bool | None = None) -> str:
    """File > Export…, answered; waits until the status bar says the export is written, and returns what it said."""
    shown = status_messages(user)
    user.answer_next_dialog(export_answer(promise, out, include_unlabelled))
    user.choose_menu("File", "Export")
    try:
        user.wait(lambda: any(f"exported to {out}" in text for text in shown), timeout=20000)
    except TimeoutError as error:
        raise AssertionError(f"the status bar never said 'exported to {out}'; it said {shown}") from error
    return next(text for text in shown if f"exported to {out}" in text)


def fresh_copy(images: list[Path], folder: Path) -> Path:
    """A new folder with copies of the images and nothing else."""
    folder.mkdir(parents=True)
    for image in images:
        shutil.copy2(image, folder / image.name)
    return folder


def test_every_format_round_trips_into_a_fresh_folder_of_the_same_images(
    launch: Callable[..., User], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder_a = tmp_path / "A"
    images = write_images(folder_a, 2)
    user = annotate(launch, folder_a, tmp_path, monkeypatch)
    expected = objects_on_disk(folder_a / "annotations.annot")
    assert [len(expected[image.name]) for image in images] == [2, 1]
    failures: dict[str, list[str]] = {}
    warnings: list[str] = []  # an import that fails says why in a warning, answered here
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *rest: warnings.append(text))
    for number, (name, promise) in enumerate(ROUND_TRIPS.items()):
        out = folder_a / "exports" / f"{number}-{promise.fmt}{promise.suffix}"
        export(user, promise, out)
        folder_b = fresh_copy(images, tmp_path / f"B{number}")
        other = launch(folder_b)
        other.wait_ready()
        other.answer_next_dialog(import_answer(out))
        other.choose_menu("File", "Import Annotations")
        other.wait(lambda other=other: other.object_rows() or warnings)
        problems = list(warnings)
        warnings.clear()
        if image_rows(other) != [image.name for image in images]:
            problems.append(f"the Images list shows {image_rows(other)}")
        if len(other.object_rows()) != len(expected[images[0].name]) and promise.instances:
            problems.append(f"the Objects list of the first image shows {other.object_rows()}")
        paths = item_paths(folder_b / "annotations.annot")
        if sorted(paths) != [image.name for image in images]:
            problems.append(f"the project file holds the items {paths}")
        problems += differences(expected, objects_on_disk(folder_b / "annotations.annot"), promise)
        if import_messages(other):
            problems.append(f"the import reported {import_messages(other)}")
        if problems:
            failures[name] = problems
        other.window.close()
    assert not failures, failures


def test_an_image_missing_from_the_fresh_folder_is_skipped_and_named(
    launch: Callable[..., User], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder_a = tmp_path / "A"
    images = write_images(folder_a, 2)
    user = annotate(launch, folder_a, tmp_path, monkeypatch)
    out = folder_a / "exports" / "coco.json"
    export(user, ROUND_TRIPS["coco (RLE)"], out)
    folder_b = fresh_copy(images[:1], tmp_path / "B")
    other = launch(folder_b)
    other.wait_ready()
    # Strict: the whole import is refused, with the missing image named.
    refusal: list[list[str]] = []
    other.answer_next_dialog(
        import_answer(out, strict=True, then=lambda: refusal.append(other.answer_next_dialog(accept)))
    )
    other.choose_menu("File", "Import Annotations")
    other.wait(lambda: refusal and refusal[0])
    assert "photo_02.png" in refusal[0][0] and "strict" in refusal[0][0]
    project_file = folder_b / "annotations.annot"  # written at the first edit: a refused import is none
    assert not project_file.exists() or objects_on_disk(project_file) == {"photo_01.png": []}
    assert other.object_rows() == []
    # Not strict: the image that is there gets its objects; the person reads which one was skipped.
    other.answer_next_dialog(import_answer(out))
    other.choose_menu("File", "Import Annotations")
    other.wait(lambda: import_messages(other))
    assert len(other.object_rows()) == 2
    [message] = import_messages(other)
    assert "photo_02.png" in message and "skipped" in message
    # The status bar says what came in, and still does once the image on screen is ready again.
    other.wait(lambda: other.status().startswith("Imported 2 masks (2 objects) on 1 image"))
    other.wait_idle()
    other.qtbot.wait(300)
    assert other.status().startswith("Imported 2 masks (2 objects) on 1 image; 1 image not found")
    assert image_rows(other) == ["photo_01.png"]
    assert item_paths(folder_b / "annotations.annot") == ["photo_01.png"]
    got = objects_on_disk(folder_b / "annotations.annot")
    expected = objects_on_disk(folder_a / "annotations.annot")
    assert differences({"photo_01.png": expected["photo_01.png"]}, got, ROUND_TRIPS["coco (RLE)"]) == []


def test_objects_without_a_label_are_left_out_unless_included_under_a_name_the_person_sees(
    launch: Callable[..., User], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    folder_a = tmp_path / "A"
    write_images(folder_a, 2)
    user = annotate(launch, folder_a, tmp_path, monkeypatch, unlabelled=True)
    seen: list[str] = []

    def look_then_answer(dialog: QWidget) -> None:
        assert isinstance(dialog, ExportDialog)
        dialog.format_box.setCurrentIndex(dialog.format_box.findData("coco"))
        seen.append(dialog.unlabelled_info.text())
        export_answer(ROUND_TRIPS["coco (RLE)"], folder_a / "left_out.json", include_unlabelled=False)(dialog)

    shown = status_messages(user)
    user.answer_next_dialog(look_then_answer)
    user.choose_menu("File", "Export")
    user.wait(lambda: any("exported to" in text for text in shown), timeout=20000)
    assert "1 object without a label" in seen[0]
    assert any("1 object without a label was left out" in text for text in shown)
    data = json.loads((folder_a / "left_out.json").read_text())
    assert {c["name"] for c in data["categories"]} == {"cat", "dog"} and len(data["annotations"]) == 3
    assert {image["file_name"] for image in data["images"]} == {"photo_01.png", "photo_02.png"}
    export(user, ROUND_TRIPS["coco (RLE)"], folder_a / "included.json", include_unlabelled=True)
    data = json.loads((folder_a / "included.json").read_text())
    assert {c["name"] for c in data["categories"]} == {"cat", "dog", "object"} and len(data["annotations"]) == 4


def test_the_dialogs_remember_the_last_format_destination_options_and_folder(
    launch: Callable[..., User], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder_a = tmp_path / "A"
    write_images(folder_a, 1)
    user = launch(folder_a)
    user.wait_ready()
    out = tmp_path / "elsewhere" / "masks"
    export(user, ROUND_TRIPS["labelme (masks)"], out)
    shown: list[tuple[str, str, bool]] = []

    def look_and_cancel(dialog: QWidget) -> None:
        assert isinstance(dialog, ExportDialog)
        shown.append((dialog.fmt, dialog.path_edit.text(), dialog.labelme_masks.isChecked()))
        dialog.reject()

    user.answer_next_dialog(look_and_cancel)
    user.choose_menu("File", "Export")
    user.wait(lambda: shown)
    assert shown == [("labelme", str(out), True)]
    # Another project remembers the format, not this project's destination.
    other = launch(fresh_copy([folder_a / "photo_01.png"], tmp_path / "B"))
    other.wait_ready()
    other.answer_next_dialog(look_and_cancel)
    other.choose_menu("File", "Export")
    other.wait(lambda: len(shown) == 2)
    assert shown[1][0] == "labelme" and shown[1][1] != str(out)
    # The import dialog opens where the last import came from.
    other.answer_next_dialog(import_answer(out))
    other.choose_menu("File", "Import Annotations")
    other.wait(lambda: other.object_rows() == [])
    folders: list[str] = []

    def look_at_import(dialog: QWidget) -> None:
        assert isinstance(dialog, ImportDialog)
        folders.append(dialog.folder)
        dialog.reject()

    other.answer_next_dialog(look_at_import)
    other.choose_menu("File", "Import Annotations")
    other.wait(lambda: folders)
    assert folders == [str(out)]
