"""Box and point tracks in the document: keyframes, tracking runs, undo/redo, storage and migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from annotator.document import AddItem, AddObject, CommandError, Project, RemoveObject
from annotator.document.store import SCHEMA_VERSION
from annotator.document.track_commands import ApplyTrackRun, ClearTrack, RemoveTrackSample, SetTrackSample
from annotator.document.tracks import TrackSample, interpolated_track, keyframe_limits


def _video(project: Project, frames: int = 10) -> tuple[int, int]:
    item = project.execute(AddItem("clip", "video", 64, 48, frames, 10.0))
    obj = project.execute(AddObject(item.id, None, "car"))
    return item.id, obj.id


def _tracked(frame: int, x: float) -> TrackSample:
    return TrackSample.of_box((x, 10, x + 10, 20), "tracker", score=0.8)


def test_a_keyframe_is_stored_and_reopens(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p.annot")
    item_id, obj_id = _video(project)
    events: list[tuple[int, int]] = []
    project.events.track_changed.connect(lambda o, f: events.append((o, f)))
    stored = project.execute(SetTrackSample(obj_id, 3, TrackSample.of_box((30, 20, 5, 4), "tracker", score=0.2)))
    assert stored == TrackSample("box", (5, 4, 30, 20), source="user")
    assert events == [(obj_id, 3)]
    assert project.track_kind(obj_id) == "box" and project.track_keyframes(obj_id) == [3]
    assert project.track_samples(item_id, 3) == {obj_id: stored} and project.track_samples(item_id, 4) == {}
    project.close()
    reopened = Project.open(tmp_path / "p.annot")
    assert reopened.track(obj_id) == {3: stored}
    reopened.close()


def test_a_tracking_run_skips_keyframes_and_undoes_in_one_step(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p.annot")
    _, obj_id = _video(project)
    key = project.execute(SetTrackSample(obj_id, 5, TrackSample.of_box((1, 2, 3, 4))))
    run = tuple((obj_id, f, _tracked(f, f)) for f in range(10))
    assert project.execute(ApplyTrackRun(run, "Track boxes")) == 9
    assert project.track_sample(obj_id, 5) == key  # the keyframe is untouched
    assert project.track_sample(obj_id, 7) == _tracked(7, 7)
    assert list(project.track(obj_id)) == list(range(10))
    assert project.history.undo_description == "Track boxes"
    project.undo()
    assert project.track(obj_id) == {5: key}
    project.redo()
    assert len(project.track(obj_id)) == 10
    project.close()
    reopened = Project.open(tmp_path / "p.annot")
    assert reopened.track_sample(obj_id, 9) == _tracked(9, 9) and reopened.track_sample(obj_id, 5) == key
    reopened.close()


def test_a_run_applied_frame_by_frame_in_a_group_is_one_undo_step(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p.annot")
    _, obj_id = _video(project)
    project.execute(SetTrackSample(obj_id, 9, TrackSample.of_box((1, 2, 3, 4))))
    project.begin_group("Track backward")
    for frame in range(8, -1, -1):  # a backward run inserts before the first frame: order is kept
        project.execute(ApplyTrackRun(((obj_id, frame, _tracked(frame, frame)),)))
    project.end_group()
    assert list(project.track(obj_id)) == list(range(10))
    project.undo()
    assert list(project.track(obj_id)) == [9]


def test_kinds_points_counts_and_locks_are_checked(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p.annot")
    item_id, obj_id = _video(project)
    points = TrackSample.of_points([(1, 1), (5, 5)], occluded=(False, True))
    project.execute(SetTrackSample(obj_id, 0, points))
    with pytest.raises(CommandError, match="points track"):
        project.execute(SetTrackSample(obj_id, 1, TrackSample.of_box((1, 2, 3, 4))))
    project.execute(ApplyTrackRun(((obj_id, 1, TrackSample.of_points([(2, 2), (6, 6)], "tracker")),)))
    # Growing the only keyframe drops the samples tracked from its earlier version.
    project.execute(SetTrackSample(obj_id, 0, TrackSample.of_points([(1, 1), (5, 5), (9, 9)])))
    assert list(project.track(obj_id)) == [0]
    project.execute(SetTrackSample(obj_id, 4, TrackSample.of_points([(1, 1), (5, 5), (7, 7)])))
    with pytest.raises(CommandError, match="3 points"):
        project.execute(SetTrackSample(obj_id, 6, TrackSample.of_points([(1, 1)])))
    with pytest.raises(CommandError, match="outside"):
        project.execute(SetTrackSample(obj_id, 10, TrackSample.of_points([(1, 1), (2, 2), (3, 3)])))
    assert project.track_sample(obj_id, 0).box == (1, 1, 9, 9)  # type: ignore[union-attr]
    other = project.execute(AddObject(item_id, None, "other"))
    project.execute(RemoveTrackSample(obj_id, 4))
    assert project.track_keyframes(obj_id) == [0] and project.track(other.id) == {}


def test_removing_an_object_removes_its_track_and_undo_brings_it_back(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p.annot")
    _, obj_id = _video(project)
    project.execute(SetTrackSample(obj_id, 0, TrackSample.of_box((1, 2, 3, 4))))
    project.execute(ApplyTrackRun(((obj_id, 1, _tracked(1, 1)),)))
    before = project.snapshot()
    project.execute(RemoveObject(obj_id))
    assert project.store.tracks.load(obj_id) == {}  # type: ignore[union-attr]
    project.undo()
    assert project.snapshot() == before
    project.close()
    assert Project.open(tmp_path / "p.annot").snapshot() == before


def test_clear_keeps_keyframes_when_asked_and_save_as_copies_tracks(tmp_path: Path) -> None:
    memory = Project.in_memory()
    _, obj_id = _video(memory)
    memory.execute(SetTrackSample(obj_id, 0, TrackSample.of_box((1, 2, 3, 4))))
    memory.execute(ApplyTrackRun(((obj_id, 1, _tracked(1, 1)),)))
    saved = memory.save_as(tmp_path / "s.annot")
    assert saved.track(obj_id) == memory.track(obj_id)
    saved.execute(ClearTrack(obj_id, keep_keyframes=True))
    assert saved.track_keyframes(obj_id) == [0] and len(saved.track(obj_id)) == 1


def test_interpolation_between_keyframes_is_linear_and_respects_outside() -> None:
    track = {
        0: TrackSample.of_box((0, 0, 10, 10)),
        4: TrackSample.of_box((40, 0, 50, 10), outside=True),
        6: TrackSample.of_box((60, 0, 70, 10)),
        8: TrackSample.of_box((80, 0, 90, 10)),
    }
    samples = interpolated_track(track, low=1, high=6)
    assert sorted(samples) == [1, 2, 3, 5]
    assert samples[2].geometry == (20, 0, 30, 10) and samples[2].source == "interpolated"
    assert samples[5].outside and samples[5].geometry == (40, 0, 50, 10)  # after an outside keyframe
    assert keyframe_limits(track, 5, 20) == (5, 5) and keyframe_limits(track, 8, 20) == (7, 19)
    assert keyframe_limits(track, 0, 20) == (0, 3)


def _as_schema_5(path: Path) -> None:
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TABLE track_samples")
    conn.execute("DROP INDEX proposals_by_group")  # schema 7's
    conn.execute("ALTER TABLE proposals DROP COLUMN group_id")
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()


def test_a_schema_5_project_migrates_with_a_backup_and_takes_tracks(tmp_path: Path) -> None:
    path = tmp_path / "old.annot"
    project = Project.create(path)
    _, obj_id = _video(project)
    project.close()
    _as_schema_5(path)
    migrated = Project.open(path)
    assert migrated.store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7  # type: ignore[union-attr]
    assert migrated.track(obj_id) == {}
    migrated.execute(SetTrackSample(obj_id, 2, TrackSample.of_box((1, 2, 3, 4))))
    migrated.close()
    backup = tmp_path / "old.annot.v5.bak"
    conn = sqlite3.connect(str(backup))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    conn.close()
    assert Project.open(path).track_keyframes(obj_id) == [2]
