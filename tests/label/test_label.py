"""`annotator label`: real SQLite projects, the real classic engine, tiny generated images.

Covered: the pool gives what one worker gives; a run killed with SIGKILL and run again does only
the rest and ends with one result per item; a corrupt image is reported and skipped; rejecting
proposals leaves items done; --only-unlabelled; --boxes (COCO on images, MOT on a frame folder)
keeps the labels; a schema-4 file migrates; the export with and without proposals.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from annotator.cli import main
from annotator.document import AddItem, AddObject, Mask, Project, RejectProposals
from annotator.document.store import SCHEMA_VERSION
from annotator.workspace import PROJECT_NAME

H, W = 48, 64
EVERYTHING = ["--everything", "--points-per-side", "8"]


def rectangle(index: int) -> tuple[int, int, int, int]:
    """The xyxy (inclusive) of image `index`'s rectangle."""
    x0, y0 = 4 + index % 9, 6 + index % 5
    return x0, y0, x0 + 22, y0 + 20


def write_images(folder: Path, count: int, start: int = 0) -> list[Path]:
    """Images with a red rectangle and a green disc on grey, each placed a little differently."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        image = np.full((H, W, 3), 190, np.uint8)
        x0, y0, x1, y1 = rectangle(index)
        cv2.rectangle(image, (x0, y0), (x1, y1), (40, 40, 210), -1)
        cv2.circle(image, (48, 16 + index % 17), 8, (30, 170, 40), -1)
        path = folder / f"img_{index:03d}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def label(*args: str | Path) -> dict:
    """Run `annotator label ... --json` in this process; returns its summary."""
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        status = main(["label", *map(str, args), "--json"])
    assert status in (0, 1), out.getvalue()
    summary = json.loads(out.getvalue().splitlines()[0])
    summary["status"] = status
    return summary


def results(project_file: Path) -> dict[tuple[str, int], list[tuple]]:
    """(image file name, frame) -> sorted (rle, score, phrase, label name) of its proposals, read from the file."""
    conn = sqlite3.connect(str(project_file))
    rows = conn.execute(
        "SELECT i.path, p.frame, p.rle, p.score, p.phrase, l.name FROM proposals p JOIN items i ON i.id = p.item_id "
        "LEFT JOIN labels l ON l.id = p.label_id"
    ).fetchall()
    conn.close()
    found: dict[tuple[str, int], list[tuple]] = {}
    for path, frame, rle, score, phrase, name in rows:
        found.setdefault((Path(path).name, frame), []).append((rle, round(score, 6), phrase, name))
    return {key: sorted(value) for key, value in found.items()}


def statuses(project_file: Path) -> list[tuple[str, int, str, int]]:
    """(file name, frame, status, instances) of every label_items row, sorted."""
    conn = sqlite3.connect(str(project_file))
    rows = conn.execute(
        "SELECT i.path, l.frame, l.status, l.instances FROM label_items l JOIN items i ON i.id = l.item_id"
    ).fetchall()
    conn.close()
    return sorted((Path(p).name, f, s, n) for p, f, s, n in rows)


@pytest.mark.slow
def test_the_pool_gives_what_one_worker_gives(tmp_path: Path) -> None:
    one, pool = tmp_path / "one", tmp_path / "pool"
    write_images(one, 10)
    shutil.copytree(one, pool)
    first = label(one, *EVERYTHING, "--workers", "1", "--batch-size", "3")
    second = label(pool, *EVERYTHING, "--workers", "2", "--batch-size", "3")
    assert first["done"] == second["done"] == 10 and first["failed"] == second["failed"] == 0
    assert first["instances"] == second["instances"] > 10
    expected = results(one / PROJECT_NAME)
    assert len(expected) == 10 and results(pool / PROJECT_NAME) == expected
    assert statuses(pool / PROJECT_NAME) == statuses(one / PROJECT_NAME)


TOTAL = 24


@pytest.mark.slow
def test_a_run_killed_with_sigkill_does_only_the_rest_and_ends_with_one_result_per_item(tmp_path: Path) -> None:
    folder, reference = tmp_path / "killed", tmp_path / "reference"
    write_images(folder, TOTAL)
    shutil.copytree(folder, reference)
    command = [sys.executable, "-m", "annotator", "label", str(folder), *EVERYTHING, "--workers", "1"]
    child = subprocess.Popen(
        [*command, "--batch-size", "2"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    seen = 0
    try:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith("{"):
                seen = json.loads(line)["batch"]
                if seen >= 3:
                    break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    assert child.returncode == -signal.SIGKILL and seen >= 3
    written = statuses(folder / PROJECT_NAME)
    assert 6 <= len(written) < TOTAL  # the batches reported were committed; the run did not finish

    again = label(folder, *EVERYTHING, "--workers", "1", "--batch-size", "2")
    assert again["already_done"] == len(written)
    assert again["done"] == TOTAL - len(written) and again["failed"] == 0
    done = statuses(folder / PROJECT_NAME)
    assert len(done) == TOTAL and len({(name, frame) for name, frame, _, _ in done}) == TOTAL
    label(reference, *EVERYTHING, "--workers", "1", "--batch-size", "2")
    assert results(folder / PROJECT_NAME) == results(reference / PROJECT_NAME)  # nothing doubled, nothing lost
    third = label(folder, *EVERYTHING, "--workers", "1", "--batch-size", "2")
    assert third["done"] == 0 and third["already_done"] == TOTAL


def _worker_processes(parent: int) -> list[int]:
    """The pool's worker processes of a parent (not the resource tracker), from /proc."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    found = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc (Linux)")
