"""Box and point track codecs: CVAT for video 1.1, MOT gt.txt + seqinfo.ini, LaSOT / GOT-10k, TAP-Vid,
COCO keypoints; read back by ourselves and by real consumers (py-motmetrics, pycocotools, Datumaro)."""

from __future__ import annotations

import configparser
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from annotator.errors import FormatError
from annotator.io.cvat_video import read_cvat_video, write_cvat_video
from annotator.io.track_data import TrackData, TrackFrame, TrackSet
from annotator.io.track_files import (
    coco_keypoints,
    read_single_object,
    read_tapvid,
    write_coco_keypoints,
    write_single_object,
    write_tapvid,
)
from annotator.io.tracks import read_mot_tracks, write_mot_tracks

from .conftest import consumer_python

FRAMES = 12


def box(frame: int, x: float, y: float, **kw: object) -> TrackFrame:
    """A 40 x 30 box sample at (x, y)."""
    return TrackFrame(frame, np.array([x, y, x + 40, y + 30]), **kw)  # type: ignore[arg-type]


@pytest.fixture
def tracks() -> TrackSet:
    """A 12-frame video: a dog box track (user keyframes, tracker frames, an occluded and an outside span,
    ending early), an unlabelled box track, a cat points track with per-point occlusion."""
    dog = TrackData(3, "dog", "box", name="rex")
    dog.add(box(0, 10.5, 20.25))
    for frame in range(1, 6):
        dog.add(box(frame, 10.5 + 4 * frame, 20.25 + frame, source="tracker", occluded=[frame == 3]))
    dog.add(box(6, 40, 26, outside=True, source="tracker"))
    dog.add(box(8, 50, 30))
    dog.add(box(9, 52, 31, keyframe=False, source="interpolated"))
    free = TrackData(5, None, "box")
    for frame in range(FRAMES):
        free.add(box(frame, 100 + frame, 60, source="user" if frame in (0, 11) else "tracker"))
    cat = TrackData(7, "cat", "points")
    for frame in range(2, 10):
        points = np.array([[30 + frame, 40], [60, 70 - frame], [90.5, 20.25]])
        occluded = [False, frame in (4, 5), frame == 7]
        cat.add(TrackFrame(frame, points, occluded, source="user" if frame == 2 else "tracker"))
    return TrackSet("walk", 160, 120, FRAMES, 10.0, [f"{i:05d}.jpg" for i in range(FRAMES)], [dog, free, cat])


def assert_same_frames(a: TrackData, b: TrackData, places: int = 2) -> None:
    """Same frames with the same geometry (to `places` decimals), flags and sources."""
    assert a.kind == b.kind and a.label == b.label and sorted(a.frames) == sorted(b.frames)
    for frame, sample in a.frames.items():
        other = b.frames[frame]
        assert np.round(sample.geometry, places).tolist() == np.round(other.geometry, places).tolist(), frame
        assert sample.occluded.tolist() == other.occluded.tolist(), frame
        assert (sample.outside, sample.keyframe, sample.source) == (other.outside, other.keyframe, other.source), frame


def test_cvat_round_trip_keeps_keyframes_flags_sources_and_per_point_occlusion(
    tracks: TrackSet, tmp_path: Path
) -> None:
    path = write_cvat_video(tracks, tmp_path / "cvat")
    assert path.name == "annotations.xml"
    back = read_cvat_video(tmp_path / "cvat")
    assert (back.name, back.width, back.height, back.frame_count) == ("walk", 160, 120, FRAMES)
    dog, free, cat = back.tracks
    # The dog track ends on frame 9: an outside keyframe on frame 10 ends it for CVAT.
    assert dog.frames[10].outside and dog.frames[10].keyframe
    del dog.frames[10]
    assert_same_frames(tracks.tracks[0], dog)
    assert_same_frames(tracks.tracks[1], free)
    assert free.label is None  # written under the label 'object', read back unlabelled
    assert cat.frames[10].outside
    del cat.frames[10]
    assert_same_frames(tracks.tracks[2], cat)


