"""Opening what the user points at (folder, image, project) as a Project, Qt-free."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import platformdirs

from annotator.document import AddItem, Batch, Project
from annotator.document.store import SUFFIX, is_writable
from annotator.errors import AnnotatorError, MediaError
from annotator.io.matching import media_file, stored_path
from annotator.io.media import VIDEO_SUFFIXES, image_size, is_image, list_images
from annotator.io.video import open_frames

log = logging.getLogger(__name__)

PROJECT_NAME = "annotations" + SUFFIX


def project_path_for_folder(folder: Path) -> Path:
    """Where a folder's project lives: inside it when writable, else in the user data dir."""
    folder = folder.resolve()
    if is_writable(folder):
        return folder / PROJECT_NAME
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:16]
    data = Path(os.environ.get("ANNOTATOR_DATA_DIR") or platformdirs.user_data_dir("annotator"))
    (data / "projects").mkdir(parents=True, exist_ok=True)
    return data / "projects" / f"{folder.name}-{digest}{SUFFIX}"


def media_path(project: Project, item_path: str) -> Path:
    """The file of an item: its stored path, relative to the project file's folder when relative."""
    return media_file(project, item_path)


def display_name(project: Project, item_path: str) -> str:
    """The name to show for an item: its file or folder name (a frame folder opened as such is
    stored as '.', the project's own folder)."""
    name = Path(item_path).name
    return name if name not in ("", ".") else media_path(project, item_path).resolve().name


def is_frame_folder(folder: Path) -> bool:
    """True for a folder of numbered frames (00000.jpg, 00001.jpg, …): a video, not an image set."""
    images = list_images(folder)
    return len(images) >= 2 and all(p.stem.isdigit() for p in images)


def list_videos(folder: Path) -> list[Path]:
    """Video files directly inside `folder`, sorted by name."""
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES),
        key=lambda p: p.name.lower(),
    )


def video_item(project_file: Path, path: Path) -> AddItem:
    """The AddItem of a video file or frame folder (MediaError when unreadable)."""
    frames = open_frames(path)
    try:
        return AddItem(stored_path(project_file, path), "video", frames.width, frames.height, len(frames), frames.fps)
    finally:
        frames.close()


def sync_folder(project: Project, folder: Path) -> list[str]:
    """Add the folder's images and videos that the project lacks (one step, not undoable); returns problems."""
    assert project.path is not None
    known = {str(media_path(project, item.path).resolve()) for item in project.items}
    commands, problems = [], []
    if is_frame_folder(folder):
        if str(folder.resolve()) not in known:
            commands.append(video_item(project.path, folder))
        media: list[Path] = []
    else:
        media = sorted([*list_images(folder), *list_videos(folder)], key=lambda p: p.name.lower())
    for path in media:
        if str(path.resolve()) in known:
            continue
        if path.suffix.lower() in VIDEO_SUFFIXES:
            try:
                commands.append(video_item(project.path, path))
            except MediaError as error:
                problems.append(str(error))
            continue
        try:
            width, height = image_size(path)
        except MediaError as error:
            problems.append(str(error))
            width = height = 0
        commands.append(AddItem(stored_path(project.path, path), "image", width, height))
    if commands:
        with project.setting_up():
            project.execute(Batch(tuple(commands), "Add images"))
        project.history.clear()
    return problems


def open_path(path: Path) -> tuple[Project, str | None, list[str]]:
    """Open a project file, a folder, or an image (its folder's project, that image selected).

    Returns the project, the stored path of the item to show first (or None) and the problems met.
    """
    path = path.expanduser()
    if path.is_file() and path.suffix == SUFFIX:
        return Project.open(path), None, []
    if path.is_dir():
        folder, first = path, None
    elif path.is_file() and (is_image(path) or path.suffix.lower() in VIDEO_SUFFIXES):
        folder, first = path.parent, path
    elif not path.exists():
        raise AnnotatorError(f"{path}: does not exist")
    else:
        raise AnnotatorError(f"{path}: not an image, a video, a folder or a project ({SUFFIX})")
    project_file = project_path_for_folder(folder)
    # A new project's file is written at the first edit, not for a folder the user only looked at.
    project = Project.open(project_file) if project_file.exists() else Project.deferred(project_file)
    problems = sync_folder(project, folder)
    chosen = None if first is None else stored_path(project_file, first)
    return project, chosen, problems
