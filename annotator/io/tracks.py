"""Video extras: MOT-style box tracks (from masks, or box tracks both ways) and point tracks.

MOT results ('mot'): OUT/STEM.txt per item, one line per object and frame with a mask, in the
MOTChallenge result layout "frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z" (frame
1-based, the mask's box, conf 1, world coordinates -1): what a tracker submits for evaluation.
MOT ground truth ('mot-gt', for training): one sequence folder OUT/STEM/ per item with
`seqinfo.ini` (name, imDir, frameRate, seqLength, imWidth, imHeight, imExt) and `gt/gt.txt`,
"frame,id,bb_left,bb_top,bb_width,bb_height,consider,class,visibility" (frame 1-based, consider
1, class the 1-based line of `gt/labels.txt`, which names the classes as Datumaro's mot_seq reads
them, -1 for no label; visibility 1: the box is the mask's, so all of it is visible). Frames are
not copied: img1/000001.jpg... (imDir, imExt) is where a consumer looks for them.
Both write `tracks.json` in OUT, naming each id's object and label.
Box tracks (`write_mot_tracks` / `read_mot_tracks`, over annotator.io.track_data): the same
ground-truth layout for one video's TrackSet: boxes of the frames where a track is in view,
consider 1, visibility 1 (0 where the box is occluded; read back as occluded below 0.5, as
Datumaro does); `read_mot_tracks` also takes the 10-column results layout (conf kept as score).
Point tracks: OUT/STEM.npz per item with `points` (N, T, 2) float32 (x, y) pixels (NaN where
not visible), `visible` (N, T) bool, `object_ids` (N,), `names`, `labels` (N,) str and
`frame_size` (height, width). The point of a mask is its most interior pixel (the maximum of the
distance transform), which lies inside the mask even when the mask is not convex.
"""

from __future__ import annotations

import configparser
import io
import logging
from pathlib import Path

import cv2
import numpy as np

from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.common import Progress, no_progress, write_bytes_atomic, write_json_atomic
from annotator.io.dataset import Dataset, ItemData
from annotator.io.track_data import TrackData, TrackFrame, TrackSet

log = logging.getLogger(__name__)
MOT_IMAGE_DIR = "img1"


def _track_id(index: int, track: int | None) -> int:
    return track if track is not None else index + 1


def track_ids(item: ItemData) -> list[int]:
    """A positive MOT id per object of the item: its track id, else its position; unique within the item."""
    ids: list[int] = []
    for index, obj in enumerate(item.objects):
        track = _track_id(index, obj.track_id)
        if track < 1 or track in ids:
            track = max([0, *ids, *(o.track_id or 0 for o in item.objects)]) + 1
        ids.append(track)
    return ids


def _boxes(item: ItemData) -> tuple[list[tuple[int, int, int, int, int, int, int]], dict[str, dict]]:
    """(frame 1-based, id, x, y, w, h, object index) of every non-empty mask sorted, and the id legend."""
    rows = []
    legend = {}
    for index, (obj, track) in enumerate(zip(item.objects, track_ids(item), strict=True)):
        legend[str(track)] = {"name": obj.name, "label": obj.label}
        for frame, mask in sorted(obj.masks.items()):
            if not mask.is_empty:
                x0, y0, x1, y1 = mask.bbox
                rows.append((frame + 1, track, x0, y0, x1 - x0, y1 - y0, index))
    rows.sort()
    return rows, legend


def write_mot(dataset: Dataset, out: Path, progress: Progress = no_progress) -> Path:
    """Write one MOT results file (OUT/STEM.txt) per item into folder `out`, plus tracks.json."""
    out = Path(out)
    legend = {}
    for done, item in enumerate(dataset.items, 1):
        rows, legend[item.stem] = _boxes(item)
        text = "".join(f"{f},{t},{x},{y},{w},{h},1,-1,-1,-1\n" for f, t, x, y, w, h, _ in rows)
        write_bytes_atomic(out / f"{item.stem}.txt", text.encode("utf-8"))
        progress(done, len(dataset.items))
    write_json_atomic(out / "tracks.json", legend, indent=1)
    return out


