"""Journey: pre-label a folder with `annotator label`, open it in the app, review the proposals there."""

from __future__ import annotations

import json
import sqlite3
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
from scenario_driver import User, write_images

from annotator.cli import main

pytestmark = pytest.mark.gui

SMALL = (270, 480)


def image_rows(user: User) -> list[str]:
    """The texts of the Images list."""
    navigator = user.window.navigator
    return [navigator.item(row).text() for row in range(navigator.count())]


def test_a_labelled_folder_opens_with_its_proposals_to_review(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 3, SMALL)
    out = StringIO()
    with redirect_stdout(out):
        assert main(["label", str(folder), "--everything", "--points-per-side", "8", "--workers", "1", "--json"]) == 0
    summary = json.loads(out.getvalue())
    assert summary["done"] == 3 and summary["instances"] >= 3
    conn = sqlite3.connect(str(folder / "annotations.annot"))
    counts = dict(conn.execute("SELECT i.path, COUNT(*) FROM proposals p JOIN items i ON i.id = p.item_id GROUP BY 1"))
    conn.close()

    user = launch(folder)
    window = user.window
    user.wait_ready()
    rows = image_rows(user)
    for row, item in zip(rows, window.project.items, strict=True):
        waiting = counts.get(item.path, 0)
        assert (f"{waiting} to review" in row) == (waiting > 0), (row, waiting)
    assert sum(counts.values()) == summary["instances"]
    assert window.review_status.text().endswith(f"{summary['instances']} in all")

    user.choose_menu("Review", "Next Item to Review")
    first = window.navigator.currentRow()
    here = counts[window.project.items[first].path]
    user.choose_menu("Review", "Accept All on This Item")
    user.wait(lambda: len(user.object_rows()) == here)
    assert "to review" not in image_rows(user)[first]
    assert window.review_status.text().endswith(f"{summary['instances'] - here} in all")
