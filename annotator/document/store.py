"""The project store: one SQLite file (WAL, foreign keys, schema version, migrations).

Every executed command is written in one transaction that commits before `execute` returns, so
a crash loses nothing the user saw applied. Opening validates the file from its raw header
before SQLite writes anything, so a foreign, truncated, newer or read-only file is left
byte-for-byte untouched and reported as a ProjectError naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import stat
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from annotator.document.changes import MaskMeta, Row, RowKind
from annotator.document.mask import Mask
from annotator.document.model import (
    Item,
    Label,
    Object,
    Prompts,
    Proposal,
    Run,
    color_from_hex,
    color_to_hex,
)
from annotator.document.tracks import TRACK_SCHEMA, TrackTable, add_track_table
from annotator.errors import ProjectError

log = logging.getLogger(__name__)

SUFFIX = ".annot"
APPLICATION_ID = 0x414E4E54  # "ANNT" in the SQLite header: marks the file as ours
SCHEMA_VERSION = 7
_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, color TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE items (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('image', 'video')),
    width INTEGER NOT NULL, height INTEGER NOT NULL, frame_count INTEGER NOT NULL, fps REAL NOT NULL,
    done INTEGER NOT NULL, position INTEGER NOT NULL, frame_names TEXT);
CREATE TABLE objects (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    name TEXT NOT NULL, label_id INTEGER REFERENCES labels (id) ON DELETE SET NULL,
    color TEXT NOT NULL, visible INTEGER NOT NULL, locked INTEGER NOT NULL, position INTEGER NOT NULL);
CREATE INDEX objects_by_item ON objects (item_id, position);
CREATE INDEX objects_by_label ON objects (label_id);
CREATE TABLE masks (
    object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE, frame INTEGER NOT NULL,
    height INTEGER NOT NULL, width INTEGER NOT NULL,
    x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
    area INTEGER NOT NULL, rle TEXT NOT NULL, source TEXT NOT NULL, prompts TEXT, score REAL,
    PRIMARY KEY (object_id, frame)) WITHOUT ROWID;
"""

# Schema 4: model runs and the proposals they made, waiting for review (never the user's objects).
PROPOSALS_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, engine TEXT NOT NULL, model TEXT NOT NULL,
    settings TEXT NOT NULL, created TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE proposals (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, frame INTEGER NOT NULL,
    score REAL NOT NULL, phrase TEXT, label_id INTEGER REFERENCES labels (id) ON DELETE SET NULL,
    height INTEGER NOT NULL, width INTEGER NOT NULL,
    x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
    area INTEGER NOT NULL, rle TEXT NOT NULL, position INTEGER NOT NULL);
CREATE INDEX proposals_by_item ON proposals (item_id, position);
CREATE INDEX proposals_by_run ON proposals (run_id);
CREATE INDEX proposals_by_label ON proposals (label_id);
"""

# Schema 5: per-item completion of a labelling run (`annotator label`): done (with how many instances,
# zero included) or failed (with why), so that a resumed run skips what is done even after its
# proposals were accepted or rejected.
LABEL_SCHEMA = """
CREATE TABLE label_items (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    frame INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    instances INTEGER NOT NULL, error TEXT, seconds REAL NOT NULL,
    PRIMARY KEY (run_id, item_id, frame)) WITHOUT ROWID;
CREATE INDEX label_items_by_item ON label_items (item_id);
"""

# Schema 7: the proposals of one instance tracked through a video share a group id (NULL: alone).
GROUP_SCHEMA = """
ALTER TABLE proposals ADD COLUMN group_id INTEGER;
CREATE INDEX proposals_by_group ON proposals (item_id, group_id);
"""

# Migrations from version N to N + 1, run in one transaction each after a backup copy is made.
Migration = Callable[[sqlite3.Connection], None]


def _add_frame_names(conn: sqlite3.Connection) -> None:
    """Schema 2: items keep their frame names (a JSON list, or NULL)."""
    conn.execute("ALTER TABLE items ADD COLUMN frame_names TEXT")


def _add_mask_scores(conn: sqlite3.Connection) -> None:
    """Schema 3: masks keep a tracker's confidence (NULL: not given)."""
    conn.execute("ALTER TABLE masks ADD COLUMN score REAL")