def test_a_killed_worker_is_replaced_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    folder, reference = tmp_path / "pool", tmp_path / "reference"
    write_images(folder, TOTAL)
    shutil.copytree(folder, reference)
    command = [sys.executable, "-m", "annotator", "label", str(folder), *EVERYTHING, "--workers", "2"]
    child = subprocess.Popen(
        [*command, "--batch-size", "2", "--json"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stderr is not None and child.stdout is not None
        killed, logged = None, []
        for line in child.stderr:
            logged.append(line)
            if line.startswith("{") and killed is None:
                workers = _worker_processes(child.pid)
                assert workers, "the pool has no worker processes"
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
        summary = json.loads(child.stdout.read().splitlines()[0])
        assert child.wait(120) == 0
    finally:
        child.kill()
    assert killed is not None and summary["done"] == TOTAL and summary["failed"] == 0
    assert any("a worker process died" in line for line in logged)
    done = statuses(folder / PROJECT_NAME)
    assert len(done) == TOTAL and len({(name, frame) for name, frame, _, _ in done}) == TOTAL
    label(reference, *EVERYTHING, "--workers", "1", "--batch-size", "2")
    assert results(folder / PROJECT_NAME) == results(reference / PROJECT_NAME)


def test_a_corrupt_image_is_reported_and_skipped_and_rejecting_proposals_leaves_items_done(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_images(folder, 4)
    (folder / "img_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    summary = label(folder, *EVERYTHING, "--workers", "2", "--batch-size", "2")
    assert summary["status"] == 1 and summary["done"] == 4 and summary["failed"] == 1
    assert len(summary["errors"]) == 1 and "img_corrupt.png" in summary["errors"][0]
    rows = statuses(folder / PROJECT_NAME)
    assert ("img_corrupt.png", 0, "failed", 0) in rows and sum(s == "done" for _, _, s, _ in rows) == 4

    project = Project.open(folder / PROJECT_NAME)
    try:
        first = project.items[0]
        assert project.proposals(first.id)
        project.execute(RejectProposals(item_id=first.id))  # the person rejected every proposal there
        assert project.proposal_counts().get(first.id) is None
    finally:
        project.close()
    again = label(folder, *EVERYTHING, "--workers", "1")
    assert again["already_done"] == 4 and again["done"] == 0 and again["failed"] == 1  # only the bad one is retried


def test_only_unlabelled_skips_items_with_the_users_objects(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_images(folder, 3)
    project = Project.create(folder / PROJECT_NAME)
    try:
        for path in sorted(folder.glob("*.png")):
            project.execute(AddItem(path.name, "image", W, H))
        square = np.zeros((H, W), bool)
        square[2:10, 2:10] = True
        mine = project.execute(AddObject(project.items[1].id, None, "mine", mask=Mask.from_array(square)))
    finally:
        project.close()
    summary = label(folder, *EVERYTHING, "--only-unlabelled", "--workers", "1")
    assert summary["done"] == 2 and summary["skipped_labelled"] == 1
    found = results(folder / PROJECT_NAME)
    assert sorted(found) == [("img_000.png", 0), ("img_002.png", 0)]
    reopened = Project.open(folder / PROJECT_NAME)
    try:
        assert [o.id for o in reopened.objects(reopened.items[1].id)] == [mine.id]  # the user's work untouched
        assert reopened.mask(mine.id) == Mask.from_array(square)
    finally:
        reopened.close()


def test_coco_boxes_become_masks_that_keep_their_labels_and_export(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    paths = write_images(folder, 3)
    images, annotations = [], []
    for index, path in enumerate(paths):
        images.append({"id": index + 1, "file_name": path.name, "width": W, "height": H})
        x0, y0, x1, y1 = rectangle(index)
        annotations.append({"id": 2 * index + 1, "image_id": index + 1, "category_id": 7, "bbox": [x0, y0, 23, 21]})
        if index < 2:
            disc = [40, 8 + index % 17, 17, 17]
            annotations.append({"id": 2 * index + 2, "image_id": index + 1, "category_id": 9, "bbox": disc})
    categories = [{"id": 7, "name": "brick"}, {"id": 9, "name": "ball"}]
    boxes = tmp_path / "detections.json"
    boxes.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    out = tmp_path / "coco.json"
    summary = label(folder, "--boxes", boxes, "--workers", "1", "-o", out, "--with-proposals")
    assert summary["done"] == 3 and summary["instances"] == 5
    found = results(folder / PROJECT_NAME)
    assert [name for _, _, _, name in found[("img_000.png", 0)]] in (["ball", "brick"], ["brick", "ball"])
    assert [name for _, _, _, name in found[("img_002.png", 0)]] == ["brick"]
    for (file_name, _), proposals in found.items():
        index = int(file_name[4:7])
        x0, y0, x1, y1 = rectangle(index)
        brick = next(rle for rle, _, _, name in proposals if name == "brick")
        mask = Mask.from_rle({"size": [H, W], "counts": brick}).to_array()
        inside = mask[y0 : y1 + 1, x0 : x1 + 1].sum()
        assert inside >= 0.8 * mask.sum() and inside >= 0.8 * (x1 - x0 + 1) * (y1 - y0 + 1)
    coco = COCO(str(out))  # read back by the real consumer
    names = {c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert {"brick", "ball"} <= names and len(coco.getAnnIds()) == 5
    reviewed = tmp_path / "reviewed.json"
    label(folder, "--boxes", boxes, "--workers", "1", "-o", reviewed)  # resumes: nothing to do, exports
    assert len(COCO(str(reviewed)).getAnnIds()) == 0  # nothing was accepted yet


def test_mot_boxes_on_a_frame_folder_label_its_frames(tmp_path: Path) -> None:
    folder = tmp_path / "seq"
    for index, path in enumerate(write_images(folder, 4)):
        path.rename(folder / f"{index:05d}.png")
    lines = []
    for frame in range(3):  # the last frame has no box: it is no work
        x0, y0, _, _ = rectangle(frame)
        lines.append(f"{frame + 1},1,{x0},{y0},23,21,1,1,1")
    boxes = tmp_path / "tracks" / "gt" / "gt.txt"
    boxes.parent.mkdir(parents=True)
    boxes.write_text("\n".join(lines) + "\n")
    (boxes.parent / "labels.txt").write_text("brick\n")
    summary = label(folder, "--boxes", boxes, "--boxes-format", "mot", "--workers", "1")
    assert summary["done"] == 3 and summary["instances"] == 3
    found = results(folder / PROJECT_NAME)
    assert sorted(frame for _, frame in found) == [0, 1, 2]
    assert {name for proposals in found.values() for _, _, _, name in proposals} == {"brick"}


def test_a_schema_4_project_migrates_and_takes_a_run(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_images(folder, 2)
    path = folder / PROJECT_NAME
    Project.create(path).close()
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TABLE track_samples")
    conn.execute("DROP TABLE label_items")
    conn.execute("DROP INDEX proposals_by_group")  # schema 7's
    conn.execute("ALTER TABLE proposals DROP COLUMN group_id")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    summary = label(folder, *EVERYTHING, "--workers", "1")
    assert summary["done"] == 2
    conn = sqlite3.connect(str(path))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
    conn.close()
    assert (folder / f"{PROJECT_NAME}.v4.bak").is_file() and len(statuses(path)) == 2


def test_a_prompt_the_engine_cannot_do_is_refused_naming_what_it_needs(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    started = time.perf_counter()
    assert main(["label", str(folder), "--text", "a brick=brick", "--workers", "1"]) == 2
    assert "'find' (SAM 3)" in capsys.readouterr().err and time.perf_counter() - started < 60
    assert main(["label", str(folder), "--everything", "--engine", "no-such-engine", "--workers", "2"]) == 2
    assert "unknown engine 'no-such-engine'" in capsys.readouterr().err  # said by the pool's worker, not lost


def test_yolo_detection_boxes_become_masks_with_their_class(tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    paths = write_images(folder / "images", 2)
    (folder / "labels").mkdir()
    (folder / "classes.txt").write_text("ball\nbrick\n")
    for index, path in enumerate(paths):
        x0, y0, x1, y1 = rectangle(index)
        cx, cy, w, h = (x0 + x1 + 1) / 2 / W, (y0 + y1 + 1) / 2 / H, (x1 - x0 + 1) / W, (y1 - y0 + 1) / H
        (folder / "labels" / f"{path.stem}.txt").write_text(f"1 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    summary = label(folder / "images", "--boxes", folder, "--workers", "1")
    assert summary["done"] == 2 and summary["instances"] == 2
    found = results(folder / "images" / PROJECT_NAME)
    assert sorted(found) == [("img_000.png", 0), ("img_001.png", 0)]
    assert {name for proposals in found.values() for _, _, _, name in proposals} == {"brick"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pty")
def test_on_a_terminal_the_progress_is_a_bar_not_json_lines(tmp_path: Path) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios

    folder = tmp_path / "photos"
    write_images(folder, 4)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    command = [sys.executable, "-m", "annotator", "label", str(folder), *EVERYTHING, "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([*command, "--batch-size", "2"], stderr=slave, stdout=subprocess.DEVNULL, env=env)
    os.close(slave)
    shown = b""
    try:
        while select.select([master], [], [], 60)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
        assert child.wait(60) == 0
    text = shown.decode("utf-8", "replace")
    assert "4/4" in text and "item/s" in text and '{"batch"' not in text


@pytest.mark.slow
def test_phrases_and_the_projects_labels_as_concepts_with_a_sam3_detector(tmp_path: Path) -> None:
    """--text and --labels on a tiny SAM 3 detector + tracker (random weights, loaded as real weights are):
    every instance the detector scores above the threshold becomes a proposal named and labelled by its phrase."""
    pytest.importorskip("transformers")
    from tiny_sam import tiny_sam3_concepts

    weights = tiny_sam3_concepts(tmp_path / "sam3")
    folder = tmp_path / "photos"
    write_images(folder, 3)
    engine = ["--engine", "sam3-tracker", "--weights", str(weights), "--threshold", "0.1", "--workers", "1"]
    summary = label(folder, "--text", "a brick=brick", *engine)
    assert summary["status"] == 0 and summary["instances"] > 0
    found = results(folder / "annotations.annot")
    assert len(found) == 3 and all(
        phrase == "a brick" and name == "brick" for v in found.values() for *_, phrase, name in v
    )
    assert all(score >= 0.1 for v in found.values() for _, score, *_ in v)
    # The project now has the label 'brick': --labels looks for it as a concept, in a run of its own.
    again = label(folder, "--labels", *engine)
    assert again["status"] == 0 and again["instances"] > 0
    after = results(folder / "annotations.annot")
    assert any(phrase == "brick" and name == "brick" for v in after.values() for *_, phrase, name in v)
