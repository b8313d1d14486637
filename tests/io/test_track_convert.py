"""`annotator convert` of a project's box and point tracks to and from CVAT video, MOT gt, LaSOT and TAP-Vid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotator.cli import main
from annotator.document import AddItem, AddLabel, AddObject, Project, SetMask
from annotator.document.mask import Mask
from annotator.document.track_commands import ApplyTrackRun, SetTrackSample
from annotator.document.tracks import TrackSample
from annotator.io.cvat_video import read_cvat_video
from annotator.io.formats import detect_format
from annotator.io.track_files import read_tapvid
from annotator.io.tracks import read_mot_tracks

FRAMES = 8


def _project(path: Path) -> tuple[int, int]:
    """A video with a box track (keyframes 0 and 7, tracked 1-3, interpolated 4-6, outside on 5) and a points track."""
    project = Project.create(path)
    label = project.execute(AddLabel("car"))
    item = project.execute(AddItem("clips/road.mp4", "video", 64, 48, FRAMES, 10.0))
    car = project.execute(AddObject(item.id, label.id, "car 1"))
    project.execute(SetTrackSample(car.id, 0, TrackSample.of_box((2, 3, 12, 13))))
    project.execute(SetTrackSample(car.id, 7, TrackSample.of_box((30, 3, 40, 13), occluded=(True,))))
    run = [(car.id, f, TrackSample.of_box((2 + 4 * f, 3, 12 + 4 * f, 13), "tracker", score=0.9)) for f in (1, 2, 3)]
    run += [(car.id, f, TrackSample.of_box((2 + 4 * f, 3, 12 + 4 * f, 13), "interpolated")) for f in (4, 6)]
    run += [(car.id, 5, TrackSample.of_box((18, 3, 28, 13), "interpolated", outside=True))]
    project.execute(ApplyTrackRun(tuple(run)))
    dots = project.execute(AddObject(item.id, None, "dots"))
    for frame in range(FRAMES):
        points = [(5.0 + frame, 20.0), (9.5, 30.25 + frame)]
        sample = TrackSample.of_points(points, "tracker" if frame else "user", occluded=(False, frame == 3), score=0.5)
        command = SetTrackSample(dots.id, 0, sample) if frame == 0 else ApplyTrackRun(((dots.id, frame, sample),))
        project.execute(command)
    project.execute(SetMask(car.id, 0, Mask.from_array(np.ones((48, 64), bool))))
    project.close()
    return car.id, dots.id


def _tracks(path: Path) -> list[dict[int, TrackSample]]:
    project = Project.open(path)
    try:
        item = project.items[0]
        return [dict(project.track(obj.id)) for obj in project.objects(item.id)]
    finally:
        project.close()


def _same(a: dict[int, TrackSample], b: dict[int, TrackSample]) -> None:
    assert sorted(a) == sorted(b)
    for frame in a:
        x, y = a[frame], b[frame]
        assert (x.kind, x.source, x.outside, x.occluded) == (y.kind, y.source, y.outside, y.occluded), frame
        assert np.allclose(x.geometry, y.geometry, atol=0.01), frame


def test_cvat_video_round_trip_keeps_keyframes_sources_and_occlusion(tmp_path: Path) -> None:
    src = tmp_path / "p.annot"
    _project(src)
    xml = tmp_path / "road.xml"
    assert main(["convert", str(src), "-o", str(xml), "--to", "cvat-video"]) == 0
    written = read_cvat_video(xml)
    assert written.name == "road" and (written.width, written.height, written.frame_count) == (64, 48, FRAMES)
    kinds = {t.name or t.label: t.kind for t in written.tracks}
    assert sorted(kinds.values()) == ["box", "points"] and len(written.tracks[0].frames) == FRAMES
    assert detect_format(xml) == "cvat-video"
    back = tmp_path / "back.annot"
    assert main(["convert", str(xml), "-o", str(back), "--to", "project"]) == 0
    original, restored = _tracks(src), _tracks(back)
    _same(original[0], restored[0])
    _same(original[1], restored[1])
    reopened = Project.open(back)
    assert [lab.name for lab in reopened.labels] == ["car"] and reopened.items[0].kind == "video"
    reopened.close()


def test_mot_gt_is_written_from_box_tracks_and_read_back(tmp_path: Path) -> None:
    src = tmp_path / "p.annot"
    _project(src)
    out = tmp_path / "mot"
    assert main(["convert", str(src), "-o", str(out), "--to", "mot-gt"]) == 0
    sequence = read_mot_tracks(out / "road")
    [track] = sequence.tracks  # points tracks have no place in MOT
    assert track.label == "car" and sorted(track.frames) == [0, 1, 2, 3, 4, 6, 7]  # frame 5 is outside
    assert np.allclose(track.frames[2].geometry, (10, 3, 20, 13)) and track.frames[7].occluded.all()
    assert detect_format(out) == "mot-gt"
    back = tmp_path / "back.annot"
    assert main(["convert", str(out), "-o", str(back), "--to", "project"]) == 0
    [restored] = _tracks(back)
    assert sorted(restored) == [0, 1, 2, 3, 4, 6, 7] and restored[2].box == (10, 3, 20, 13)


def test_lasot_and_tapvid_round_trips(tmp_path: Path) -> None:
    src = tmp_path / "p.annot"
    _project(src)
    lasot = tmp_path / "lasot"
    assert main(["convert", str(src), "-o", str(lasot), "--to", "lasot"]) == 0
    assert detect_format(lasot) == "lasot"
    back = tmp_path / "lasot.annot"
    assert main(["convert", str(lasot), "-o", str(back), "--to", "project"]) == 0
    [box] = _tracks(back)
    assert sorted(box) == [0, 1, 2, 3, 4, 6, 7] and box[7].occluded == (True,)
    pickle = tmp_path / "points.pkl"
    assert main(["convert", str(src), "-o", str(pickle), "--to", "tapvid"]) == 0
    [video] = read_tapvid(pickle)
    [points] = [t for t in video.tracks if t.kind == "points"]
    assert np.allclose(points.frames[3].geometry, [(8, 20), (9.5, 33.25)], atol=0.01)
    assert list(points.frames[3].occluded) == [False, True]
    back = tmp_path / "points.annot"
    assert main(["convert", str(pickle), "-o", str(back), "--to", "project"]) == 0
    [restored] = [t for t in _tracks(back) if t]
    assert np.allclose(restored[3].geometry, (8, 20, 9.5, 33.25), atol=0.01) and restored[3].occluded == (False, True)


def test_a_project_without_tracks_is_refused_for_a_track_format(tmp_path: Path) -> None:
    src = tmp_path / "p.annot"
    Project.create(src).close()
    assert main(["convert", str(src), "-o", str(tmp_path / "x.xml"), "--to", "cvat-video"]) == 2
    with pytest.raises(SystemExit):
        main(["convert", str(src), "-o", str(tmp_path / "y"), "--to", "nonsense"])