def test_cvat_xml_is_what_cvat_expects(tracks: TrackSet, tmp_path: Path) -> None:
    root = ET.parse(write_cvat_video(tracks, tmp_path / "a.xml")).getroot()
    assert root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task is not None and task.findtext("mode") == "interpolation" and task.findtext("stop_frame") == "11"
    assert task.findtext("original_size/width") == "160"
    assert [label.findtext("name") for label in task.iter("label")] == ["dog", "cat", "object"]
    dog, free, cat = root.findall("track")
    assert (dog.get("label"), dog.get("source")) == ("dog", "semi-auto")
    boxes = dog.findall("box")
    assert all(b.get("keyframe") == "1" for b in boxes if b.get("frame") != "9")  # tracker frames are keyframes
    assert [b.get("keyframe") for b in boxes if b.get("frame") == "9"] == ["0"]  # the interpolated one is not
    assert [b.get("frame") for b in boxes if b.get("outside") == "1"] == ["6", "10"]
    assert [b.get("occluded") for b in boxes][:5] == ["0", "0", "0", "1", "0"]
    assert boxes[0].get("xtl") == "10.50" and boxes[0].get("ybr") == "50.25"
    assert len(free.findall("box")) == FRAMES  # runs to the end: no outside terminator
    shapes = cat.findall("points")
    assert shapes[0].get("points") == "32.00,40.00;60.00,68.00;90.50,20.25"
    flags = {s.get("frame"): s.findtext("attribute[@name='occluded_points']") for s in shapes}
    assert flags["4"] == "0,1,0" and flags["7"] == "0,0,1" and flags["2"] is None


def test_cvat_reader_names_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<annotations><track id='0' label='x'><box frame='0' xtl='1'/></track></annotations>")
    with pytest.raises(FormatError, match="track 0"):
        read_cvat_video(bad)
    bad.write_text("<nope/>")
    with pytest.raises(FormatError, match="<annotations>"):
        read_cvat_video(bad)
    bad.write_text("<annotations>")
    with pytest.raises(FormatError, match=r"bad\.xml"):
        read_cvat_video(bad)


def test_mot_round_trip_is_one_based_with_seqinfo(tracks: TrackSet, tmp_path: Path) -> None:
    out = write_mot_tracks(tracks, tmp_path / "walk")
    info = configparser.ConfigParser()
    info.read(out / "seqinfo.ini")
    assert dict(info["Sequence"]) == {
        "name": "walk",
        "imdir": "img1",
        "framerate": "10",
        "seqlength": "12",
        "imwidth": "160",
        "imheight": "120",
        "imext": ".jpg",
    }
    rows = [line.split(",") for line in (out / "gt" / "gt.txt").read_text().splitlines()]
    assert rows[0] == ["1", "3", "10.50", "20.25", "40", "30", "1", "1", "1"]  # frame 1 = our frame 0
    assert (out / "gt" / "labels.txt").read_text().split() == ["dog", "cat"]
    back = read_mot_tracks(out)
    assert back.frame_count == FRAMES and [t.track_id for t in back.tracks] == [3, 5]
    dog = back.tracks[0]
    assert sorted(dog.frames) == [0, 1, 2, 3, 4, 5, 8, 9]  # the outside frame is not in MOT
    assert dog.label == "dog" and dog.frames[3].occluded.tolist() == [True]
    original = tracks.tracks[0]
    for frame, sample in dog.frames.items():
        assert np.allclose(sample.geometry, original.frames[frame].geometry, atol=0.01)
    assert back.tracks[1].label is None and len(back.tracks[1].frames) == FRAMES


