"""Single-object and point-track files: LaSOT / GOT-10k groundtruth.txt, TAP-Vid npz/pickle, COCO keypoints.

LaSOT / GOT-10k: one folder per box track, `groundtruth.txt` with one "x,y,w,h" line per frame of
the video (pixels, pixel edges); frames where the object is not in view hold 0,0,0,0. LaSOT adds
`full_occlusion.txt` and `out_of_view.txt` (comma-separated 0/1 on one line), GOT-10k `absence.label`
(one 0/1 a line) and `cover.label` (0-8 a line: 0 absent, 8 fully visible; occluded frames are
written as 4). Reading takes either set of flag files (or none).

TAP-Vid: a dict video name -> {'points': float32 (N, T, 2) (x, y) normalised so that (0, 0) is the
top-left corner of the top-left pixel and (1, 1) the bottom-right corner of the bottom-right one,
'occluded': bool (N, T)}, plus 'track_ids' (N,) and 'point_index' (N,) naming each row's track and
point, and 'frame_size' (height, width). Each point of every points track is one row; frames
where a track has no sample or is outside are occluded (its points held at the nearest known place).
Written as a pickle (TAP-Vid's own files) or an .npz of one video.

COCO keypoints (export): one image per frame, one annotation per points track and frame where it is
in view, keypoints [x, y, v] with v 2 visible, 1 occluded; `track_id` on the annotation and in its
`attributes` (CVAT's COCO keypoints convention), with `keyframe` and `source` there too.
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path

import numpy as np

from annotator.errors import FormatError
from annotator.io.common import write_bytes_atomic, write_json_atomic
from annotator.io.track_data import TrackData, TrackFrame, TrackSet

log = logging.getLogger(__name__)

GROUNDTRUTH = "groundtruth.txt"


def _box_rows(tracks: TrackSet, track: TrackData) -> tuple[list[str], list[bool], list[bool]]:
    rows, absent, occluded = [], [], []
    for frame in range(tracks.frame_count):
        sample = track.frames.get(frame)
        if sample is None or sample.outside:
            rows.append("0,0,0,0")
            absent.append(True)
            occluded.append(False)
            continue
        x0, y0, x1, y1 = sample.geometry
        rows.append(",".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in (x0, y0, x1 - x0, y1 - y0)))
        absent.append(False)
        occluded.append(bool(sample.occluded.all()))
    return rows, absent, occluded


def write_single_object(tracks: TrackSet, out: Path, style: str = "lasot") -> list[Path]:
    """Write each box track as OUT/NAME-ID/groundtruth.txt with LaSOT ('lasot') or GOT-10k ('got10k') flags."""
    if style not in ("lasot", "got10k"):
        raise ValueError(f"unknown single-object style '{style}' (expected lasot or got10k)")
    out = Path(out)
    tracks.check()
    folders = []
    for track in tracks.tracks:
        if track.kind != "box":
            log.info("%s holds boxes only: track %d (points) is left out", style, track.track_id)
            continue
        folder = out / f"{tracks.name}-{track.track_id}"
        rows, absent, occluded = _box_rows(tracks, track)
        write_bytes_atomic(folder / GROUNDTRUTH, ("\n".join(rows) + "\n").encode("utf-8"))
        if style == "lasot":
            write_bytes_atomic(folder / "full_occlusion.txt", _flags_line(occluded))
            write_bytes_atomic(folder / "out_of_view.txt", _flags_line(absent))
        else:
            write_bytes_atomic(folder / "absence.label", "".join(f"{int(a)}\n" for a in absent).encode())
            cover = [0 if a else 4 if o else 8 for a, o in zip(absent, occluded, strict=True)]
            write_bytes_atomic(folder / "cover.label", "".join(f"{c}\n" for c in cover).encode())
        folders.append(folder)
    return folders


def _flags_line(flags: list[bool]) -> bytes:
    return (",".join("1" if f else "0" for f in flags) + "\n").encode()


def read_single_object(folder: Path, track_id: int = 1, label: str | None = None) -> TrackData:
    """Read one LaSOT or GOT-10k sequence folder's groundtruth.txt (and flag files) as a box track."""
    folder = Path(folder)
    path = folder / GROUNDTRUTH
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise FormatError(path, "", f"cannot read the ground truth ({error})") from error
    count = len(lines)
    absent = _read_flags(folder, ("out_of_view.txt", "absence.label"), count)
    occluded = _read_flags(folder, ("full_occlusion.txt",), count)
    cover_file = folder / "cover.label"
    if cover_file.is_file():
        cover = [int(v) for v in cover_file.read_text().split()]
        occluded = [o or c < 8 for o, c in zip(occluded, cover + [8] * count, strict=False)]
    track = TrackData(track_id, label, "box", name=folder.name)
    for frame, line in enumerate(lines):
        try:
            x, y, w, h = (float(v) for v in line.replace("\t", ",").replace(" ", ",").split(",") if v)
        except ValueError as error:
            raise FormatError(path, f"line {frame + 1}", f"expected x,y,w,h ({error})") from error
        gone = absent[frame] or not (w > 0 and h > 0) or not np.isfinite([x, y, w, h]).all()
        if gone:
            continue
        track.add(TrackFrame(frame, np.array([x, y, x + w, y + h]), np.array([occluded[frame]])))
    return track


