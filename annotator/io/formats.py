"""The format table: names, detection, and read / write / convert between any pair.

Every reader returns a fully checked Dataset (a bad input raises FormatError and yields
nothing); every writer takes a Dataset. `convert` is what `annotator convert` runs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from annotator.document.project import Project
from annotator.errors import FormatError
from annotator.io.coco import CocoOptions, read_coco, write_coco
from annotator.io.common import Progress, load_json, no_progress
from annotator.io.dataset import Dataset
from annotator.io.embedded import extract_for_import, extract_for_output
from annotator.io.labelme import LabelmeOptions, is_labelme, read_labelme, write_labelme
from annotator.io.matching import media_root
from annotator.io.png_masks import LABEL_MAP_FILE, PngImportOptions, read_png_masks, write_png_masks
from annotator.io.polygons import DEFAULT_TOLERANCE
from annotator.io.project_io import (
    ImportReport,
    dataset_from_project,
    import_dataset,
    read_project,
    refuse_existing_project,
    write_project,
)
from annotator.io.rle_json import FORMAT as RLE_FORMAT
from annotator.io.rle_json import read_rle_json, write_rle_json
from annotator.io.track_convert import ONLY_TRACKS, TRACK_READABLE, convert_tracks, detect_track_format
from annotator.io.track_convert import is_track_conversion as is_track_conversion
from annotator.io.tracks import write_mot, write_mot_gt, write_point_tracks
from annotator.io.voc import is_semantic_folder
from annotator.io.yolo import read_yolo, write_yolo
from annotator.io.yolo_layout import YAML_SUFFIXES, looks_like_yolo
from annotator.io.ytvis import read_ytvis, write_ytvis

log = logging.getLogger(__name__)

READABLE = ("project", "coco", "ytvis", "labelme", "rle", "png", "semantic", "yolo")
WRITABLE = (*READABLE, "mot", "mot-gt", "points")
"""Formats of masks (a Dataset); the box and point track formats are in annotator/io/track_convert.py."""
CONVERT_READABLE = (*READABLE, *(f for f in TRACK_READABLE if f not in READABLE))
CONVERT_WRITABLE = (*WRITABLE, *(f for f in ONLY_TRACKS if f not in WRITABLE))
NEEDS_LABEL = ("coco", "ytvis", "labelme", "yolo", "semantic", "mot-gt")
"""Formats in which every object needs a class: there an object without a label is left out or named."""
KEEPS_CROWD = ("coco", "project")
"""Formats that keep crowd regions (COCO iscrowd 1; a project as objects named dataset.CROWD_NAME);
the others leave them out and say how many."""
PROJECT_SUFFIX = ".annot"
FILE_OUTPUTS = ("project", "coco", "ytvis", "rle")
"""Formats written as one file; the others are written into a folder."""


@dataclass(frozen=True)
class FormatOptions:
    """Options of the readers and writers (each format uses the ones that concern it).

    `images` is the image root: writers name media relative to it (default: the dataset's root,
    the project's folder; labelme names them from each JSON file, as labelme does); readers look
    image references up below it and pair PNG / YOLO files with its images by stem. `unlabelled`:
    in the NEEDS_LABEL formats, objects without a label are left out (None) or exported under this
    label name. `categories`: a COCO file whose category ids a COCO export gives labels of the same
    name (a project keeps no ids).
    """

    segmentation: Literal["rle", "polygon"] = "rle"
    tolerance: float = DEFAULT_TOLERANCE
    labelme_shapes: Literal["polygon", "mask"] = "polygon"
    images: Path | None = None
    video: bool = False
    check_media: bool = True
    unlabelled: str | None = None
    categories: Path | None = None
    append: bool = False
    """Project output: add to an existing project file (else an existing file is refused)."""


def without_crowd(dataset: Dataset, fmt: str, where: str | Path) -> Dataset:
    """The dataset as format `fmt` gets it: crowd regions left out (and counted) unless it keeps them."""
    return dataset if fmt in KEEPS_CROWD else dataset.without_crowd(where, f"{fmt} has no crowd flag")


def unlabelled_left_out(dataset: Dataset, fmt: str, options: FormatOptions) -> int:
    """How many objects an export of `dataset` as `fmt` leaves out for having no label."""
    return dataset.unlabelled_count() if fmt in NEEDS_LABEL and not (options.unlabelled or "").strip() else 0


def _detect_json(path: Path) -> str:
    data = load_json(path)
    if isinstance(data, dict):
        if data.get("format") == RLE_FORMAT:
            return "rle"
        if "shapes" in data and "imagePath" in data:
            return "labelme"
        annotations = data.get("annotations")
        if isinstance(annotations, list) and "videos" in data and "images" not in data:
            return "ytvis"
        if "images" in data and isinstance(annotations, list):
            return "coco"
    raise FormatError(path, "", "is JSON of no known annotation format (give --from)")


def _holds_labelme(path: Path, peek: int = 20) -> bool:
    """True when one of the first JSON files in `path` (or one level down) is a labelme file: labelme
    keeps its files beside the images, which may be PNGs, so this goes before the PNG-mask test."""
    for json_file in [*sorted(path.glob("*.json")), *sorted(path.glob("*/*.json"))][:peek]:
        try:
            if is_labelme(load_json(json_file)):
                return True
        except FormatError:
            continue
    return False


def _detect_folder(path: Path) -> str:
    if (path / LABEL_MAP_FILE).is_file():
        return "semantic"
    if _holds_labelme(path):
        return "labelme"
    if looks_like_yolo(path):  # before PNG: a YOLO dataset's images may be PNGs
        return "yolo"
    if any(path.glob("*.png")) or any(path.glob("*/*.png")):
        return "semantic" if is_semantic_folder(path) else "png"  # by VOC's and labelme's conventions
    if any(path.glob("*.json")) or any(path.glob("*/*.json")):
        return "labelme"
    raise FormatError(path, "", "holds no annotations of a known format (give --from)")


def detect_format(path: Path) -> str:
    """The format name of a file or folder (FormatError when it cannot be told)."""
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "", "does not exist")
    if path.is_dir():
        return detect_track_format(path) or _detect_folder(path)
    if path.suffix == PROJECT_SUFFIX:
        return "project"
    with path.open("rb") as handle:
        if handle.read(16) == b"SQLite format 3\x00":
            return "project"
    track = detect_track_format(path)
    if track is not None:
        return track
    if path.suffix.lower() == ".json":
        return _detect_json(path)
    if path.suffix.lower() in YAML_SUFFIXES:
        return "yolo"
    raise FormatError(path, "", "is of no known annotation format (give --from)")


def read_dataset(
    path: Path, fmt: str | None = None, options: FormatOptions = FormatOptions(), progress: Progress = no_progress
) -> Dataset:
    """Read annotations of format `fmt` (detected when None) into a checked Dataset.

    Media paths come out absolute: a relative `path` or `options.images` is taken from the current
    directory once, here, so nothing later depends on where the command ran.
    """
    path = Path(os.path.abspath(path))
    if options.images is not None:
        options = replace(options, images=Path(os.path.abspath(options.images)))
    fmt = fmt or detect_format(path)
    if fmt == "project":
        return read_project(path)
    if fmt == "coco":
        return read_coco(path, options.images, options.check_media)
    if fmt == "ytvis":
        return read_ytvis(path, options.images, options.check_media)
    if fmt == "labelme":
        return read_labelme(path, options.check_media, progress, options.images)
    if fmt == "rle":
        return read_rle_json(path, options.images)
    if fmt in ("png", "semantic"):
        mode = "semantic" if fmt == "semantic" else "instance"
        png = PngImportOptions(options.images, mode, options.video, options.check_media)
        return read_png_masks(path, png, progress)
    if fmt == "yolo":
        return read_yolo(path, options.images, progress, options.check_media)
    raise FormatError(path, "", f"cannot read the format '{fmt}' (readable: {', '.join(READABLE)})")


def write_dataset(
    dataset: Dataset, out: Path, fmt: str, options: FormatOptions = FormatOptions(), progress: Progress = no_progress
) -> Path:
    """Write a Dataset as format `fmt` to `out` (a file for project/coco/ytvis/rle, else a folder).

    Media are named relative to `options.images` (default: the dataset's root); objects without
    a label follow `options.unlabelled` in the formats that need a class.
    """
    out = Path(out)
    coco = CocoOptions(options.segmentation, options.tolerance, options.categories)
    root = options.images
    dataset = without_crowd(dataset, fmt, out)
    if fmt in NEEDS_LABEL:
        dataset = dataset.with_unlabelled(options.unlabelled)
    if fmt == "project":
        return write_project(dataset, out, progress, options.append)
    if fmt == "coco":
        return write_coco(dataset, out, coco, progress, root)
    if fmt == "ytvis":
        return write_ytvis(dataset, out, coco, progress, root)
    if fmt == "rle":
        return write_rle_json(dataset, out, progress, root)
    if fmt == "labelme":
        write_labelme(dataset, out, LabelmeOptions(options.labelme_shapes, options.tolerance), progress)
        return out
    if fmt in ("png", "semantic"):
        return write_png_masks(dataset, out, "semantic" if fmt == "semantic" else "instance", progress, root)
    if fmt == "yolo":
        return write_yolo(dataset, out, options.tolerance, progress, root)
    if fmt == "mot":
        return write_mot(dataset, out, progress)
    if fmt == "mot-gt":
        return write_mot_gt(dataset, out, progress)
    if fmt == "points":
        return write_point_tracks(dataset, out, progress)
    raise FormatError(out, "", f"cannot write the format '{fmt}' (writable: {', '.join(WRITABLE)})")


def convert(
    src: Path,
    out: Path,
    to: str,
    src_format: str | None = None,
    options: FormatOptions = FormatOptions(),
    progress: Progress = no_progress,
    skipped: list[str] | None = None,
) -> tuple[str, int]:
    """Convert `src` to format `to` at `out`; returns (the source format, the number of masks read).

    What was left out (the reader's `Dataset.skipped`, objects without a label) is logged and, when
    `skipped` is given, appended to it, one line per reason.
    """
    fmt = src_format or detect_format(Path(src))
    if is_track_conversion(Path(src), fmt, to):
        return fmt, convert_tracks(Path(src), fmt, Path(out), to, options.images)
    if to not in WRITABLE:
        raise FormatError(out, "", f"cannot write the format '{to}' (writable: {', '.join(WRITABLE)})")
    if to == "project" and not options.append:
        refuse_existing_project(Path(out))  # before the (possibly long) read
    dataset = without_crowd(read_dataset(Path(src), fmt, options, progress), to, src)
    extract_for_output(dataset, _beside(Path(out), to))
    lines = list(dataset.skipped)
    if dataset.missing:  # with --no-check-media: annotations whose image is not there
        shown = ", ".join(dataset.missing[:5]) + (
            f" and {len(dataset.missing) - 5} more" if len(dataset.missing) > 5 else ""
        )
        lines.append(f"{len(dataset.missing)} annotated images not found (left out: {shown}) in {Path(src).name}")
    left_out = unlabelled_left_out(dataset, to, options)
    if left_out:
        lines.append(f"{left_out} objects without a label (the format needs one; see --unlabelled) in {Path(src).name}")
    for line in lines:
        log.warning("skipped %s", line)
    if skipped is not None:
        skipped.extend(lines)
    write_dataset(dataset, Path(out), to, options, progress)
    return fmt, dataset.mask_count()


def _beside(out: Path, fmt: str) -> Path:
    """The folder that images embedded in the source go to: the output folder (a YOLO one's images/),
    else the output file's folder."""
    if fmt in FILE_OUTPUTS:
        return out.parent
    return out / "images" if fmt == "yolo" else out


def export_project(
    project: Project,
    out: Path,
    fmt: str,
    options: FormatOptions = FormatOptions(),
    progress: Progress = no_progress,
    item_ids: list[int] | None = None,
) -> Path:
    """Export a project (or some of its items) as format `fmt` to `out` (the project is only read)."""
    return write_dataset(dataset_from_project(project, item_ids), Path(out), fmt, options, progress)


def import_options(project: Project, options: FormatOptions = FormatOptions()) -> FormatOptions:
    """Reader options for an import into `project`: images looked up below its media folder, absent ones reported."""
    images = options.images or media_root(project)
    return replace(options, images=images, check_media=False)


def import_annotations(
    project: Project,
    src: Path,
    fmt: str | None = None,
    options: FormatOptions = FormatOptions(),
    progress: Progress = no_progress,
    strict: bool = False,
) -> ImportReport:
    """Read `src` completely, match and check it, then add it to the project as one undoable step.

    Images of `src` that the project's folder lacks are skipped and reported, or with `strict`
    refuse the import.
    """
    dataset = read_dataset(Path(src), fmt, import_options(project, options), progress)
    extract_for_import(project, dataset)
    return import_dataset(project, dataset, str(src), progress, strict)
