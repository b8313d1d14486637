"""Which project item each item of an imported dataset is: its path below the image root, else its name.

A file names its images relative to an image root (COCO `file_name`, ...; labelme's `imagePath`
from its JSON file); a folder's project stores its items relative to the project file's folder
(`stored_path`, resolved by `media_file`, never from the current directory). Both sides become
absolute paths below the project's media folder (`media_root`) and are matched as such: the path
a reader resolved, then the name as the file wrote it, taken below the media folder. When no path
matches, an item of the same file name (and kind) matches if it is the only one. A dataset item
that matches none is added when its media lies below the media folder (stored exactly as
`annotator.workspace.sync_folder` stores paths, so no item ever appears twice), or is missing:
the import skips and reports it, or refuses the whole file when asked to be strict.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from annotator.document.commands import AddItem
from annotator.document.model import Item
from annotator.document.project import Project
from annotator.errors import MediaError
from annotator.io.dataset import Dataset, ItemData
from annotator.io.media import image_size

log = logging.getLogger(__name__)

NewItems = Literal["in_folder", "all"]
"""What becomes of a dataset item that no project item matches: added only when its media lies
below the project's media folder ('in_folder', the GUI import), or added always ('all': a new
project file written by `convert`, an in-memory project)."""

Target = int | AddItem | None
"""Where a dataset item's objects go: a project item id, an item to add, or nowhere (missing)."""


def project_folder(project_file: Path) -> Path:
    """The folder of a project file as an absolute path, which relative item paths start from.

    Never the current directory: a project opened (or written by `convert`) from anywhere names
    the same media.
    """
    return Path(os.path.abspath(project_file)).parent


def media_root(project: Project) -> Path | None:
    """The project's media folder (absolute): the project file's folder, or the folder that holds every
    item when all are stored as absolute paths (a read-only folder's project lives elsewhere); None in memory."""
    if project.path is None:
        return None
    paths = [Path(item.path) for item in project.items]
    if paths and all(path.is_absolute() for path in paths):
        try:
            return Path(os.path.commonpath([str(path.parent) for path in paths]))
        except ValueError:  # on different drives
            pass
    return project_folder(project.path)


def media_file(project: Project, stored: str) -> Path:
    """The media of a stored item path (absolute): relative to the project file's folder when relative."""
    path = Path(stored)
    if path.is_absolute() or project.path is None:
        return path
    return Path(os.path.normpath(project_folder(project.path) / path))


def stored_path(project_file: Path, media: Path) -> str:
    """How a project stores a media path: relative to its file's folder when below it, else absolute
    (also on another drive). A relative `media` is taken from the current directory, as given on a
    command line. The same rule as `annotator.workspace` uses when it adds a folder's images.
    """
    try:
        return media.resolve().relative_to(project_folder(project_file).resolve()).as_posix()
    except ValueError:
        return str(media.resolve())


@dataclass
class Placement:
    """Where each dataset item goes (`targets`, in dataset order) and the names of those skipped."""

    targets: list[Target] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _key(path: Path) -> str:
    return os.path.normcase(str(path.resolve()))


def _candidates(data: ItemData, root: Path | None) -> list[Path]:
    """Absolute paths that the dataset item may mean, those that exist first."""
    paths: list[Path] = []
    for name in (data.path, data.ref):
        if not name:
            continue
        path = Path(name.replace("\\", "/"))
        if path.is_absolute():
            paths.append(path)
        elif root is not None:
            paths.append(root / path)
    return sorted(dict.fromkeys(paths), key=lambda p: not p.exists())


def _below(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


class _Index:
    """The project's items by stored path, by absolute media path and by file name."""

    def __init__(self, project: Project) -> None:
        self.by_string: dict[str, Item] = {}
        self.by_path: dict[str, Item] = {}
        self.by_name: dict[tuple[str, str], list[Item]] = {}
        for item in project.items:
            self.by_string.setdefault(item.path, item)
            media = media_file(project, item.path)
            if media.is_absolute():
                self.by_path.setdefault(_key(media), item)
            self.by_name.setdefault((media.name, item.kind), []).append(item)

    def match(self, data: ItemData, candidates: list[Path]) -> Item | None:
        """The project item the dataset item is, by path, else by a unique file name."""
        found = self.by_string.get(data.path)
        for path in candidates:
            found = found or self.by_path.get(_key(path))
        if found is None:
            same_name = self.by_name.get((data.name, data.kind), [])
            found = same_name[0] if len(same_name) == 1 else None
        return found


def _new_item(project: Project, data: ItemData, media: Path | None) -> AddItem:
    """The item to add for a dataset item whose media is `media` (None: absent, named as the dataset names it)."""
    names = data.frame_names
    frame_names = tuple(names) if data.kind == "video" and names and len(names) == data.frame_count else None
    if project.path is None:
        return AddItem(data.path, data.kind, data.width, data.height, data.frame_count, data.fps, frame_names)
    if media is None:  # absent: stored by the same rule, so it resolves once the media is put there
        named = Path(data.path.replace("\\", "/"))
        stored = stored_path(project.path, named) if named.is_absolute() else data.path
        return AddItem(stored, data.kind, data.width, data.height, data.frame_count, data.fps, frame_names)
    width, height = data.width, data.height
    if data.kind == "image" and media.is_file():
        try:
            width, height = image_size(media)
        except MediaError as error:
            log.warning("%s", error)
    path = stored_path(project.path, media)
    return AddItem(path, data.kind, width, height, data.frame_count, data.fps, frame_names)


def _shown(data: ItemData) -> str:
    """How a missing image is named to the person: as the file names it, unless that climbs out of
    a folder or is absolute (labelme's '../../b.png'), then by its file name."""
    ref = (data.ref or "").replace("\\", "/")
    if not ref or Path(ref).is_absolute() or ".." in Path(ref).parts:
        return data.name
    return ref


def place_items(project: Project, dataset: Dataset, new_items: NewItems = "in_folder") -> Placement:
    """Decide, for each dataset item, the project item that receives its objects (reads only)."""
    root = media_root(project)
    mode: NewItems = "all" if root is None else new_items
    index = _Index(project)
    added: dict[str, AddItem] = {}
    placement = Placement(missing=list(dataset.missing))
    for data in dataset.items:
        candidates = _candidates(data, root)
        item = index.match(data, candidates)
        if item is not None:
            placement.targets.append(item.id)
            continue
        present = [p for p in candidates if p.exists() and (root is None or mode == "all" or _below(p, root))]
        if not present and mode == "in_folder":
            placement.targets.append(None)
            if data.objects:  # an absent image without annotations loses nothing: no need to say it
                placement.missing.append(_shown(data))
            continue
        add = _new_item(project, data, present[0] if present else None)
        add = added.setdefault(add.path, add)
        placement.targets.append(add)
    return placement