def _read_flags(folder: Path, names: tuple[str, ...], count: int) -> list[bool]:
    for name in names:
        path = folder / name
        if path.is_file():
            values = path.read_text().replace(",", " ").split()
            flags = [v.strip() == "1" for v in values]
            return (flags + [False] * count)[:count]
    return [False] * count


def tapvid_arrays(tracks: TrackSet) -> dict[str, np.ndarray]:
    """The TAP-Vid arrays of one video's points tracks (see the module docstring)."""
    rows, occluded, track_ids, point_index = [], [], [], []
    size = np.array([tracks.width, tracks.height], np.float64)
    if not (size > 0).all():
        raise ValueError("TAP-Vid points are normalised by the frame size, which this video does not give")
    for track in tracks.tracks:
        if track.kind != "points" or not track.frames:
            continue
        count = track.point_count
        points = np.full((count, tracks.frame_count, 2), np.nan)
        hidden = np.ones((count, tracks.frame_count), bool)
        for sample in track.frames.values():
            if 0 <= sample.frame < tracks.frame_count:
                points[:, sample.frame] = sample.geometry
                hidden[:, sample.frame] = sample.occluded | sample.outside
        points = _fill_nearest(points)
        rows.append(points / size)
        occluded.append(hidden)
        track_ids += [track.track_id] * count
        point_index += list(range(count))
    empty = np.zeros((0, tracks.frame_count, 2))
    return {
        "points": np.concatenate(rows).astype(np.float32) if rows else empty.astype(np.float32),
        "occluded": np.concatenate(occluded) if occluded else np.zeros((0, tracks.frame_count), bool),
        "track_ids": np.array(track_ids, np.int64),
        "point_index": np.array(point_index, np.int64),
        "frame_size": np.array([tracks.height, tracks.width], np.int64),
    }


def _fill_nearest(points: np.ndarray) -> np.ndarray:
    """Fill frames without a position (NaN) with the nearest known one in time (all zero if none)."""
    filled = points.copy()
    known = np.flatnonzero(np.isfinite(points[0, :, 0]))
    if len(known) == 0:
        return np.zeros_like(points)
    frames = np.arange(points.shape[1])
    nearest = known[np.abs(frames[:, None] - known[None, :]).argmin(axis=1)]
    filled[:, :] = points[:, nearest]
    return filled


def write_tapvid(videos: list[TrackSet], path: Path) -> Path:
    """Write the points tracks of several videos as a TAP-Vid pickle (.pkl) or of one video as .npz."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if len(videos) != 1:
            raise ValueError(f"an .npz holds one video; {len(videos)} were given (write a .pkl)")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **tapvid_arrays(videos[0]))
        write_bytes_atomic(path, buffer.getvalue())
    else:
        write_bytes_atomic(path, pickle.dumps({v.name: tapvid_arrays(v) for v in videos}, protocol=4))
    return path


def read_tapvid(path: Path, sizes: dict[str, tuple[int, int]] | None = None) -> list[TrackSet]:
    """Read a TAP-Vid pickle (dict or list of videos) or one video's .npz as points tracks.

    Sizes (height, width) come from each video's 'frame_size', its 'video' frames, or `sizes`; rows
    that share a 'track_ids' value form one points track, else each row is a track of one point.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as data:
                videos = {path.stem: {key: data[key] for key in data.files}}
        else:
            with path.open("rb") as handle:
                loaded = pickle.load(handle)  # a dataset file the user chose to open
            videos = loaded if isinstance(loaded, dict) else {str(i): v for i, v in enumerate(loaded)}
    except (OSError, ValueError, pickle.UnpicklingError, EOFError) as error:
        raise FormatError(path, "", f"cannot read TAP-Vid points ({error})") from error
    return [_tapvid_video(path, name, data, (sizes or {}).get(name)) for name, data in videos.items()]


