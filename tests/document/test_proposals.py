"""Proposals in the document: added by a run, accepted into objects, rejected; undo, redo and the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from annotator.document import (
    AcceptProposals,
    AddItem,
    AddLabel,
    AddObject,
    AddProposals,
    CommandError,
    Found,
    Mask,
    Project,
    RejectProposals,
    RemoveItem,
    RemoveLabel,
)
from annotator.document.store import SCHEMA_VERSION

H, W = 40, 60


def _square(x: int, y: int, side: int = 8) -> Mask:
    array = np.zeros((H, W), bool)
    array[y : y + side, x : x + side] = True
    return Mask.from_array(array)


def _found(phrase: str | None = None, label_id: int | None = None) -> tuple[Found, ...]:
    return (
        Found(_square(2, 2), 0.55, phrase, label_id),
        Found(_square(20, 2), 0.95, phrase, label_id),
        Found(_square(40, 20), 0.75, phrase, label_id),
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "p.annot")
    project.execute(AddItem("a.png", "image", W, H))
    project.execute(AddItem("b.png", "image", W, H))
    yield project
    project.close()


def test_a_run_is_one_undo_step_best_score_first_and_counted(project: Project) -> None:
    user = project.execute(AddObject(1, None, "mine", mask=_square(0, 0, 30)))
    run, made = project.execute(AddProposals(1, _found(), "everything", "classic", "classic-cv", '{"points": 16}'))
    assert [p.score for p in made] == [0.95, 0.75, 0.55]
    assert [p.score for p in project.proposals(1)] == [0.95, 0.75, 0.55]
    assert run.source == "everything" and run.engine == "classic" and project.runs == [run]
    assert project.proposal_counts() == {1: 3}
    assert project.history.undo_description == "Segment everything"
    # the user's object is untouched, and the proposals are not objects
    assert [o.id for o in project.objects(1)] == [user.id] and project.mask(user.id) == _square(0, 0, 30)
    assert project.undo()
    assert project.proposals(1) == [] and project.runs == [] and project.proposal_counts() == {}
    assert project.redo()
    assert [p.id for p in project.proposals(1)] == [p.id for p in made] and project.proposal_counts() == {1: 3}


def test_accepting_makes_objects_with_the_phrases_label_in_one_step(project: Project) -> None:
    _, made = project.execute(AddProposals(1, _found("dog"), "find", "sam3"))
    assert project.history.undo_description == "Find 'dog'"
    before = project.snapshot()
    objects = project.execute(AcceptProposals((made[0].id,)))
    label = project.label_by_name("dog")
    assert label is not None and [o.label_id for o in objects] == [label.id]
    assert project.mask(objects[0].id) == made[0].mask
    assert [p.id for p in project.proposals(1)] == [made[1].id, made[2].id]
    assert project.proposal_counts() == {1: 2}
    assert project.undo()  # one step: the object, the new label and the proposal all come back
    assert project.snapshot() == before and project.label_by_name("dog") is None
    assert project.redo() and project.label_by_name("dog") is not None


def test_accept_all_above_a_threshold_uses_an_existing_label(project: Project) -> None:
    cat = project.execute(AddLabel("cat"))
    other = project.execute(AddLabel("other"))
    _, made = project.execute(AddProposals(1, _found("cat"), "find", "sam3"))
    objects = project.execute(AcceptProposals(item_id=1, min_score=0.7, fallback_label_id=other.id))
    assert [project.mask(o.id) for o in objects] == [made[0].mask, made[1].mask]
    assert {o.label_id for o in objects} == {cat.id} and len(project.labels) == 2  # the phrase's label wins
    assert [p.id for p in project.proposals(1)] == [made[2].id]
    assert project.history.undo_description == "Accept proposals"


def test_everything_proposals_become_unlabelled_objects_or_take_a_chosen_label(project: Project) -> None:
    tree = project.execute(AddLabel("tree"))
    _, made = project.execute(AddProposals(1, _found(), "everything", "classic"))
    plain = project.execute(AcceptProposals((made[0].id,)))
    chosen = project.execute(AcceptProposals((made[1].id,), label_id=tree.id))
    fallback = project.execute(AcceptProposals((made[2].id,), fallback_label_id=tree.id))
    assert plain[0].label_id is None and chosen[0].label_id == tree.id and fallback[0].label_id == tree.id


def test_reject_one_then_the_rest_and_undo_restores_them(project: Project) -> None:
    _, made = project.execute(AddProposals(1, _found(), "everything", "classic"))
    project.execute(AddProposals(2, _found(), "everything", "classic"))
    assert project.execute(RejectProposals((made[1].id,))) == 1
    assert [p.id for p in project.proposals(1)] == [made[0].id, made[2].id]
    project.execute(AcceptProposals((made[0].id,)))
    assert project.execute(RejectProposals(item_id=1)) == 1  # the rest of item 1 only
    assert project.proposals(1) == [] and project.proposal_counts() == {2: 3}
    assert project.undo()
    assert [p.id for p in project.proposals(1)] == [made[2].id]
    assert project.undo() and project.undo()
    assert [p.id for p in project.proposals(1)] == [p.id for p in made]
    with pytest.raises(CommandError):
        project.execute(RejectProposals((made[0].id, 999)))
    assert len(project.proposals(1)) == 3  # a refused command changed nothing


def test_proposals_and_accepted_objects_are_in_the_file_after_reopening(tmp_path: Path, project: Project) -> None:
    _, made = project.execute(AddProposals(2, _found("bird"), "find", "sam3", "facebook/sam3", '{"threshold": 0.5}'))
    objects = project.execute(AcceptProposals((made[0].id,)))
    path = project.path
    expected = project.snapshot()
    project.close()
    reopened = Project.open(path)
    try:
        assert reopened.snapshot() == expected
        assert reopened.proposal_counts() == {2: 2}
        assert reopened.runs[0].settings == '{"threshold": 0.5}' and reopened.runs[0].model == "facebook/sam3"
        assert reopened.objects(2)[0].label_id == reopened.label_by_name("bird").id  # type: ignore[union-attr]
        assert reopened.mask(objects[0].id) == made[0].mask
        assert reopened.proposal(made[1].id).phrase == "bird"
        # a later batch of the same run joins it, and the ids go on from the file's
        _, more = reopened.execute(AddProposals(1, _found("bird"), "find", run_id=reopened.runs[0].id))
        assert min(p.id for p in more) > max(p.id for p in made) and len(reopened.runs) == 1
    finally:
        reopened.close()


def test_removing_an_item_or_a_label_undoes_with_its_proposals(project: Project) -> None:
    dog = project.execute(AddLabel("dog"))
    _, made = project.execute(AddProposals(1, _found("dog", dog.id), "find", "sam3"))
    project.execute(RemoveLabel(dog.id))
    assert {p.label_id for p in project.proposals(1)} == {None}
    project.undo()
    assert {p.label_id for p in project.proposals(1)} == {dog.id}
    project.execute(RemoveItem(1))
    assert project.proposal_counts() == {}
    project.undo()
    assert [p.id for p in project.proposals(1)] == [p.id for p in made] and project.proposal_counts() == {1: 3}


def test_bad_proposals_are_refused_with_a_clear_message(project: Project) -> None:
    wrong = Mask.from_array(np.ones((10, 10), bool))
    with pytest.raises(CommandError, match=r"does not fit item 'a\.png'"):
        project.execute(AddProposals(1, (Found(wrong, 0.5),)))
    with pytest.raises(CommandError, match="score"):
        project.execute(AddProposals(1, (Found(_square(1, 1), 1.5),)))
    with pytest.raises(CommandError, match="frame 3"):
        project.execute(AddProposals(1, (Found(_square(1, 1), 0.5),), frame=3))
    assert project.execute(AddProposals(1, (Found(Mask.empty(H, W), 0.5),))) == (None, [])
    assert project.runs == [] and project.history.undo_description == "Add item"


def test_an_in_memory_project_saves_its_proposals(tmp_path: Path) -> None:
    memory = Project.in_memory()
    memory.execute(AddItem("a.png", "image", W, H))
    memory.execute(AddProposals(1, _found("cup"), "find", "sam3"))
    saved = memory.save_as(tmp_path / "saved.annot")
    try:
        assert saved.snapshot() == memory.snapshot()
    finally:
        saved.close()


def _as_schema_3(path: Path) -> None:
    """Make a project file as schema 3 wrote it: no runs or proposals tables."""
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TABLE track_samples")
    conn.execute("DROP TABLE label_items")
    conn.execute("DROP TABLE proposals")
    conn.execute("DROP TABLE runs")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()


def test_a_schema_3_project_migrates_with_a_backup_and_takes_proposals(tmp_path: Path) -> None:
    path = tmp_path / "three.annot"
    project = Project.create(path)
    project.execute(AddItem("a.png", "image", W, H))
    obj = project.execute(AddObject(1, None, "kept", mask=_square(5, 5)))
    project.close()
    _as_schema_3(path)
    migrated = Project.open(path)
    try:
        assert migrated.store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # type: ignore[union-attr]
        assert migrated.mask(obj.id) == _square(5, 5) and migrated.proposal_counts() == {}
        migrated.execute(AddProposals(1, _found(), "everything", "classic"))
    finally:
        migrated.close()
    backup = tmp_path / "three.annot.v3.bak"
    assert backup.is_file()
    conn = sqlite3.connect(str(backup))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()
    reopened = Project.open(path)
    try:
        assert reopened.proposal_counts() == {1: 3} and reopened.objects(1)[0].name == "kept"
    finally:
        reopened.close()
