"""Index PNG masks (DAVIS style) and the semantic variant, with a palette.

Instance PNGs: one 8-bit palette PNG per image (OUT/STEM.png) or per video frame
(OUT/STEM/00000.png); pixel value k is the k-th object of the item (1-based, layer order, a
later object drawn over an earlier one), 0 is background; palette colours are the objects'.
`objects.json` beside them records each item's media (named below the image root, the project's
folder: see `common.image_ref`) and each index's name and label.
Semantic PNGs: pixel value = label index (1-based, label order; 0 = background or no label),
with `label_map.json` ({"0": "background", "1": "cat", ...}) and the labels' colours as palette.
Semantic PNGs leave objects without a label out (`Dataset.with_unlabelled` names them first when
the user asks); instance PNGs keep them, unlabelled.
Import: every non-zero value of a PNG is one object (semantic: one object per label); a PNG is
paired with the media objects.json names (below the images folder given as an option, else the
PNG folder or one above it), else with the image of the same stem in the images folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from annotator.document.mask import Mask
from annotator.document.model import Color, palette_color
from annotator.errors import FormatError
from annotator.io.common import (
    MEDIA_HINT,
    MediaLookup,
    Progress,
    Reader,
    image_ref,
    load_json,
    no_progress,
    write_json_atomic,
)
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData, image_root, label_index
from annotator.io.media import IMAGE_SUFFIXES, image_size, list_images
from annotator.io.voc import (
    BACKGROUND_NAMES,
    VOID,
    default_images,
    is_semantic_folder,
    mask_folder,
    semantic_names,
)

log = logging.getLogger(__name__)

PngMode = Literal["instance", "semantic"]
OBJECTS_FILE = "objects.json"
LABEL_MAP_FILE = "label_map.json"


def palette_bytes(colors: list[Color | None]) -> list[int]:
    """A 768-entry PIL palette: index 0 black, index k the k-th colour (palette colour when None)."""
    flat = [0, 0, 0]
    for index, color in enumerate(colors[:255]):
        flat.extend(color if color is not None else palette_color(index))
    return flat + [0] * (768 - len(flat))


def write_index_png(path: Path, indices: np.ndarray, palette: list[int]) -> None:
    """Save an HxW uint8 index array as a palette PNG."""
    image = Image.fromarray(indices.astype(np.uint8), mode="P")
    image.putpalette(palette)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)


def _frame_indices(item: ItemData, frame: int, values: list[int]) -> np.ndarray:
    canvas = np.zeros((item.height, item.width), np.uint8)
    for obj, value in zip(item.objects, values, strict=True):
        mask = obj.masks.get(frame)
        if mask is not None and value and not mask.is_empty:
            x0, y0, x1, y1 = mask.bbox
            canvas[y0:y1, x0:x1][mask.crop] = value
    return canvas


def _png_path(out: Path, item: ItemData, frame: int) -> Path:
    if item.kind == "image":
        return out / f"{item.stem}.png"
    name = Path(item.frame_names[frame]).stem if item.frame_names and frame < len(item.frame_names) else f"{frame:05d}"
    return out / item.stem / f"{name}.png"


def write_png_masks(
    dataset: Dataset,
    out: Path,
    mode: PngMode = "instance",
    progress: Progress = no_progress,
    root: Path | None = None,
) -> Path:
    """Write one index PNG per image / video frame into folder `out`, plus the sidecar (media named below `root`)."""
    out = Path(out)
    folder = image_root(dataset, root, out)
    labels = label_index(dataset)
    too_many = len(labels) > 255 if mode == "semantic" else any(len(i.objects) > 255 for i in dataset.items)
    if too_many:
        raise FormatError(out, "", "an index PNG holds at most 255 objects or labels")
    sidecar: dict = {"mode": mode, "items": []}
    label_palette = palette_bytes([label.color for label in dataset.labels])
    total = sum(item.frame_count for item in dataset.items)
    done = 0
    for item in dataset.items:
        if mode == "instance":
            values = list(range(1, len(item.objects) + 1))
            palette = palette_bytes([obj.color for obj in item.objects])
        else:
            values = [labels.get(obj.label, 0) if obj.label else 0 for obj in item.objects]
            palette = label_palette
        for frame in range(item.frame_count):
            write_index_png(_png_path(out, item, frame), _frame_indices(item, frame, values), palette)
            done += 1
            progress(done, total)
        objects = [{"index": v, "name": o.name, "label": o.label} for o, v in zip(item.objects, values, strict=True)]
        entry = {"png": _png_path(out, item, 0).relative_to(out).as_posix(), "path": image_ref(item.path, folder)}
        entry.update(kind=item.kind, frame_count=item.frame_count, fps=item.fps, objects=objects)
        sidecar["items"].append(entry)
    if mode == "semantic":
        names = {"0": "background", **{str(v): name for name, v in labels.items()}}
        write_json_atomic(out / LABEL_MAP_FILE, names, indent=1)
    write_json_atomic(out / OBJECTS_FILE, sidecar, indent=1)
    return out


# -- import --------------------------------------------------------------------------------------


def read_index_png(path: Path) -> np.ndarray:
    """The HxW index array of a PNG (palette or grayscale); FormatError when it is neither."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L", "1", "I;16", "I"):
                raise FormatError(path, "", f"is a {image.mode} image, not an index (palette or grayscale) PNG")
            return np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise FormatError(path, "", f"cannot be read as a PNG ({error})") from error