def _tapvid_video(path: Path, name: str, data: dict, size: tuple[int, int] | None) -> TrackSet:
    if "points" not in data or "occluded" not in data:
        raise FormatError(path, name, "a TAP-Vid video needs 'points' (N, T, 2) and 'occluded' (N, T)")
    points, occluded = np.asarray(data["points"], np.float64), np.asarray(data["occluded"], bool)
    if points.ndim != 3 or points.shape[2] != 2 or occluded.shape != points.shape[:2]:
        raise FormatError(path, name, f"points {points.shape} and occluded {occluded.shape} do not match")
    if "frame_size" in data:
        size = tuple(int(v) for v in np.asarray(data["frame_size"]).reshape(2))  # type: ignore[assignment]
    elif "video" in data:
        size = tuple(np.asarray(data["video"]).shape[1:3])  # type: ignore[assignment]
    if size is None:
        raise FormatError(path, name, "no frame size: give the video's (height, width)")
    height, width = size
    pixels = points * np.array([width, height])
    ids = np.asarray(data.get("track_ids", np.arange(1, len(points) + 1)), np.int64)
    result = TrackSet(name, width, height, points.shape[1])
    for track_id in dict.fromkeys(ids.tolist()):
        rows = np.flatnonzero(ids == track_id)
        track = TrackData(int(track_id), None, "points")
        for frame in range(points.shape[1]):
            track.add(TrackFrame(frame, pixels[rows, frame], occluded[rows, frame]))
        result.tracks.append(track)
    return result


def coco_keypoints(tracks: TrackSet, first_id: int = 1) -> dict:
    """The COCO keypoints dict of one video's points tracks (one image per frame; see the module docstring)."""
    tracks.check()
    points_tracks = [t for t in tracks.tracks if t.kind == "points" and t.frames]
    labels = list(dict.fromkeys((t.label or "object", t.point_count) for t in points_tracks))
    categories, category_of = [], {}
    for number, (label, count) in enumerate(labels, 1):
        name = label if sum(1 for lb, _ in labels if lb == label) == 1 else f"{label}-{count}"
        categories.append(
            {
                "id": number,
                "name": name,
                "supercategory": "",
                "keypoints": [f"p{i}" for i in range(count)],
                "skeleton": [],
            }
        )
        category_of[(label, count)] = number
    images = [
        {"id": frame + 1, "file_name": tracks.frame_name(frame), "width": tracks.width, "height": tracks.height}
        for frame in range(tracks.frame_count)
    ]
    annotations = []
    for track in points_tracks:
        for sample in track.shown():
            visible = ~sample.occluded
            values = []
            for (x, y), seen in zip(sample.geometry, visible, strict=True):
                values += [round(float(x), 2), round(float(y), 2), 2 if seen else 1]
            x0, y0, x1, y1 = sample.box
            attributes = {"track_id": track.track_id, "keyframe": sample.keyframe, "source": sample.source}
            annotations.append(
                {
                    "id": first_id + len(annotations),
                    "image_id": sample.frame + 1,
                    "category_id": category_of[(track.label or "object", track.point_count)],
                    "keypoints": values,
                    "num_keypoints": len(sample.geometry),
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "area": float((x1 - x0) * (y1 - y0)),
                    "iscrowd": 0,
                    "track_id": track.track_id,
                    "attributes": attributes,
                }
            )
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco_keypoints(tracks: TrackSet, path: Path) -> Path:
    """Write one video's points tracks as a COCO keypoints JSON file."""
    write_json_atomic(Path(path), coco_keypoints(tracks))
    return Path(path)
