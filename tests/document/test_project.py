"""Project: commands, events, persistence, lazy loading, undo/redo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotator.document import (
    AddItem,
    AddLabel,
    AddObject,
    Batch,
    CommandError,
    Mask,
    MergeObjects,
    MoveObject,
    Project,
    RemoveItem,
    RemoveLabel,
    RemoveObject,
    SetMask,
    UpdateObject,
)
from annotator.document.changes import MaskChange
from annotator.document.history import History, Step


def _rect(x0: int, y0: int, x1: int, y1: int, size: tuple[int, int] = (48, 64)) -> Mask:
    full = np.zeros(size, bool)
    full[y0:y1, x0:x1] = True
    return Mask.from_array(full)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "p.annot")


def _setup(project: Project) -> tuple[int, int, int]:
    label = project.execute(AddLabel("cat"))
    item = project.execute(AddItem("a.png", "image", 64, 48))
    obj = project.execute(AddObject(item.id, label.id))
    return label.id, item.id, obj.id


def test_edits_are_saved_at_once_and_reopen(project: Project, tmp_path: Path) -> None:
    _label_id, _item_id, obj_id = _setup(project)
    project.execute(SetMask(obj_id, 0, _rect(5, 5, 20, 20)))
    project.execute(UpdateObject(obj_id, name="tabby", visible=False))
    expected = project.snapshot()
    # A second connection sees everything without close(): each execute committed.
    other = Project.open(tmp_path / "p.annot")
    assert other.snapshot() == expected
    assert other.object(obj_id).name == "tabby" and not other.object(obj_id).visible
    assert other.mask(obj_id) == _rect(5, 5, 20, 20)


def test_mask_undo_stores_a_tight_diff_not_a_snapshot(project: Project) -> None:
    _, _, obj_id = _setup(project)
    project.execute(SetMask(obj_id, 0, _rect(0, 0, 60, 40)))
    project.execute(
        SetMask(obj_id, 0, Mask.from_array(_rect(0, 0, 60, 40).to_array() | _rect(61, 45, 63, 47).to_array()))
    )
    change = project.history._undo[-1].changes[0]
    assert isinstance(change, MaskChange)
    assert change.box == (61, 45, 63, 47) and change.after.shape == (2, 2)
    project.undo()
    assert project.mask(obj_id) == _rect(0, 0, 60, 40)
    project.redo()
    assert project.mask(obj_id).area == 60 * 40 + 4


def test_a_change_over_most_of_the_frame_keeps_the_whole_frame_and_undoes_exactly(
    project: Project, tmp_path: Path
) -> None:
    _, _, obj_id = _setup(project)
    rng = np.random.default_rng(3)
    ragged = [Mask.from_array(rng.random((48, 64)) > 0.5) for _ in range(3)]
    for mask in ragged:
        project.execute(SetMask(obj_id, 0, mask))
    change = project.history._undo[-1].changes[0]
    assert isinstance(change, MaskChange) and change.box == (0, 0, 64, 48)
    assert np.array_equal(change.before, ragged[1].to_array()) and np.array_equal(change.after, ragged[2].to_array())
    assert "_planned" not in change.__dict__  # the history keeps patches only, not the masks
    project.undo()
    assert project.mask(obj_id) == ragged[1]
    project.undo()
    assert project.mask(obj_id) == ragged[0]
    project.redo()
    project.redo()
    assert project.mask(obj_id) == ragged[2]
    assert Project.open(tmp_path / "p.annot").mask(obj_id) == ragged[2]
    project.undo()
    project.undo()
    project.undo()
    assert project.mask(obj_id) is None
    assert Project.open(tmp_path / "p.annot").mask(obj_id) is None


def test_new_edit_clears_redo_and_history_is_bounded() -> None:
    project = Project.in_memory()
    _, _, obj_id = _setup(project)
    project.execute(SetMask(obj_id, 0, _rect(1, 1, 5, 5)))
    project.undo()
    assert project.history.can_redo
    project.execute(SetMask(obj_id, 0, _rect(2, 2, 6, 6)))
    assert not project.history.can_redo
    history = History(max_steps=3)
    for index in range(5):
        history.push(Step(str(index), ()))
    assert [s.description for s in history._undo] == ["2", "3", "4"]


def test_batch_is_one_step_and_one_transaction(project: Project) -> None:
    _, _, _obj_id = _setup(project)
    item = project.execute(AddItem("v.mp4", "video", 64, 48, frame_count=5, fps=25))
    video_obj = project.execute(AddObject(item.id))
    steps = len(project.history._undo)
    project.execute(Batch(tuple(SetMask(video_obj.id, f, _rect(f, f, f + 10, f + 10), "propagated") for f in range(5))))
    assert len(project.history._undo) == steps + 1
    assert project.mask_frames(video_obj.id) == [0, 1, 2, 3, 4]
    assert project.mask_record(video_obj.id, 3).source == "propagated"
    project.undo()
    assert project.mask_frames(video_obj.id) == []


def test_failed_command_changes_nothing(project: Project) -> None:
    _, _item_id, obj_id = _setup(project)
    before = project.snapshot()
    bad = Batch((SetMask(obj_id, 0, _rect(1, 1, 9, 9)), SetMask(obj_id, 3, _rect(1, 1, 2, 2))))
    with pytest.raises(CommandError, match="frame 3"):
        project.execute(bad)
    assert project.snapshot() == before
    assert Project.open(project.path).snapshot() == before
    with pytest.raises(CommandError, match="does not fit"):
        project.execute(SetMask(obj_id, 0, _rect(0, 0, 5, 5, size=(10, 10))))
    with pytest.raises(CommandError, match="exists already"):
        project.execute(AddLabel("cat"))
    with pytest.raises(CommandError, match="no object"):
        project.execute(SetMask(999, 0, None))


def test_locked_objects_refuse_edits(project: Project) -> None:
    _, _, obj_id = _setup(project)
    project.execute(UpdateObject(obj_id, locked=True))
    with pytest.raises(CommandError, match="locked"):
        project.execute(SetMask(obj_id, 0, _rect(1, 1, 4, 4)))
    with pytest.raises(CommandError, match="locked"):
        project.execute(RemoveObject(obj_id))


def test_remove_label_clears_it_from_objects_and_undo_restores(project: Project) -> None:
    label_id, _, obj_id = _setup(project)
    project.execute(RemoveLabel(label_id))
    assert project.object(obj_id).label_id is None and project.labels == []
    project.undo()
    assert project.object(obj_id).label_id == label_id
    assert Project.open(project.path).object(obj_id).label_id == label_id


def test_move_merge_and_remove_item(project: Project) -> None:
    _, item_id, first = _setup(project)
    second = project.execute(AddObject(item_id)).id
    third = project.execute(AddObject(item_id, index=0)).id
    assert [o.id for o in project.objects(item_id)] == [third, first, second]
    project.execute(MoveObject(third, 2))
    assert [o.id for o in Project.open(project.path).objects(item_id)] == [first, second, third]
    project.execute(SetMask(first, 0, _rect(0, 0, 10, 10)))
    project.execute(SetMask(second, 0, _rect(20, 20, 30, 30)))
    project.execute(MergeObjects(first, (second,)))
    assert project.mask(first).area == 200 and [o.id for o in project.objects(item_id)] == [first, third]
    project.execute(RemoveItem(item_id))
    assert project.items == []
    assert Project.open(project.path).store.counts() == {
        "label": 1,
        "item": 0,
        "object": 0,
        "run": 0,
        "proposal": 0,
        "mask": 0,
    }
    project.undo()
    project.undo()
    reopened = Project.open(project.path)
    assert [o.id for o in reopened.objects(item_id)] == [first, second, third]
    assert reopened.mask(second) == _rect(20, 20, 30, 30)


def test_events_come_in_before_after_pairs(project: Project) -> None:
    seen: list[tuple] = []
    events = project.events
    events.rows_inserting.connect(lambda kind, parent, index: seen.append(("inserting", kind, index)))
    events.rows_inserted.connect(lambda kind, parent, index, row: seen.append(("inserted", kind, index)))
    events.rows_removing.connect(lambda kind, parent, index, row: seen.append(("removing", kind, index)))
    events.rows_removed.connect(lambda kind, parent, index, row: seen.append(("removed", kind, index)))
    events.mask_changed.connect(lambda obj, frame: seen.append(("mask", obj, frame)))
    _, _item_id, obj_id = _setup(project)
    project.execute(SetMask(obj_id, 0, _rect(1, 1, 3, 3)))
    project.execute(RemoveObject(obj_id))
    assert seen == [
        ("inserting", "label", 0),
        ("inserted", "label", 0),
        ("inserting", "item", 0),
        ("inserted", "item", 0),
        ("inserting", "object", 0),
        ("inserted", "object", 0),
        ("mask", obj_id, 0),
        ("mask", obj_id, 0),
        ("removing", "object", 0),
        ("removed", "object", 0),
    ]


def test_objects_and_masks_load_lazily(project: Project) -> None:
    _, item_id, obj_id = _setup(project)
    project.execute(SetMask(obj_id, 0, _rect(1, 1, 30, 30)))
    reopened = Project.open(project.path)
    assert reopened._objects == {} and len(reopened._masks) == 0
    assert reopened.object(obj_id).item_id == item_id
    assert len(reopened._masks) == 0
    assert reopened.mask(obj_id).area == 29 * 29


def test_save_as_writes_an_in_memory_project(tmp_path: Path) -> None:
    memory = Project.in_memory()
    _, _, obj_id = _setup(memory)
    memory.execute(SetMask(obj_id, 0, _rect(3, 3, 9, 9)))
    saved = memory.save_as(tmp_path / "copy.annot")
    assert saved.snapshot() == memory.snapshot()
    again = saved.save_as(tmp_path / "copy2.annot")
    assert again.snapshot() == memory.snapshot()


def test_mask_cache_is_bounded_but_content_survives(tmp_path: Path) -> None:
    project = Project(None)
    project = Project.create(tmp_path / "big.annot")
    project._max_cached = 4
    item = project.execute(AddItem("v.mp4", "video", 64, 48, frame_count=20))
    obj = project.execute(AddObject(item.id))
    project.execute(Batch(tuple(SetMask(obj.id, f, _rect(f, 0, f + 5, 5)) for f in range(20))))
    assert len(project._masks) <= 4
    assert all(project.mask(obj.id, f) == _rect(f, 0, f + 5, 5) for f in range(20))
    project.undo()
    assert all(project.mask(obj.id, f) is None for f in range(20))


def test_a_group_of_commands_is_one_undo_step_saved_as_it_goes(project: Project) -> None:
    item = project.execute(AddItem("v.mp4", "video", 64, 48, frame_count=6))
    obj = project.execute(AddObject(item.id, mask=_rect(0, 0, 10, 10)))
    steps = len(project.history._undo)
    project.begin_group("Propagate")
    for frame in range(1, 4):
        project.execute(SetMask(obj.id, frame, _rect(frame, 0, frame + 10, 10), "propagated"))
        assert Project.open(project.path).mask_frames(obj.id) == list(range(frame + 1))
    assert not project.undo()  # no undo in the middle of a run
    project.end_group()
    assert len(project.history._undo) == steps + 1
    assert project.frame_sources(obj.id) == {0: "user", 1: "propagated", 2: "propagated", 3: "propagated"}
    project.undo()
    assert project.mask_frames(obj.id) == [0]
    assert Project.in_memory().frame_sources(1) == {}


def test_a_store_that_fails_mid_session_loses_nothing(project: Project, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    _, item_id, obj_id = _setup(project)
    project.execute(SetMask(obj_id, 0, _rect(0, 0, 10, 10)))
    failures: list[str] = []
    project.events.store_failed.connect(failures.append)

    def broken(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(project.store, "write_mask", broken)
    project.execute(SetMask(obj_id, 0, _rect(0, 0, 20, 20)))  # the disk fails here
    assert project.unsaved and len(failures) == 1 and "Save As" in failures[0]
    assert project.mask(obj_id) == _rect(0, 0, 20, 20)  # the edit the user saw is kept
    second = project.execute(AddObject(item_id, mask=_rect(30, 30, 40, 40)))
    project.undo()
    project.redo()
    expected = project.snapshot()
    saved = project.save_as(tmp_path / "rescued.annot")
    assert not saved.unsaved
    assert saved.snapshot() == expected
    assert Project.open(tmp_path / "rescued.annot").mask(second.id) == _rect(30, 30, 40, 40)