def _add_proposals(conn: sqlite3.Connection) -> None:
    """Schema 4: runs and proposals tables (model-made objects waiting for review)."""
    for statement in PROPOSALS_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _add_label_items(conn: sqlite3.Connection) -> None:
    """Schema 5: the label_items table (per-item completion of a labelling run)."""
    for statement in LABEL_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _add_proposal_groups(conn: sqlite3.Connection) -> None:
    """Schema 7: proposals gain a group id (the proposals of one tracked instance)."""
    for statement in GROUP_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: dict[int, Migration] = {
    1: _add_frame_names,
    2: _add_mask_scores,
    3: _add_proposals,
    4: _add_label_items,
    5: add_track_table,  # schema 6: box and point tracks (annotator/document/tracks.py)
    6: _add_proposal_groups,
}

_TABLES = {"label": "labels", "item": "items", "object": "objects", "run": "runs", "proposal": "proposals"}
_PARENT = {"label": None, "item": None, "object": "item_id", "run": None, "proposal": "item_id"}


def _check_header(path: Path) -> int:
    """Validate the raw SQLite header of a project file; returns its schema version."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as error:
        raise ProjectError(path, f"cannot be read: {error.strerror or error}") from error
    if size == 0:
        raise ProjectError(path, "is an empty file, not a project")
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise ProjectError(path, "is not a project file (not an SQLite database)")
    (page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if page_size == 1 else page_size
    change_counter, page_count = struct.unpack(">II", header[24:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    if page_count and change_counter == valid_for and size < page_count * page_size:
        raise ProjectError(path, f"is truncated ({size} bytes, the header says {page_count * page_size})")
    (user_version,) = struct.unpack(">i", header[60:64])
    (application_id,) = struct.unpack(">I", header[68:72])
    if application_id != APPLICATION_ID:
        raise ProjectError(path, "is an SQLite database but not an annotator project")
    if user_version > SCHEMA_VERSION:
        raise ProjectError(
            path,
            f"was written by a newer version of annotator (schema {user_version}; this one reads up to "
            f"{SCHEMA_VERSION}): update annotator to open it",
        )
    if user_version < 1:
        raise ProjectError(path, f"has an invalid schema version {user_version}")
    return user_version


def is_writable(path: Path) -> bool:
    """True when `path` (file or folder) can be written, judged also by its permission bits."""
    # Root passes os.access, so also look at the permission bits the user set.
    mode = path.stat().st_mode
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class ProjectStore:
    """Reads and writes one project file; every write happens inside `transaction()`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._in_transaction = False
        self.tracks = TrackTable(conn)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> ProjectStore:
        """Create a new, empty project file at `path` (which must not exist yet)."""
        target = Path(path)
        if target.exists():
            raise ProjectError(target, "already exists; open it instead, or choose another name")
        if not target.parent.is_dir():
            raise ProjectError(target, f"folder {target.parent} does not exist")
        try:
            conn = _connect(target)
            schemas = SCHEMA + PROPOSALS_SCHEMA + LABEL_SCHEMA + TRACK_SCHEMA + GROUP_SCHEMA
            conn.executescript("BEGIN;" + schemas + "COMMIT;")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("INSERT INTO meta VALUES ('created_by', 'annotator')")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            with contextlib.suppress(OSError):
                target.unlink()
            raise ProjectError(target, f"cannot be created: {error}") from error
        return cls(target, conn)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ProjectStore:
        """Open an existing project for reading and writing, migrating an older schema."""
        target = Path(path)
        if not target.exists():
            raise ProjectError(target, "does not exist")
        if target.is_dir():
            raise ProjectError(target, "is a folder, not a project file")
        version = _check_header(target)
        if not is_writable(target) or not is_writable(target.parent):
            raise ProjectError(target, "is read-only (file or folder not writable); open a copy or save elsewhere")
        try:
            conn = _connect(target)
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise ProjectError(target, f"is damaged: {error}") from error
        missing = {"meta", "labels", "items", "objects", "masks"} - names
        if missing:
            conn.close()
            raise ProjectError(target, f"is damaged: tables missing: {', '.join(sorted(missing))}")
        store = cls(target, conn)
        if version < SCHEMA_VERSION:
            store._migrate(version)
        return store

    def _migrate(self, version: int) -> None:
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy2(self.path, backup)
        log.info("migrating %s from schema %d to %d (backup: %s)", self.path, version, SCHEMA_VERSION, backup)
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise ProjectError(self.path, f"no migration from schema {version}")
            with self.transaction():
                step(self._conn)
                self._conn.execute(f"PRAGMA user_version = {version + 1}")
            version += 1
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Checkpoint and close the file."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: commits on success, rolls back on any exception."""
        if self._in_transaction:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        self._in_transaction = False
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise ProjectError(self.path, f"could not save: {error}") from error

    def integrity_check(self) -> str:
        """SQLite's integrity check ('ok' when sound)."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def backup_to(self, path: str | os.PathLike[str]) -> None:
        """Copy the whole project, consistently, into a new file at `path`."""
        target = ProjectStore.create(path)
        try:
            self._conn.backup(target._conn)
        finally:
            target.close()

    # -- reading ------------------------------------------------------------------------------
    def load_labels(self) -> list[Label]:
        """All labels in list order."""
        rows = self._conn.execute("SELECT id, name, color FROM labels ORDER BY position, id")
        return [Label(i, name, color_from_hex(color)) for i, name, color in rows]

    def load_items(self) -> list[Item]:
        """All items in list order."""
        rows = self._conn.execute(
            "SELECT id, path, kind, width, height, frame_count, fps, done, frame_names FROM items ORDER BY position, id"
        )
        return [
            Item(i, p, k, w, h, n, fps, bool(done), _names_from_json(names))
            for i, p, k, w, h, n, fps, done, names in rows
        ]

    def load_objects(self, item_id: int) -> list[Object]:
        """The objects of one item in layer order."""
        rows = self._conn.execute(
            "SELECT id, item_id, name, label_id, color, visible, locked FROM objects "
            "WHERE item_id = ? ORDER BY position, id",
            (item_id,),
        )
        return [Object(i, it, n, lab, color_from_hex(c), bool(v), bool(lk)) for i, it, n, lab, c, v, lk in rows]

    def item_of_object(self, object_id: int) -> int | None:
        """The item an object belongs to, or None when there is no such object."""
        row = self._conn.execute("SELECT item_id FROM objects WHERE id = ?", (object_id,)).fetchone()
        return None if row is None else int(row[0])

    def items_using_label(self, label_id: int) -> list[int]:
        """Ids of the items having an object with this label."""
        rows = self._conn.execute("SELECT DISTINCT item_id FROM objects WHERE label_id = ?", (label_id,))
        return [int(r[0]) for r in rows]

    def load_mask(self, object_id: int, frame: int) -> tuple[Mask, MaskMeta] | None:
        """One stored mask and its metadata, or None."""
        row = self._conn.execute(
            "SELECT rle, height, width, source, prompts, score FROM masks WHERE object_id = ? AND frame = ?",
            (object_id, frame),
        ).fetchone()
        if row is None:
            return None
        rle, height, width, source, prompts, score = row
        mask = Mask.from_rle({"size": [height, width], "counts": rle})
        return mask, MaskMeta(source, Prompts.from_json(json.loads(prompts) if prompts else None), score)

    def mask_frames(self, object_id: int) -> list[int]:
        """Frames on which an object has a stored mask, sorted."""
        rows = self._conn.execute("SELECT frame FROM masks WHERE object_id = ? ORDER BY frame", (object_id,))
        return [int(r[0]) for r in rows]

    def mask_states(self, object_id: int) -> dict[int, tuple[str, int, float | None]]:
        """Frame -> (source, area, score) of an object's stored masks (no pixels decoded)."""
        rows = self._conn.execute("SELECT frame, source, area, score FROM masks WHERE object_id = ?", (object_id,))
        return {int(frame): (str(source), int(area), score) for frame, source, area, score in rows}

    def load_runs(self) -> list[Run]:
        """Every model run, oldest first."""
        rows = self._conn.execute("SELECT id, source, engine, model, settings, created FROM runs ORDER BY position, id")
        return [Run(*row) for row in rows]

    def load_proposals(self, item_id: int) -> list[Proposal]:
        """The proposals waiting on one item, in list order (best score first within a run)."""
        rows = self._conn.execute(
            "SELECT id, run_id, frame, score, phrase, label_id, height, width, rle, group_id FROM proposals "
            "WHERE item_id = ? ORDER BY position, id",
            (item_id,),
        )
        return [
            Proposal(
                i, item_id, run, Mask.from_rle({"size": [h, w], "counts": rle}), score, frame, phrase, label, group
            )
            for i, run, frame, score, phrase, label, h, w, rle, group in rows
        ]

    def item_of_proposal(self, proposal_id: int) -> int | None:
        """The item a proposal waits on, or None when there is no such proposal."""
        row = self._conn.execute("SELECT item_id FROM proposals WHERE id = ?", (proposal_id,)).fetchone()
        return None if row is None else int(row[0])

    def proposal_counts(self) -> dict[int, int]:
        """Item id -> number of proposals waiting there (items with none are left out)."""
        rows = self._conn.execute("SELECT item_id, COUNT(*) FROM proposals GROUP BY item_id")
        return {int(item): int(count) for item, count in rows}

    def items_with_proposal_label(self, label_id: int) -> list[int]:
        """Ids of the items having a proposal that would get this label."""
        rows = self._conn.execute("SELECT DISTINCT item_id FROM proposals WHERE label_id = ?", (label_id,))
        return [int(r[0]) for r in rows]

    def items_with_objects(self) -> set[int]:
        """Ids of the items that have at least one object (the user's own work)."""
        return {int(r[0]) for r in self._conn.execute("SELECT DISTINCT item_id FROM objects")}

    def label_statuses(self, run_id: int) -> dict[tuple[int, int], str]:
        """(item id, frame) -> 'done' or 'failed' for what a labelling run recorded."""
        rows = self._conn.execute("SELECT item_id, frame, status FROM label_items WHERE run_id = ?", (run_id,))
        return {(int(item), int(frame)): str(status) for item, frame, status in rows}

    def label_failures(self, run_id: int) -> list[tuple[int, int, str]]:
        """(item id, frame, reason) of what a labelling run could not do, in item order."""
        rows = self._conn.execute(
            "SELECT item_id, frame, COALESCE(error, '') FROM label_items WHERE run_id = ? AND status = 'failed' "
            "ORDER BY item_id, frame",
            (run_id,),
        )
        return [(int(item), int(frame), str(error)) for item, frame, error in rows]

    def write_label_items(self, run_id: int, rows: list[tuple[int, int, str, int, str | None, float]]) -> None:
        """Record (item id, frame, status, instances, error, seconds) rows of a run (inside a transaction);
        a row already there (an item retried) is replaced."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO label_items VALUES (?, ?, ?, ?, ?, ?, ?)", [(run_id, *row) for row in rows]
        )

    def max_ids(self) -> dict[str, int]:
        """Largest id in use per row kind (0 when none)."""
        return {
            kind: int(self._conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
            for kind, table in _TABLES.items()
        }

    def counts(self) -> dict[str, int]:
        """Number of labels, items, objects and masks."""
        tables = {**_TABLES, "mask": "masks"}
        return {k: int(self._conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for k, t in tables.items()}

    # -- writing (inside a transaction) ---------------------------------------------------------
    def _values(self, kind: RowKind, row: Row) -> tuple:
        if isinstance(row, Label):
            return (row.id, row.name, color_to_hex(row.color))
        if isinstance(row, Item):
            return (row.id, row.path, row.kind, row.width, row.height, row.frame_count, row.fps, int(row.done))
        if isinstance(row, Run):
            return (row.id, row.source, row.engine, row.model, row.settings, row.created)
        if isinstance(row, Proposal):
            mask = row.mask
            head = (row.id, row.item_id, row.run_id, row.frame, float(row.score), row.phrase, row.label_id)
            return (*head, mask.height, mask.width, *mask.bbox, mask.area, mask.to_rle()["counts"])
        return (
            row.id,
            row.item_id,
            row.name,
            row.label_id,
            color_to_hex(row.color),
            int(row.visible),
            int(row.locked),
        )

    def insert_row(self, kind: RowKind, row: Row, index: int, last: bool) -> None:
        """Insert a row that now sits at `index` of its siblings: `last` puts it after them; otherwise it
        is stored at position `index` and the caller writes the siblings' order (`write_order`) after
        its inserts, once for a whole batch."""
        values = self._values(kind, row)
        tail = self._tail(row)
        marks = ", ".join("?" * (len(values) + 1 + len(tail)))
        position = self._next_position(kind, row) if last else index
        self._conn.execute(f"INSERT INTO {_TABLES[kind]} VALUES ({marks})", (*values, position, *tail))

    @staticmethod
    def _tail(row: Row) -> tuple:
        """The values of the columns that later schemas added after `position`."""
        if isinstance(row, Item):
            return (_names_to_json(row.frame_names),)
        if isinstance(row, Proposal):
            return (row.group_id,)
        return ()

    def _next_position(self, kind: RowKind, row: Row) -> int:
        parent = _PARENT[kind]
        table = _TABLES[kind]
        if parent is None:
            query, args = f"SELECT COALESCE(MAX(position), -1) + 1 FROM {table}", ()
        else:
            query, args = f"SELECT COALESCE(MAX(position), -1) + 1 FROM {table} WHERE {parent} = ?", (row.item_id,)  # type: ignore[union-attr]
        return int(self._conn.execute(query, args).fetchone()[0])

    def update_row(self, kind: RowKind, row: Row) -> None:
        """Rewrite a row's values (not its position)."""
        if isinstance(row, Label):
            sql, args = "UPDATE labels SET name = ?, color = ? WHERE id = ?", (row.name, color_to_hex(row.color))
        elif isinstance(row, Item):
            sql = (
                "UPDATE items SET path = ?, kind = ?, width = ?, height = ?, frame_count = ?, fps = ?, done = ?, "
                "frame_names = ? WHERE id = ?"
            )
            args = (row.path, row.kind, row.width, row.height, row.frame_count, row.fps, int(row.done))
            args = (*args, _names_to_json(row.frame_names))
        elif isinstance(row, Proposal):  # a proposal changes only the label it would get
            sql, args = "UPDATE proposals SET label_id = ? WHERE id = ?", (row.label_id,)
        elif isinstance(row, Run):
            sql, args = "UPDATE runs SET settings = ? WHERE id = ?", (row.settings,)
        else:
            sql = (
                "UPDATE objects SET item_id = ?, name = ?, label_id = ?, color = ?, visible = ?, locked = ? "
                "WHERE id = ?"
            )
            args = (row.item_id, row.name, row.label_id, color_to_hex(row.color), int(row.visible), int(row.locked))
        self._conn.execute(sql, (*args, row.id))

    def delete_row(self, kind: RowKind, row_id: int) -> None:
        """Delete one row (its dependants must have been removed already)."""
        self._conn.execute(f"DELETE FROM {_TABLES[kind]} WHERE id = ?", (row_id,))

    def write_order(self, kind: RowKind, ids: list[int]) -> None:
        """Store the list order of sibling rows."""
        self._conn.executemany(
            f"UPDATE {_TABLES[kind]} SET position = ? WHERE id = ?", [(i, row_id) for i, row_id in enumerate(ids)]
        )

    def write_mask(self, object_id: int, frame: int, mask: Mask, meta: MaskMeta) -> None:
        """Insert or replace one mask."""
        x0, y0, x1, y1 = mask.bbox
        self._conn.execute(
            "INSERT OR REPLACE INTO masks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                object_id,
                frame,
                mask.height,
                mask.width,
                x0,
                y0,
                x1,
                y1,
                mask.area,
                mask.to_rle()["counts"],
                meta.source,
                json.dumps(meta.prompts.to_json()) if meta.prompts != Prompts() else None,
                meta.score,
            ),
        )

    def delete_mask(self, object_id: int, frame: int) -> None:
        """Delete one mask."""
        self._conn.execute("DELETE FROM masks WHERE object_id = ? AND frame = ?", (object_id, frame))


def _names_to_json(names: tuple[str, ...] | None) -> str | None:
    return None if names is None else json.dumps(list(names))


def _names_from_json(text: str | None) -> tuple[str, ...] | None:
    """Frame names as stored; a value that is not a JSON list of strings reads as none (the folder's listing)."""
    if text is None:
        return None
    try:
        names = json.loads(text)
    except ValueError:
        return None
    return tuple(names) if isinstance(names, list) and all(isinstance(n, str) for n in names) else None