def seqinfo_text(name: str, fps: float, length: int, width: int, height: int, ext: str = ".jpg") -> str:
    """A sequence's seqinfo.ini: exactly MOTChallenge's seven keys (Datumaro refuses others)."""
    lines = ["[Sequence]", f"name={name}", f"imDir={MOT_IMAGE_DIR}", f"frameRate={round(fps)}"]
    lines += [f"seqLength={length}", f"imWidth={width}", f"imHeight={height}", f"imExt={ext}"]
    return "\n".join(lines) + "\n"


def _seqinfo(item: ItemData) -> str:
    """The item's seqinfo.ini."""
    ext = Path(item.frame_name(0)).suffix.lower() or ".jpg"
    return seqinfo_text(item.stem, item.fps, item.frame_count, item.width, item.height, ext)


def write_mot_gt(dataset: Dataset, out: Path, progress: Progress = no_progress) -> Path:
    """Write one MOT ground-truth sequence (STEM/seqinfo.ini, gt/gt.txt, gt/labels.txt) per item into `out`."""
    out = Path(out)
    stems = [item.stem for item in dataset.items]
    for stem in stems:
        if stems.count(stem) > 1:
            raise FormatError(out, "", f"two items are named {stem}: each sequence folder needs a name of its own")
    used = [obj.label for item in dataset.items for obj in item.objects if obj.label]
    names = list(dict.fromkeys([*dataset.label_names(), *used]))
    classes = {name: number for number, name in enumerate(names, 1)}
    legend = {}
    for done, item in enumerate(dataset.items, 1):
        rows, legend[item.stem] = _boxes(item)
        lines = []
        for frame, track, x, y, w, h, index in rows:
            label = item.objects[index].label
            lines.append(f"{frame},{track},{x},{y},{w},{h},1,{classes[label] if label else -1},1\n")
        sequence = out / item.stem
        write_bytes_atomic(sequence / "gt" / "gt.txt", "".join(lines).encode("utf-8"))
        write_bytes_atomic(sequence / "gt" / "labels.txt", "".join(f"{n}\n" for n in names).encode("utf-8"))
        write_bytes_atomic(sequence / "seqinfo.ini", _seqinfo(item).encode("utf-8"))
        progress(done, len(dataset.items))
    write_json_atomic(out / "tracks.json", legend, indent=1)
    return out


def interior_point(mask: Mask) -> tuple[float, float]:
    """(x, y) of the mask's most interior pixel (distance-transform maximum); mask not empty."""
    padded = np.pad(mask.crop.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return (float(mask.bbox[0] + x - 1), float(mask.bbox[1] + y - 1))


def point_tracks(dataset: Dataset, item_index: int) -> dict[str, np.ndarray]:
    """The point-track arrays of one item (see the module docstring)."""
    item = dataset.items[item_index]
    count, frames = len(item.objects), item.frame_count
    points = np.full((count, frames, 2), np.nan, np.float32)
    visible = np.zeros((count, frames), bool)
    for n, obj in enumerate(item.objects):
        for frame, mask in obj.masks.items():
            if 0 <= frame < frames and not mask.is_empty:
                points[n, frame] = interior_point(mask)
                visible[n, frame] = True
    return {
        "points": points,
        "visible": visible,
        "object_ids": np.array(track_ids(item), np.int64),
        "names": np.array([o.name for o in item.objects], dtype=str),
        "labels": np.array([o.label or "" for o in item.objects], dtype=str),
        "frame_size": np.array([item.height, item.width], np.int64),
    }


def write_point_tracks(dataset: Dataset, out: Path, progress: Progress = no_progress) -> Path:
    """Write one point-track .npz per item into folder `out`."""
    out = Path(out)
    for index, item in enumerate(dataset.items):
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **point_tracks(dataset, index))
        write_bytes_atomic(out / f"{item.stem}.npz", buffer.getvalue())
        progress(index + 1, len(dataset.items))
    return out


