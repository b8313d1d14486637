"""Box and point tracks between a project and the track formats (CVAT video, MOT gt, LaSOT, GOT-10k, TAP-Vid).

A project's video item with tracks becomes one `TrackSet` (its objects' tracks, with their labels,
keyframes, tracker and interpolated frames), and a `TrackSet` read from a file becomes a video item
(found by name, else added) with one object per track, added as one undoable step. `convert_tracks`
is what `annotator convert` runs when the source or the output is a track format.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from annotator.document import AddItem, AddLabel, AddObject, Project
from annotator.document.track_commands import ApplyTrackRun, SetTrackSample
from annotator.document.tracks import TrackSample
from annotator.errors import FormatError
from annotator.io.cvat_video import read_cvat_video, write_cvat_video
from annotator.io.project_io import refuse_existing_project
from annotator.io.track_data import TrackData, TrackFrame, TrackSet
from annotator.io.track_files import read_single_object, read_tapvid, write_single_object, write_tapvid
from annotator.io.tracks import read_mot_tracks, write_mot_tracks

log = logging.getLogger(__name__)

TRACK_READABLE = ("cvat-video", "mot-gt", "lasot", "got10k", "tapvid")
TRACK_WRITABLE = ("cvat-video", "mot-gt", "lasot", "got10k", "tapvid")
ONLY_TRACKS = ("cvat-video", "lasot", "got10k", "tapvid")
"""Formats that hold tracks only (mot-gt is also written from masks, by annotator/io/tracks.py)."""
GROUNDTRUTH = "groundtruth.txt"


def detect_track_format(path: Path) -> str | None:
    """The track format of a file or folder, or None when it is none of them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_file():
        if suffix == ".xml":
            return "cvat-video"
        return "tapvid" if suffix in (".pkl", ".pickle", ".npz") else None
    if not path.is_dir():
        return None
    if (path / "annotations.xml").is_file():
        return "cvat-video"
    if (path / "gt" / "gt.txt").is_file() or any(path.glob("*/gt/gt.txt")):
        return "mot-gt"
    if (path / GROUNDTRUTH).is_file() or any(path.glob(f"*/{GROUNDTRUTH}")):
        has_cover = (path / "cover.label").is_file() or any(path.glob("*/cover.label"))
        return "got10k" if has_cover else "lasot"
    return None


# -- project -> tracks ------------------------------------------------------------------------------
def _frame(frame: int, sample: TrackSample) -> TrackFrame:
    geometry = np.asarray(sample.geometry, np.float64)
    geometry = geometry if sample.kind == "box" else geometry.reshape(-1, 2)
    score = 1.0 if sample.score is None else sample.score
    keyframe = sample.source != "interpolated"
    return TrackFrame(frame, geometry, np.asarray(sample.occluded), sample.outside, keyframe, sample.source, score)


def tracksets_from_project(project: Project, item_ids: list[int] | None = None) -> list[TrackSet]:
    """One TrackSet per video item (of `item_ids`, default all) that has a box or points track."""
    sets = []
    for item in project.items:
        if item.kind != "video" or (item_ids is not None and item.id not in item_ids):
            continue
        names = list(item.frame_names or ())
        result = TrackSet(Path(item.name).stem, item.width, item.height, item.frame_count, item.fps or 25.0, names)
        for obj in project.objects(item.id):
            track = project.track(obj.id)
            if not track:
                continue
            label = project.label(obj.label_id).name if obj.label_id is not None else None
            data = TrackData(obj.id, label, next(iter(track.values())).kind, name=obj.name)
            for frame, sample in track.items():
                data.add(_frame(frame, sample))
            result.tracks.append(data)
        if result.tracks:
            sets.append(result)
    return sets


# -- tracks -> project ------------------------------------------------------------------------------
def _sample(frame: TrackFrame, kind: str) -> TrackSample:
    geometry = tuple(np.asarray(frame.geometry, np.float64).reshape(-1).tolist())
    source = frame.source if frame.keyframe or frame.source == "interpolated" else "interpolated"
    score = None if source == "user" else float(frame.score)
    return TrackSample(kind, geometry, tuple(bool(v) for v in frame.occluded), frame.outside, source, score)  # type: ignore[arg-type]


def _item_for(project: Project, tracks: TrackSet, media: Path | None) -> int:
    for item in project.items:
        if item.kind == "video" and tracks.name in (item.name, Path(item.name).stem):
            return item.id
    path = str(media / tracks.name) if media is not None else tracks.name
    names = tuple(tracks.frame_names) if len(tracks.frame_names) == tracks.frame_count else None
    count = max(1, tracks.frame_count)
    return project.execute(AddItem(path, "video", tracks.width, tracks.height, count, tracks.fps, names)).id