def find_image(folder: Path, stem: str) -> Path | None:
    """The image file named STEM.<image suffix> in `folder`, or None."""
    for suffix in sorted(IMAGE_SUFFIXES):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


@dataclass(frozen=True)
class PngImportOptions:
    """Import options: `images` folder (the image root; media paired by stem there), mode, `video` (SRC is one
    video), and `check_media` (False: a PNG whose media is absent is kept (its name known) or listed in
    `Dataset.missing`, for the import to report)."""

    images: Path | None = None
    mode: PngMode | None = None
    video: bool = False
    check_media: bool = True


def _sidecar(src: Path) -> dict[str, dict]:
    """Sidecar entries by PNG path (relative to `src`), when objects.json is there and valid."""
    path = src / OBJECTS_FILE
    if not path.is_file():
        return {}
    reader = Reader(path)
    data = reader.check(load_json(path), dict, "")
    entries = {}
    for index, raw in enumerate(reader.get(data, "items", list, "")):
        entry = reader.check(raw, dict, f"items[{index}]")
        reader.get(entry, "path", str, f"items[{index}]")
        for j, obj in enumerate(reader.opt(entry, "objects", list, f"items[{index}]", [])):
            where = f"items[{index}].objects[{j}]"
            reader.check(obj, dict, where)
            reader.integer(reader.get(obj, "index", int, where), f"{where}.index", minimum=0)
        entries[reader.get(entry, "png", str, f"items[{index}]")] = entry
    return entries


def _label_map(src: Path) -> dict[int, str]:
    path = src / LABEL_MAP_FILE
    if not path.is_file():
        return {}
    reader = Reader(path)
    data = reader.check(load_json(path), dict, "")
    result = {}
    for key, value in data.items():
        if not key.isdigit():
            raise reader.fail(key, "label map keys must be pixel values (0-255)")
        result[int(key)] = reader.check(value, str, key)
    return result


def _groups(src: Path, video: bool, sidecar: dict[str, dict]) -> list[tuple[str, str, list[Path]]]:
    """(kind, stem, PNG files) of each item found under `src`.

    A subfolder is a video when objects.json says so or, without it, when it holds two or more PNGs
    all named by frame numbers (00000.png ...: DAVIS, our export); else its PNGs are images, named
    below it (`train/a`), as in a dataset split into folders.
    """
    if video:
        return [("video", src.name, sorted(src.glob("*.png")))]
    groups: list[tuple[str, str, list[Path]]] = [("image", p.stem, [p]) for p in sorted(src.glob("*.png"))]
    for folder in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        frames = sorted(folder.glob("*.png"))
        entry = sidecar.get(frames[0].relative_to(src).as_posix()) if frames else None
        numbered = len(frames) > 1 and all(p.stem.isdigit() for p in frames)
        if entry.get("kind") == "video" if entry is not None else numbered:
            groups.append(("video", folder.name, frames))
        else:
            groups.extend(("image", f"{folder.name}/{p.stem}", [p]) for p in frames)
    return groups


def _media_for(
    kind: str, stem: str, first: Path, src: Path, options: PngImportOptions, sidecar: dict, lookup: MediaLookup
) -> tuple[Path | None, str | None]:
    """The media of a PNG group (None when none is found) and the name objects.json gives it."""
    entry = sidecar.get(first.relative_to(src).as_posix())
    ref = str(entry["path"]) if entry is not None else None
    if ref is not None:
        found = lookup.find(ref, src)
        if found.exists() or options.images is None:
            return found, ref
    if options.images is None:
        raise FormatError(first, "", "no image to pair it with: give the images folder (--images)")
    images = Path(options.images)
    if kind == "video":
        folder = images if options.video else images / stem
        if not folder.is_dir():
            if options.check_media:
                raise FormatError(first, "", f"no frame folder for it at {folder}{MEDIA_HINT}")
            return None, ref
        return folder, ref
    found_by_stem = find_image(images, stem) or find_image(images, Path(stem).name)
    if found_by_stem is None and options.check_media:
        raise FormatError(first, "", f"no image named {stem}.* in the images folder {images}{MEDIA_HINT}")
    return found_by_stem, ref


def _objects_of(frames: list[np.ndarray], names: dict[int, tuple[str, str | None]]) -> list[ObjectData]:
    """One object per pixel value but 0 and void (255, unless `names` names it)."""
    values = sorted(set().union(*(np.unique(f).tolist() for f in frames)) - {0})
    objects = []
    for value in (v for v in values if v != VOID or VOID in names):
        name, label = names.get(value, (f"object {value}", None))
        masks = {i: Mask.from_array(f == value) for i, f in enumerate(frames) if (f == value).any()}
        objects.append(ObjectData(name, label, masks, track_id=value))
    return objects


