"""Bad project files: a clear ProjectError naming the file, and the file left byte-for-byte untouched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import struct
from pathlib import Path

import numpy as np
import pytest

from annotator.document import AddItem, AddObject, Mask, Project, SetMask
from annotator.document import store as store_module
from annotator.errors import ProjectError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _project_with_content(path: Path) -> Path:
    project = Project.create(path)
    item = project.execute(AddItem("a.png", "image", 640, 480))
    rng = np.random.default_rng(0)
    for _ in range(30):
        obj = project.execute(AddObject(item.id))
        project.execute(SetMask(obj.id, 0, Mask.from_array(rng.random((480, 640)) > 0.5)))
    project.close()
    return path


def _assert_refused(path: Path, problem: str) -> None:
    before = _digest(path)
    with pytest.raises(ProjectError, match=problem) as caught:
        Project.open(path)
    assert str(path) in str(caught.value)
    assert _digest(path) == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


def test_a_text_file_is_not_a_project(tmp_path: Path) -> None:
    path = tmp_path / "notes.annot"
    path.write_text("hello, this is not a database at all, but long enough to have a header" * 3)
    _assert_refused(path, "not a project file")


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.annot"
    path.write_bytes(b"")
    _assert_refused(path, "empty file")


def test_another_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    _assert_refused(path, "not an annotator project")


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_a_truncated_project(tmp_path: Path, fraction: float) -> None:
    path = _project_with_content(tmp_path / "cut.annot")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    _assert_refused(path, "truncated")


def test_a_project_cut_inside_its_header(tmp_path: Path) -> None:
    path = _project_with_content(tmp_path / "cut.annot")
    path.write_bytes(path.read_bytes()[:60])
    _assert_refused(path, "not a project file")


def test_a_project_from_a_newer_schema(tmp_path: Path) -> None:
    path = _project_with_content(tmp_path / "new.annot")
    data = bytearray(path.read_bytes())
    data[60:64] = struct.pack(">i", store_module.SCHEMA_VERSION + 1)
    path.write_bytes(bytes(data))
    _assert_refused(path, "newer version")


def test_a_read_only_file_and_folder(tmp_path: Path) -> None:
    path = _project_with_content(tmp_path / "ro.annot")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    _assert_refused(path, "read-only")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    folder = tmp_path
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        _assert_refused(path, "read-only")
    finally:
        folder.chmod(stat.S_IRWXU)


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "nothing.annot")
    with pytest.raises(ProjectError, match="is a folder"):
        Project.open(tmp_path)
    existing = _project_with_content(tmp_path / "x.annot")
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(existing)


def test_an_older_schema_is_migrated_with_a_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project_with_content(tmp_path / "old.annot")
    calls: list[int] = []

    def add_notes(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")

    current = store_module.SCHEMA_VERSION
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(store_module.MIGRATIONS, current, add_notes)
    original = _digest(path)
    project = Project.open(path)
    assert calls == [1]
    assert project.store._conn.execute("PRAGMA user_version").fetchone()[0] == current + 1
    assert len(project.objects(1)) == 30
    project.close()
    assert _digest(tmp_path / f"old.annot.v{current}.bak") == original
    Project.open(path).close()
    assert calls == [1]


def test_projects_are_marked_as_ours(tmp_path: Path) -> None:
    path = _project_with_content(tmp_path / "p.annot")
    header = path.read_bytes()[:100]
    assert struct.unpack(">I", header[68:72])[0] == store_module.APPLICATION_ID
    assert os.path.getsize(path) > 0


def _as_schema_1(path: Path) -> None:
    """Make a project file as schema 1 wrote it: items without frame names, masks without scores."""
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TABLE track_samples")
    conn.execute("DROP TABLE label_items")
    conn.execute("DROP TABLE proposals")
    conn.execute("DROP TABLE runs")
    conn.execute("ALTER TABLE items DROP COLUMN frame_names")
    conn.execute("ALTER TABLE masks DROP COLUMN score")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_schema_1_project_gains_frame_names_and_keeps_its_items(tmp_path: Path) -> None:
    path = _project_with_content(tmp_path / "old.annot")
    _as_schema_1(path)
    project = Project.open(path)
    try:
        assert project.items[0].path == "a.png" and project.items[0].frame_names is None
        video = project.execute(AddItem("clip", "video", 48, 32, 2, 10.0, ("img_0001.jpg", "img_0002.jpg")))
        assert video.frame_names == ("img_0001.jpg", "img_0002.jpg")
    finally:
        project.close()
    assert (tmp_path / "old.annot.v1.bak").is_file()
    reopened = Project.open(path)
    try:
        assert reopened.items[1].frame_names == ("img_0001.jpg", "img_0002.jpg")
        assert len(reopened.objects(1)) == 30
    finally:
        reopened.close()


def test_a_schema_2_project_gains_mask_scores_and_keeps_its_masks(tmp_path: Path) -> None:
    from annotator.document import AddObject, Mask, SetMask

    path = tmp_path / "two.annot"
    project = Project.create(path)
    video = project.execute(AddItem("clip", "video", 48, 32, 3, 10.0))
    obj = project.execute(AddObject(video.id, None, "o"))
    square = np.zeros((32, 48), bool)
    square[5:15, 5:15] = True
    project.execute(SetMask(obj.id, 0, Mask.from_array(square)))
    project.close()
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TABLE track_samples")
    conn.execute("DROP TABLE label_items")
    conn.execute("DROP TABLE proposals")
    conn.execute("DROP TABLE runs")
    conn.execute("ALTER TABLE masks DROP COLUMN score")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    project = Project.open(path)
    try:
        assert project.mask_record(obj.id, 0).score is None  # type: ignore[union-attr]
        project.execute(SetMask(obj.id, 1, Mask.from_array(square), "propagated", score=0.42))
        project.execute(SetMask(obj.id, 2, Mask.empty(32, 48), "propagated", score=0.1))
    finally:
        project.close()
    assert (tmp_path / "two.annot.v2.bak").is_file()
    reopened = Project.open(path)
    try:
        assert reopened.mask(obj.id, 0) == Mask.from_array(square)
        assert reopened.mask_record(obj.id, 1).score == pytest.approx(0.42)  # type: ignore[union-attr]
        assert reopened.frame_states(obj.id) == {0: "user", 1: "low", 2: "absent"}
    finally:
        reopened.close()


def test_frame_names_survive_undo_and_redo_of_a_removal(tmp_path: Path) -> None:
    from annotator.document import RemoveItem

    project = Project.create(tmp_path / "p.annot")
    try:
        video = project.execute(AddItem("clip", "video", 48, 32, 2, 0.0, ("a.jpg", "b.jpg")))
        project.execute(RemoveItem(video.id))
        assert project.undo() and project.items[0].frame_names == ("a.jpg", "b.jpg")
    finally:
        project.close()
    reopened = Project.open(tmp_path / "p.annot")
    try:
        assert reopened.items[0].frame_names == ("a.jpg", "b.jpg")
    finally:
        reopened.close()
