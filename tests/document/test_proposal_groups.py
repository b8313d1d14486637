"""Groups of proposals (one instance tracked through a video, one proposal per frame): added by one
run, accepted as ONE object holding all the group's frames, rejected as a whole; undo, the file, and
the migration of a schema 6 file (no group column) to schema 7."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from annotator.document import (
    AcceptProposals,
    AddItem,
    AddObject,
    AddProposals,
    Found,
    Mask,
    Project,
    RejectProposals,
)
from annotator.document.store import SCHEMA_VERSION

H, W, FRAMES = 40, 60, 6


def _square(x: int, y: int, side: int = 8) -> Mask:
    array = np.zeros((H, W), bool)
    array[y : y + side, x : x + side] = True
    return Mask.from_array(array)


def _tracked() -> tuple[Found, ...]:
    """Two instances of 'bus': group 7 on frames 0-3 (moving right, empty on frame 4: gone), group 9
    on frames 2-5; and one 'bus' found alone on frame 1 (no group)."""
    found = [Found(_square(2 + 4 * f, 2), 0.9 - 0.05 * f, "bus", frame=f, group=7) for f in range(4)]
    found.append(Found(Mask.empty(H, W), 0.5, "bus", frame=4, group=7))
    found += [Found(_square(40, 25), 0.6, "bus", frame=f, group=9) for f in range(2, 6)]
    found.append(Found(_square(30, 30, 4), 0.3, "bus", frame=1))
    return tuple(found)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "p.annot")
    project.execute(AddItem("clip.mp4", "video", W, H, FRAMES, 10.0))
    yield project
    project.close()


def _groups(project: Project) -> dict[int | None, list[int]]:
    """Group id -> the frames of its proposals, sorted."""
    out: dict[int | None, list[int]] = {}
    for proposal in project.proposals(1):
        out.setdefault(proposal.group_id, []).append(proposal.frame)
    return {group: sorted(frames) for group, frames in out.items()}


def test_a_tracked_run_adds_one_proposal_per_frame_of_each_group_in_one_step(project: Project) -> None:
    _, made = project.execute(AddProposals(1, _tracked(), "find-video", "sam3", frame=2))
    assert project.history.undo_description == "Find 'bus' through the video"
    assert len(made) == 9  # the empty mask of frame 4 is no proposal
    groups = _groups(project)
    first = {group: min(p.id for p in made if p.group_id == group) for group in groups if group is not None}
    assert set(groups) == {*first, None} and all(group == first[group] for group in first)  # id of its first
    assert sorted(groups[g] for g in first) == [[0, 1, 2, 3], [2, 3, 4, 5]] and groups[None] == [1]
    assert project.proposal_counts() == {1: 9}
    assert project.undo() and project.proposals(1) == []
    assert project.redo() and _groups(project) == groups


def test_accepting_one_proposal_of_a_group_makes_one_object_on_all_its_frames(project: Project) -> None:
    mine = project.execute(AddObject(1, None, "mine", mask=_square(0, 30), frame=2))
    _, made = project.execute(AddProposals(1, _tracked(), "find-video", "sam3"))
    before = project.snapshot()
    picked = next(p for p in made if p.group_id is not None and p.frame == 1)  # the moving bus, on frame 1
    objects = project.execute(AcceptProposals((picked.id,)))
    assert len(objects) == 1 and project.history.undo_description == "Accept proposal"
    obj = objects[0]
    assert obj.label_id == project.label_by_name("bus").id  # type: ignore[union-attr]
    assert project.mask_frames(obj.id) == [0, 1, 2, 3]
    for frame in range(4):
        record = project.mask_record(obj.id, frame)
        assert record is not None and record.mask == _square(2 + 4 * frame, 2)
        assert record.source == "propagated" and record.score == pytest.approx(0.9 - 0.05 * frame)
    # The other group and the lone proposal wait on; the user's object is untouched.
    assert sorted(_groups(project).values()) == [[1], [2, 3, 4, 5]]
    assert project.objects(1)[0] == mine and project.mask(mine.id, 2) == _square(0, 30)
    assert project.undo()  # one step: the object, its four masks, the label and the proposals come back
    assert project.snapshot() == before and project.label_by_name("bus") is None
    assert project.redo() and project.mask_frames(project.objects(1)[-1].id) == [0, 1, 2, 3]


def test_accepting_what_a_frame_shows_takes_each_group_there_once(project: Project) -> None:
    project.execute(AddProposals(1, _tracked(), "find-video", "sam3"))
    # Frame 3 shows both groups; above 0.7 only the moving bus (0.75 there): that group alone.
    objects = project.execute(AcceptProposals(item_id=1, frame=3, min_score=0.7))
    assert [project.mask_frames(o.id) for o in objects] == [[0, 1, 2, 3]]
    objects = project.execute(AcceptProposals(item_id=1, frame=3))
    assert [project.mask_frames(o.id) for o in objects] == [[2, 3, 4, 5]]
    assert _groups(project) == {None: [1]}
    # The whole item: the lone proposal becomes an object on its own frame.
    objects = project.execute(AcceptProposals(item_id=1))
    assert [project.mask_frames(o.id) for o in objects] == [[1]]
    assert project.mask_record(objects[0].id, 1).source == "user"  # type: ignore[union-attr]


def test_rejecting_one_rejects_its_group_and_the_rest_rejects_the_groups_waiting_there(project: Project) -> None:
    _, made = project.execute(AddProposals(1, _tracked(), "find-video", "sam3"))
    moving = next(p for p in made if p.group_id is not None and p.frame == 0)
    assert project.execute(RejectProposals((moving.id,))) == 4
    assert sorted(_groups(project).values()) == [[1], [2, 3, 4, 5]]
    assert project.undo() and len(project.proposals(1)) == 9
    # The rest on frame 1: the moving bus's group and the lone one; the parked bus (frames 2-5) stays.
    assert project.execute(RejectProposals(item_id=1, frame=1)) == 5
    assert list(_groups(project).values()) == [[2, 3, 4, 5]]
    assert project.objects(1) == []


def test_groups_are_in_the_file_after_reopening(project: Project) -> None:
    _, made = project.execute(AddProposals(1, _tracked(), "find-video", "sam3"))
    groups, expected, path = _groups(project), project.snapshot(), project.path
    project.close()
    reopened = Project.open(path)
    try:
        assert reopened.snapshot() == expected and _groups(reopened) == groups
        objects = reopened.execute(AcceptProposals((made[0].id,)))
        assert len(objects) == 1 and len(reopened.mask_frames(objects[0].id)) == 4
    finally:
        reopened.close()


def _as_schema_6(path: Path) -> None:
    """Make a project file as schema 6 wrote it: proposals without the group column."""
    conn = sqlite3.connect(str(path))
    conn.execute("DROP INDEX proposals_by_group")
    conn.execute("ALTER TABLE proposals DROP COLUMN group_id")
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()


def test_a_schema_6_project_migrates_keeping_its_proposals_and_takes_groups(tmp_path: Path) -> None:
    path = tmp_path / "six.annot"
    project = Project.create(path)
    project.execute(AddItem("clip.mp4", "video", W, H, FRAMES, 10.0))
    _, old = project.execute(AddProposals(1, tuple(Found(_square(5 * i, 5), 0.5 + i / 10, "cup") for i in range(3))))
    expected = project.snapshot()
    project.close()
    _as_schema_6(path)
    conn = sqlite3.connect(str(path))
    columns = [row[1] for row in conn.execute("PRAGMA table_info(proposals)")]
    conn.close()
    assert "group_id" not in columns and columns[-1] == "position"  # what schema 6 wrote
    migrated = Project.open(path)
    try:
        assert migrated.store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7  # type: ignore[union-attr]
        assert migrated.snapshot() == expected and {p.group_id for p in migrated.proposals(1)} == {None}
        migrated.execute(AddProposals(1, _tracked(), "find-video", "sam3"))
        migrated.execute(AcceptProposals((old[0].id,)))  # an old proposal is accepted as before
    finally:
        migrated.close()
    backup = tmp_path / "six.annot.v6.bak"
    conn = sqlite3.connect(str(backup))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 6
    assert conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0] == 3
    conn.close()
    reopened = Project.open(path)
    try:
        groups = _groups(reopened)
        assert sorted(len(frames) for group, frames in groups.items() if group is not None) == [4, 4]
        assert len(groups[None]) == 3  # two old ones left, and the new lone one
        assert reopened.objects(1)[0].label_id == reopened.label_by_name("cup").id  # type: ignore[union-attr]
    finally:
        reopened.close()
