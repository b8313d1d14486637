"""Semantic PNG conventions of Pascal VOC and of labelme's VOC export: class names, the void value, folders.

- labelme (`labelme2voc.py`): OUT/class_names.txt (one name per line, line i = pixel value i, first
  `_background_`), OUT/JPEGImages/NAME.jpg, OUT/SegmentationClassPNG/NAME.png (palette PNG; its
  `__ignore__` class is written as 255), OUT/SegmentationObjectPNG/ for instances.
- Pascal VOC 2012: VOC2012/SegmentationClass/NAME.png (palette), VOC2012/JPEGImages/NAME.jpg, no
  names file: the 20 classes of the VOC devkit in their fixed order, value 0 background, 255 void
  (object boundaries and "don't care"); SegmentationObject/ holds instances with the same void.
Value 255 is void, never an object, unless the folder's own names (label_map.json, objects.json,
class_names.txt) name it.
"""

from __future__ import annotations

from pathlib import Path

from annotator.errors import FormatError

VOID = 255
CLASS_NAMES_FILE = "class_names.txt"
BACKGROUND_NAMES = frozenset({"_background_", "background", "__background__"})
VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
"""Pascal VOC's class names by pixel value (its devkit's order)."""
MASK_FOLDERS = ("SegmentationClassPNG", "SegmentationClass", "SegmentationObjectPNG", "SegmentationObject")
IMAGE_FOLDER = "JPEGImages"


def class_names_file(folder: Path) -> Path | None:
    """labelme's class_names.txt in the PNG folder or the folder above it."""
    for place in (folder, folder.parent):
        if (place / CLASS_NAMES_FILE).is_file():
            return place / CLASS_NAMES_FILE
    return None


def read_class_names(path: Path) -> dict[int, str]:
    """Pixel value -> class name from a one-name-per-line file (line i = value i)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(path, "", f"cannot be read ({error})") from error
    names = [line.strip() for line in lines if line.strip()]
    if len(names) > 256:
        raise FormatError(path, "", f"names {len(names)} classes; a PNG holds pixel values 0-255")
    return dict(enumerate(names))


def is_voc_folder(folder: Path) -> bool:
    """True for Pascal VOC's SegmentationClass / SegmentationObject folder (JPEGImages beside it)."""
    return folder.name in ("SegmentationClass", "SegmentationObject") and (folder.parent / IMAGE_FOLDER).is_dir()


def semantic_names(folder: Path) -> dict[int, str]:
    """Class names of a semantic PNG folder without label_map.json: class_names.txt, else VOC's when it is VOC's."""
    path = class_names_file(folder)
    if path is not None:
        return read_class_names(path)
    if is_voc_folder(folder):
        return dict(enumerate(VOC_CLASSES))
    return {}


def mask_folder(src: Path) -> Path:
    """The PNG folder of a VOC-style root (SegmentationClassPNG/ ... below it), else `src` itself."""
    if any(src.glob("*.png")):
        return src
    for name in MASK_FOLDERS:
        if (src / name).is_dir() and any((src / name).glob("*.png")):
            return src / name
    return src


def default_images(folder: Path) -> Path | None:
    """The images of a VOC-style PNG folder: JPEGImages beside it."""
    images = folder.parent / IMAGE_FOLDER
    return images if folder.name in MASK_FOLDERS and images.is_dir() else None


def is_semantic_folder(src: Path) -> bool:
    """True for a semantic PNG folder by VOC's or labelme's conventions (not by label_map.json)."""
    folder = mask_folder(src)
    return folder.name.startswith("SegmentationClass") or (
        class_names_file(folder) is not None and not folder.name.startswith("SegmentationObject")
    )