def add_tracksets(project: Project, sets: list[TrackSet], media: Path | None = None) -> int:
    """Add the tracks of `sets` to the project as one undo step (videos found by name, else added); returns
    the number of samples added."""
    added = 0
    project.begin_group("Import tracks")
    try:
        for tracks in sets:
            item_id = _item_for(project, tracks, media)
            for data in tracks.tracks:
                label_id = None
                if data.label:
                    label = project.label_by_name(data.label) or project.execute(AddLabel(data.label))
                    label_id = label.id
                obj = project.execute(AddObject(item_id, label_id, data.name or f"track {data.track_id}"))
                samples = [(frame, _sample(sample, data.kind)) for frame, sample in data.frames.items()]
                for frame, sample in samples:
                    if sample.keyframe:
                        project.execute(SetTrackSample(obj.id, frame, sample))
                        added += 1
                run = tuple((obj.id, frame, s) for frame, s in samples if not s.keyframe)
                added += project.execute(ApplyTrackRun(run, "Import tracks")) if run else 0
    finally:
        project.end_group()
    return added


# -- files ------------------------------------------------------------------------------------------
def read_tracks(path: Path, fmt: str) -> list[TrackSet]:
    """The TrackSets in a file or folder of a track format."""
    path = Path(path)
    if fmt == "cvat-video":
        files = sorted(path.glob("*.xml")) if path.is_dir() and not (path / "annotations.xml").is_file() else [path]
        return [read_cvat_video(f) for f in files]
    if fmt == "mot-gt":
        if (path / "gt" / "gt.txt").is_file() or path.is_file():
            return [read_mot_tracks(path)]
        return [read_mot_tracks(folder.parent.parent) for folder in sorted(path.glob("*/gt/gt.txt"))]
    if fmt in ("lasot", "got10k"):
        folders = [path] if (path / GROUNDTRUTH).is_file() else sorted(p.parent for p in path.glob(f"*/{GROUNDTRUTH}"))
        result = TrackSet(path.name, 0, 0, 0)
        for number, folder in enumerate(folders, 1):
            result.tracks.append(read_single_object(folder, number, None))
        frames = [f for t in result.tracks for f in t.frames]
        result.frame_count = max([1, *(f + 1 for f in frames)])
        return [result]
    if fmt == "tapvid":
        return read_tapvid(path)
    raise FormatError(path, "", f"cannot read the track format '{fmt}' (readable: {', '.join(TRACK_READABLE)})")


def write_tracks(sets: list[TrackSet], out: Path, fmt: str) -> Path:
    """Write TrackSets as a track format: one file (one video) or a folder of one entry per video."""
    out = Path(out)
    if not sets:
        raise FormatError(out, "", "nothing to write: no video has a box or points track")
    if fmt == "tapvid":
        return write_tapvid(sets, out if out.suffix else out / "tracks.pkl")
    one = len(sets) == 1
    for tracks in sets:
        if fmt == "cvat-video":
            write_cvat_video(tracks, out if one and out.suffix.lower() == ".xml" else out / f"{tracks.name}.xml")
        elif fmt == "mot-gt":
            write_mot_tracks(tracks, out / tracks.name)
        elif fmt in ("lasot", "got10k"):
            write_single_object(tracks, out, fmt)
        else:
            raise FormatError(out, "", f"cannot write the track format '{fmt}' (writable: {', '.join(TRACK_WRITABLE)})")
    return out


def project_has_tracks(path: Path) -> bool:
    """True when the project file at `path` holds a box or points track."""
    project = Project.open(path)
    try:
        return bool(tracksets_from_project(project))
    finally:
        project.close()


def is_track_conversion(src: Path, src_format: str, to: str) -> bool:
    """True when converting `src` (of `src_format`) to `to` moves box and point tracks, not masks: the
    source is a track format, the output holds tracks only, or a project with tracks goes to mot-gt."""
    if src_format in TRACK_READABLE or to in ONLY_TRACKS:
        return True
    return to == "mot-gt" and src_format == "project" and project_has_tracks(src)


def convert_tracks(src: Path, src_format: str, out: Path, to: str, media: Path | None = None) -> int:
    """Convert the tracks of `src` (a project or a track format) to `to` (a project or a track format);
    returns the number of samples written."""
    if src_format == "project":
        project = Project.open(src)
        try:
            sets = tracksets_from_project(project)
        finally:
            project.close()
    else:
        sets = read_tracks(src, src_format)
    if to == "project":
        refuse_existing_project(out)
        target = Project.create(out)
        try:
            return add_tracksets(target, sets, media)
        finally:
            target.close()
    if to not in TRACK_WRITABLE:
        raise FormatError(out, "", f"tracks convert to a project or a track format ({', '.join(TRACK_WRITABLE)})")
    write_tracks(sets, out, to)
    return sum(len(t.frames) for s in sets for t in s.tracks)