def write_mot_tracks(tracks: TrackSet, out: Path) -> Path:
    """Write one video's box tracks as a MOT ground-truth sequence folder (seqinfo.ini, gt/gt.txt, gt/labels.txt)."""
    out = Path(out)
    tracks.check()
    names = tracks.labels()
    classes = {name: number for number, name in enumerate(names, 1)}
    rows = []
    for track in tracks.tracks:
        if track.kind != "box":
            log.info("MOT holds boxes only: track %d (%s) is left out", track.track_id, track.kind)
            continue
        for sample in track.shown():
            x0, y0, x1, y1 = sample.geometry
            visibility = 0 if sample.occluded.all() else 1
            label = classes[track.label] if track.label else -1
            rows.append((sample.frame + 1, track.track_id, x0, y0, x1 - x0, y1 - y0, label, visibility))
    rows.sort()
    text = "".join(
        f"{f},{t},{_mot_number(x)},{_mot_number(y)},{_mot_number(w)},{_mot_number(h)},1,{c},{v}\n"
        for f, t, x, y, w, h, c, v in rows
    )
    write_bytes_atomic(out / "gt" / "gt.txt", text.encode("utf-8"))
    write_bytes_atomic(out / "gt" / "labels.txt", "".join(f"{n}\n" for n in names).encode("utf-8"))
    ext = Path(tracks.frame_name(0)).suffix.lower() or ".jpg"
    info = seqinfo_text(tracks.name, tracks.fps, tracks.frame_count, tracks.width, tracks.height, ext)
    write_bytes_atomic(out / "seqinfo.ini", info.encode("utf-8"))
    return out


def _mot_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.2f}"


def read_mot_tracks(folder: Path) -> TrackSet:
    """Read a MOT sequence folder (seqinfo.ini + gt/gt.txt, or a results .txt file) as box tracks."""
    folder = Path(folder)
    gt = folder if folder.is_file() else folder / "gt" / "gt.txt"
    root = folder.parent if folder.is_file() else folder
    info = configparser.ConfigParser()
    info.optionxform = str  # type: ignore[assignment,method-assign]
    if (root / "seqinfo.ini").is_file():
        info.read(root / "seqinfo.ini", encoding="utf-8")
    seq = info["Sequence"] if info.has_section("Sequence") else {}
    labels_file = gt.parent / "labels.txt"
    names = labels_file.read_text(encoding="utf-8").split() if labels_file.is_file() else []
    try:
        lines = gt.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise FormatError(gt, "", f"cannot read the MOT file ({error})") from error
    result = TrackSet(
        str(seq.get("name", root.name)),
        int(seq.get("imWidth", 0)),
        int(seq.get("imHeight", 0)),
        int(seq.get("seqLength", 0)),
        float(seq.get("frameRate", 25)),
    )
    found: dict[int, TrackData] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        values = [v.strip() for v in line.replace(" ", ",").split(",") if v.strip()]
        try:
            frame, track_id = int(float(values[0])) - 1, int(float(values[1]))
            x, y, w, h = (float(v) for v in values[2:6])
            extra = [float(v) for v in values[6:]]
        except (IndexError, ValueError) as error:
            raise FormatError(gt, f"line {number}", f"expected frame,id,x,y,w,h,... ({error})") from error
        results = len(extra) == 4  # frame,id,x,y,w,h,conf,x,y,z
        score = extra[0] if results and extra else 1.0
        class_id = int(extra[1]) if len(extra) >= 2 and not results else -1
        visibility = extra[2] if len(extra) >= 3 and not results else 1.0
        label = names[class_id - 1] if 1 <= class_id <= len(names) else (str(class_id) if class_id > 0 else None)
        track = found.setdefault(track_id, TrackData(track_id, label, "box"))
        sample = TrackFrame(frame, np.array([x, y, x + w, y + h]), np.array([visibility < 0.5]), score=score)
        track.add(sample)
    result.tracks = [found[k] for k in sorted(found)]
    frames = [f for t in result.tracks for f in t.frames]
    result.frame_count = max([result.frame_count, *(f + 1 for f in frames)])
    return result