@pytest.mark.filterwarnings("ignore:Operation with tuple is deprecated")  # inside py-motmetrics
def test_py_motmetrics_scores_our_mot_export_against_itself_perfectly(
    tracks: TrackSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mm = pytest.importorskip("motmetrics")
    # py-motmetrics 1.4.0's IoU distance still calls np.asfarray, which numpy 2 removed; give it back here only.
    monkeypatch.setattr(np, "asfarray", lambda a, dtype=np.float64: np.asarray(a, dtype=dtype), raising=False)
    gt_file = write_mot_tracks(tracks, tmp_path / "walk") / "gt" / "gt.txt"
    gt = mm.io.loadtxt(str(gt_file), fmt="mot16", min_confidence=-1)
    assert len(gt) == 8 + FRAMES
    accumulator = mm.utils.compare_to_groundtruth(gt, gt, "iou", distth=0.5)
    summary = mm.metrics.create().compute(accumulator, metrics=["mota", "idf1", "num_switches", "num_objects"])
    assert summary["mota"].iloc[0] == 1.0 and summary["idf1"].iloc[0] == 1.0
    assert summary["num_switches"].iloc[0] == 0 and summary["num_objects"].iloc[0] == 8 + FRAMES


@pytest.mark.parametrize("style", ["lasot", "got10k"])
def test_single_object_round_trip(tracks: TrackSet, tmp_path: Path, style: str) -> None:
    folders = write_single_object(tracks, tmp_path, style)
    assert [f.name for f in folders] == ["walk-3", "walk-5"]  # the points track is left out
    lines = (folders[0] / "groundtruth.txt").read_text().splitlines()
    assert len(lines) == FRAMES and lines[0] == "10.5,20.25,40,30" and lines[6] == "0,0,0,0"
    if style == "lasot":
        assert (folders[0] / "out_of_view.txt").read_text().strip() == "0,0,0,0,0,0,1,1,0,0,1,1"
        assert (folders[0] / "full_occlusion.txt").read_text().strip() == "0,0,0,1,0,0,0,0,0,0,0,0"
    else:
        assert (folders[0] / "cover.label").read_text().split()[:7] == ["8", "8", "8", "4", "8", "8", "0"]
    back = read_single_object(folders[0], 3, "dog")
    assert sorted(back.frames) == [0, 1, 2, 3, 4, 5, 8, 9]
    assert back.frames[3].occluded.tolist() == [True] and not back.frames[2].occluded.any()
    for frame, sample in back.frames.items():
        assert np.allclose(sample.geometry, tracks.tracks[0].frames[frame].geometry, atol=0.01)
    with pytest.raises(FormatError, match="groundtruth"):
        read_single_object(tmp_path / "missing")


@pytest.mark.parametrize("name", ["walk.npz", "all.pkl"])
def test_tapvid_round_trip_is_normalised_with_occlusion(tracks: TrackSet, tmp_path: Path, name: str) -> None:
    path = write_tapvid([tracks], tmp_path / name)
    if name.endswith(".npz"):
        with np.load(path) as data:
            points, occluded = data["points"], data["occluded"]
    else:
        import pickle

        with path.open("rb") as handle:
            video = pickle.load(handle)["walk"]
        points, occluded = video["points"], video["occluded"]
    assert points.shape == (3, FRAMES, 2) and points.dtype == np.float32 and occluded.shape == (3, FRAMES)
    assert points[2, 3].tolist() == pytest.approx([90.5 / 160, 20.25 / 120])  # (1, 1) = bottom-right corner
    assert occluded[:, 0].all() and occluded[:, 11].all()  # no sample there
    assert occluded[1, 4] and not occluded[0, 4] and occluded[2, 7]
    assert np.isfinite(points).all()
    (back,) = read_tapvid(path)
    (cat,) = back.tracks
    assert (back.width, back.height, cat.track_id) == (160, 120, 7)
    for frame, sample in tracks.tracks[2].frames.items():
        assert np.allclose(cat.frames[frame].geometry, sample.geometry, atol=1e-3)
        assert cat.frames[frame].occluded.tolist() == sample.occluded.tolist()


def test_tapvid_reads_the_datasets_own_layout(tmp_path: Path) -> None:
    import pickle

    rng = np.random.default_rng(0)
    video = {"video": np.zeros((5, 48, 64, 3), np.uint8), "points": rng.uniform(0, 1, (4, 5, 2)).astype(np.float32)}
    video["occluded"] = rng.uniform(0, 1, (4, 5)) > 0.7
    (tmp_path / "tapvid_davis.pkl").write_bytes(pickle.dumps({"bear": video}))
    (bear,) = read_tapvid(tmp_path / "tapvid_davis.pkl")
    assert (bear.name, bear.width, bear.height, bear.frame_count, len(bear.tracks)) == ("bear", 64, 48, 5, 4)
    assert np.allclose(bear.tracks[1].frames[2].geometry, video["points"][1, 2] * [64, 48])
    assert bear.tracks[3].frames[4].occluded.tolist() == [bool(video["occluded"][3, 4])]
    (tmp_path / "broken.pkl").write_bytes(b"not a pickle")
    with pytest.raises(FormatError, match=r"broken\.pkl"):
        read_tapvid(tmp_path / "broken.pkl")


def test_coco_keypoints_with_track_ids_load_in_pycocotools(tracks: TrackSet, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    data = coco_keypoints(tracks)
    assert [c["name"] for c in data["categories"]] == ["cat"] and data["categories"][0]["keypoints"] == [
        "p0",
        "p1",
        "p2",
    ]
    assert len(data["images"]) == FRAMES and len(data["annotations"]) == 8
    first = data["annotations"][0]
    assert first["image_id"] == 3 and first["track_id"] == 7 and first["attributes"]["track_id"] == 7
    assert first["keypoints"] == [32.0, 40.0, 2, 60.0, 68.0, 2, 90.5, 20.25, 2]
    assert data["annotations"][2]["keypoints"][5] == 1  # frame 4: the second point is occluded
    path = write_coco_keypoints(tracks, tmp_path / "person_keypoints_default.json")
    coco = COCO(str(path))
    assert len(coco.getAnnIds()) == 8 and len(coco.getImgIds()) == FRAMES
    assert {a["track_id"] for a in coco.loadAnns(coco.getAnnIds())} == {7}


def test_values_refuse_what_does_not_fit() -> None:
    track = TrackData(1, "x", "points")
    track.add(TrackFrame(0, np.zeros((3, 2))))
    with pytest.raises(ValueError, match="has 3 points"):
        track.add(TrackFrame(1, np.zeros((2, 2))))
    with pytest.raises(ValueError, match="points track"):
        track.add(TrackFrame(1, np.zeros(4)))
    with pytest.raises(ValueError, match="unknown sample source"):
        TrackFrame(0, np.zeros(4), source="guess")  # type: ignore[arg-type]
    video = TrackSet("v", 10, 10, 2, tracks=[TrackData(1, None, "box", {5: TrackFrame(5, np.zeros(4))})])
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        video.check()


def _datumaro_python() -> str | None:
    return consumer_python("datumaro", "ANNOTATOR_DATUMARO_PYTHON", ".venv-datumaro")


@pytest.fixture(scope="module")
def datumaro() -> str:
    """The interpreter with Datumaro (the test is skipped without one)."""
    python = _datumaro_python()
    if python is None:
        pytest.skip("no interpreter with the datumaro package (make .venv-datumaro or set ANNOTATOR_DATUMARO_PYTHON)")
    return python


def _datumaro_read(python: str, fmt: str, path: Path, out: Path) -> dict:
    script = Path(__file__).with_name("datumaro_reference.py")
    subprocess.run(
        [python, str(script), "read", fmt, str(path), str(out)], check=True, timeout=300, capture_output=True
    )
    return json.loads(out.read_text())


def test_datumaro_reads_our_cvat_video_tracks_with_the_same_counts(
    datumaro: str, tracks: TrackSet, tmp_path: Path
) -> None:
    write_cvat_video(tracks, tmp_path / "cvat")
    theirs = _datumaro_read(datumaro, "cvat", tmp_path / "cvat", tmp_path / "d.json")
    annotations = [a for item in theirs["items"] for a in item["annotations"]]
    shown = [a for a in annotations if not a["attributes"].get("outside")]
    ours = sum(len(t.shown()) for t in tracks.tracks)
    assert len(shown) == ours
    boxes = [a for a in shown if a["type"] == "bbox"]
    assert len(boxes) == 8 + FRAMES and sum(a["type"] == "points" for a in shown) == 8
    assert {a["attributes"]["track_id"] for a in boxes} == {0, 1}
    assert sum(bool(a["attributes"]["keyframe"]) for a in boxes) == 8 + FRAMES - 1  # all but the interpolated one
    assert {a["label"] for a in annotations} == {"dog", "cat", "object"}


def test_datumaro_reads_our_mot_export_with_the_same_counts(datumaro: str, tracks: TrackSet, tmp_path: Path) -> None:
    write_mot_tracks(tracks, tmp_path / "walk")
    theirs = _datumaro_read(datumaro, "mot_seq", tmp_path / "walk", tmp_path / "d.json")
    boxes = [a for item in theirs["items"] for a in item["annotations"] if a["type"] == "bbox"]
    assert len(boxes) == 8 + FRAMES
    assert sum(bool(a["attributes"].get("occluded")) for a in boxes) == 1
    assert sorted({a["attributes"]["track_id"] for a in boxes}) == [3, 5]
    dog = [a for a in boxes if a["attributes"]["track_id"] == 3]
    assert {a["label"] for a in dog} == {"dog"} and dog[0]["bbox"] == pytest.approx([10.5, 20.25, 40, 30])


def test_we_read_datumaros_own_mot_sequence(datumaro: str, tmp_path: Path) -> None:
    script = Path(__file__).with_name("datumaro_reference.py")
    subprocess.run([datumaro, str(script), "write-mot", str(tmp_path / "dm")], check=True, timeout=300)
    theirs = read_mot_tracks(tmp_path / "dm")
    assert theirs.frame_count == 3 and [t.track_id for t in theirs.tracks] == [1, 2]
    car, person = theirs.tracks
    assert (car.label, person.label) == ("car", "person") and sorted(car.frames) == [0, 1, 2]
    assert car.frames[2].geometry.tolist() == [20.0, 20.0, 50.0, 60.0]
    assert [person.frames[f].occluded.tolist() for f in range(3)] == [[False], [True], [False]]