def _frame_files(pngs: list[Path], folder: Path, check_media: bool) -> list[Path | None]:
    """The frame of each PNG in the frame folder: by stem, else by order when the folder has as many frames."""
    found = [find_image(folder, png.stem) for png in pngs]
    if not any(found):
        listed = list_images(folder)
        if len(listed) == len(pngs):
            return list(listed)
    for png, frame in zip(pngs, found, strict=True):
        if frame is None and check_media:
            raise FormatError(png, "", f"no frame named {png.stem}.* in the frame folder {folder}")
    return found


def _read_group(
    kind: str, pngs: list[Path], media: Path, ref: str | None, names: dict, options: PngImportOptions
) -> tuple[ItemData, bool]:
    """The item of one PNG group, its PNGs checked against each other and against their image or frames,
    and whether they hold void pixels that `names` does not name (left out)."""
    frames = [read_index_png(p) for p in pngs]
    height, width = frames[0].shape[:2]
    for png, frame in zip(pngs, frames, strict=True):
        if frame.shape != (height, width):
            raise FormatError(png, "", f"is {frame.shape[1]}x{frame.shape[0]}, not {width}x{height} like the first")
    item = ItemData(str(media), width, height, kind, len(frames), ref=ref)  # type: ignore[arg-type]
    if kind == "image" and (options.check_media or media.is_file()):
        _check_size(pngs[0], media, width, height)
    if kind == "video":
        files = _frame_files(pngs, media, options.check_media) if media.is_dir() else [None] * len(pngs)
        for png, frame_file in zip(pngs, files, strict=True):
            if frame_file is not None:
                _check_size(png, frame_file, width, height)
        # A frame's own name when it is there; else the PNG's stem with the usual frame suffix.
        item.frame_names = [f.name if f else f"{p.stem}.jpg" for p, f in zip(pngs, files, strict=True)]
    item.objects = _objects_of(frames, names)
    return item, VOID not in names and any((frame == VOID).any() for frame in frames)


def read_png_masks(
    src: Path, options: PngImportOptions = PngImportOptions(), progress: Progress = no_progress
) -> Dataset:
    """Read a folder of index PNGs (instance or semantic) into a Dataset, checking every file first.

    `src` may also be a VOC-style root (its SegmentationClassPNG/ ... folder is read, JPEGImages/
    are the images by default); semantic class names come from label_map.json, else `voc.semantic_names`.
    """
    src = mask_folder(Path(src))
    if not src.is_dir():
        raise FormatError(src, "", "is not a folder of PNG masks")
    if options.images is None and default_images(src) is not None:
        options = replace(options, images=default_images(src))
    sidecar = _sidecar(src)
    label_map = _label_map(src)
    mode = options.mode or ("semantic" if label_map or is_semantic_folder(src) else "instance")
    if mode == "semantic" and not label_map:
        label_map = semantic_names(src)
    dataset = Dataset()
    groups = _groups(src, options.video, sidecar)
    if not groups:
        raise FormatError(src, "", "holds no PNG masks")
    lookup = MediaLookup(options.images)
    void = 0
    for done, (kind, stem, pngs) in enumerate(groups, 1):
        media, ref = _media_for(kind, stem, pngs[0], src, options, sidecar, lookup)
        if media is None:  # absent, and the import is to report it
            dataset.missing.append(ref or (f"{stem}.*" if kind == "image" else stem))
            continue
        names = _names(mode, label_map, sidecar.get(pngs[0].relative_to(src).as_posix()), pngs[0])
        item, has_void = _read_group(kind, pngs, media, ref, names, options)
        void += has_void
        dataset.items.append(item)
        progress(done, len(groups))
    dataset.skip(void, f"void regions (value {VOID}: boundary or don't care, not an object)", src)
    for name in (
        [n for v, n in sorted(label_map.items()) if v and n not in BACKGROUND_NAMES] if mode == "semantic" else []
    ):
        dataset.labels.append(LabelData(name))
    dataset.ensure_labels_of_objects()
    dataset.root = lookup.root_or(Path(options.images) if options.images else src)
    return dataset


def _check_size(png: Path, media: Path, width: int, height: int) -> None:
    if not media.is_file():
        raise FormatError(png, "", f"its image {media} is absent")
    size = image_size(media)
    if size != (width, height):
        raise FormatError(png, "", f"is {width}x{height} but its image {media.name} is {size[0]}x{size[1]}")


def _names(mode: str, label_map: dict[int, str], entry: dict | None, png: Path) -> dict[int, tuple[str, str | None]]:
    """Pixel value -> (object name, label) from the label map (semantic) or the sidecar (instance)."""
    if mode == "semantic":
        return {v: (name, name) for v, name in label_map.items() if v and name not in BACKGROUND_NAMES}
    names: dict[int, tuple[str, str | None]] = {}
    for obj in (entry or {}).get("objects", []):
        label = obj.get("label")
        names[int(obj["index"])] = (str(obj.get("name") or ""), label if isinstance(label, str) else None)
    return names


def dumps_label_map(label_map: dict[int, str]) -> str:
    """A label map as JSON text (for tests and tools)."""
    return json.dumps({str(k): v for k, v in sorted(label_map.items())})
