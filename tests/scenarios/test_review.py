"""Journeys through the Find panel: segment everything with the classic engine, review the proposals
(threshold, accept one, reject the rest, undo), and find them again, with the accepted object, on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QListView
from scenario_driver import User, type_and_accept, write_images
from scipy import ndimage

from annotator.document import Project
from annotator.document.model import Proposal
from annotator.io.media import read_image
from annotator.views.overlays import HATCH

pytestmark = pytest.mark.gui

SMALL = (270, 480)  # (H, W): the canvas shows these images at more than 1:1, so screen pixels are image pixels


def proposal_rows(user: User) -> list[str]:
    """The texts of the Find panel's proposal list."""
    model = user.window.find_panel.list.model()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def image_rows(user: User) -> list[str]:
    """The texts of the Images list."""
    navigator = user.window.navigator
    return [navigator.item(row).text() for row in range(navigator.count())]


def click_row(user: User, view: QListView, row: int) -> None:
    """Click a row of a list, as a person does."""
    rect = view.visualRect(view.model().index(row, 0))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    user.qtbot.wait(20)


def drawn_shares(user: User, mask: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    """Over the inside of `mask` (2 px off its edge), the share of screen pixels that differ from the bare
    image on the hatch's stripes and on the clear lines between them."""
    assert user.window.canvas.transform().m11() >= 1.0, "the test needs the image shown at 1:1 or more"
    shot = user.screenshot()
    inside = ndimage.binary_erosion(mask, iterations=2)
    ys, xs = np.nonzero(inside)
    phase = (xs + ys) % HATCH
    shares = []
    for wanted in (phase == 0, phase == HATCH // 2):
        picked = np.flatnonzero(wanted)[:: max(1, int(wanted.sum()) // 300)]
        differ = 0
        for x, y in zip(xs[picked], ys[picked], strict=True):
            color = shot.pixelColor(user.view_point(x + 0.5, y + 0.5))
            shown = np.array([color.red(), color.green(), color.blue()], float)
            differ += float(np.abs(shown - image[y, x].astype(float)).max()) > 20
        shares.append(differ / max(1, len(picked)))
    return shares[0], shares[1]


def test_everything_with_the_classic_engine_then_review_undo_and_reopen(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    paths = write_images(folder, 2, SMALL)
    image = read_image(paths[0])
    user = launch(folder)
    window, panel = user.window, user.window.find_panel
    user.wait_ready()
    user.answer_next_dialog(type_and_accept("thing"))
    user.press("Add", window.labels_panel)
    user.wait(lambda: len(user.label_rows()) == 1)
    click_row(user, window.labels_panel.list, 0)
    assert "new objects: thing" in window.label_status.text()
    assert "finding a phrase" in panel.why.text()  # the classic engine finds no phrases, and says so
    assert not user.button("Find", panel).isEnabled()

    user.press("Everything", panel)
    user.wait(lambda: len(proposal_rows(user)) > 1, timeout=60000)
    user.wait(lambda: not window.review.running)
    rows = proposal_rows(user)
    scores = [float(row.split()[0]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert f"{len(rows)} to review" in image_rows(user)[0] and "to review" not in image_rows(user)[1]
    assert window.review_status.text().startswith(f"to review: {len(rows)} here")
    assert "one undo step" in user.status()

    # Proposals are hatched: the stripes show, the image shows between them (no solid fill).
    project = window.project
    proposals: list[Proposal] = sorted(project.proposals(project.items[0].id), key=lambda p: -p.score)
    top = proposals[0].mask.to_array()
    stripes, clear = drawn_shares(user, top, image)
    assert stripes > 0.5 and clear < 0.2, (stripes, clear)

    # The threshold hides the low-score ones, on the canvas and in the list.
    slider = panel.threshold
    slider.setFocus()
    while len(proposal_rows(user)) == len(rows):
        user.key(Qt.Key.Key_Up, widget=slider)  # (Right and Left go to the next and previous image)
    kept = proposal_rows(user)
    assert 0 < len(kept) < len(rows), (rows, slider.value())
    hidden = proposals[len(kept)]
    assert hidden.score < slider.value() / 100.0
    alone = hidden.mask.to_array() & ~np.any([p.mask.to_array() for p in proposals[: len(kept)]], axis=0)
    if alone.sum() > 200:
        assert drawn_shares(user, alone, image)[0] < 0.2  # no longer drawn

    # Accept the best one: it becomes an object with the label new objects get, drawn solid.
    click_row(user, panel.list, 0)
    user.press("Accept", panel)
    user.wait(lambda: len(user.object_rows()) == 1)
    assert "thing" in user.object_rows()[0]
    assert len(proposal_rows(user)) == len(kept) - 1
    filled = drawn_shares(user, top, image)
    assert filled[1] > clear + 0.3, (filled, clear)  # the clear lines are covered now

    # Reject the rest: nothing waits here any more; undo brings them back, the object stays.
    user.press("Reject Rest", panel)
    user.wait(lambda: proposal_rows(user) == [])
    assert "to review" not in image_rows(user)[0]
    assert window.review_status.text().startswith("to review: 0 here")
    user.choose_menu("Edit", "Undo")
    user.wait(lambda: len(proposal_rows(user)) == len(kept) - 1)
    assert f"{len(rows) - 1} to review" in image_rows(user)[0]
    assert len(user.object_rows()) == 1

    path = window.project.path
    window.close()
    reopened = Project.open(path)
    try:
        item = reopened.items[0]
        [obj] = reopened.objects(item.id)
        assert reopened.label(obj.label_id).name == "thing"  # type: ignore[arg-type]
        assert np.array_equal(reopened.mask(obj.id).to_array(), top)  # type: ignore[union-attr]
        assert reopened.proposal_counts() == {item.id: len(rows) - 1}
        assert reopened.runs[0].source == "everything" and reopened.runs[0].engine == "classic"
    finally:
        reopened.close()


def test_next_item_to_review_and_accept_all_on_this_item(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 3, SMALL)
    user = launch(folder)
    window = user.window
    user.wait_ready()
    click_row(user, window.navigator, 1)
    user.wait_ready()
    user.choose_menu("Review", "Segment Everything")
    user.wait(lambda: "to review" in image_rows(user)[1], timeout=60000)
    user.wait(lambda: not window.review.running)
    waiting = window.project.proposal_counts()[window.project.items[1].id]
    click_row(user, window.navigator, 2)
    user.choose_menu("Review", "Only Items to Review")
    assert [window.navigator.isRowHidden(row) for row in range(3)] == [True, False, False]  # 3 is on screen
    user.choose_menu("Review", "Next Item to Review")
    assert window.navigator.currentRow() == 1
    user.choose_menu("Review", "Accept All on This Item")
    user.wait(lambda: len(user.object_rows()) == waiting)
    assert "to review" not in image_rows(user)[1]
    assert window.review_status.text() == "to review: 0 here · 0 in all"
    user.choose_menu("Review", "Next Item to Review")
    assert "no item has proposals" in user.status()


def test_a_cancelled_run_adds_nothing_and_a_finished_one_reported_progress(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1, SMALL)
    user = launch(folder)
    window, panel = user.window, user.window.find_panel
    user.wait_ready()
    seen: list[tuple[int, int]] = []
    window.review.progressed.connect(lambda done, total: seen.append((done, total)))
    user.press("Everything", panel)
    assert panel.progress.isVisible() and user.button("Cancel Run", panel).isEnabled()
    user.press("Cancel Run", panel)
    user.wait(lambda: not window.review.running)
    assert "cancelled, nothing added" in user.status()
    assert proposal_rows(user) == [] and window.project.runs == []
    assert not panel.progress.isVisible()
    user.press("Everything", panel)
    user.wait(lambda: len(proposal_rows(user)) > 0, timeout=60000)
    assert any(total > 0 and done > 0 for done, total in seen)


@pytest.mark.slow
def test_find_a_phrase_with_sam3_concepts_and_accept_one_with_its_label(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SAM 3 (a tiny detector + tracker with random weights, loaded through the registry as real
    weights are): type a phrase, press Find, the instances come as proposals named by the phrase;
    accepting one makes an object labelled with it (the label is made from the phrase)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_sam import tiny_sam3_concepts

    from model import registry

    weights = tiny_sam3_concepts(tmp_path / "sam3")
    folder = tmp_path / "photos"
    write_images(folder, 1, SMALL)

    def factory(name: str, **options: object):  # type: ignore[no-untyped-def]
        return registry.create("sam3-tracker", weights=str(weights), device="cpu")

    user = launch(folder, engine="sam3-tracker", factory=factory)
    user.wait_ready()
    window, panel = user.window, user.window.find_panel
    user.wait(lambda: panel.find_button.isEnabled(), timeout=60000)
    panel.phrase.setFocus()
    user.type_text("zebra", widget=panel.phrase)
    user.press("Find", panel)
    user.wait(lambda: not window.review.running and len(proposal_rows(user)) > 0, timeout=60000)
    rows = proposal_rows(user)
    assert all("zebra" in row for row in rows)
    project = window.project
    stored = project.proposals(project.items[0].id)
    assert len(stored) == len(rows) and all(p.phrase == "zebra" and p.score >= 0.1 for p in stored)
    click_row(user, panel.list, 0)
    user.press("Accept", panel)
    user.wait(lambda: len(user.object_rows()) == 1)
    assert "[zebra]" in user.object_rows()[0] and "zebra" in [row.split()[-1] for row in user.label_rows()]
    assert len(proposal_rows(user)) == len(rows) - 1
    # Everything with a concept engine looks for every label of the project (here: zebra).
    user.press("Reject Rest", panel)
    user.wait(lambda: not proposal_rows(user))
    user.press("Everything", panel)
    user.wait(lambda: not window.review.running and len(proposal_rows(user)) > 0, timeout=60000)
    again = project.proposals(project.items[0].id)
    zebra = next(label.id for label in project.labels if label.name == "zebra")
    assert again and all(p.phrase == "zebra" and p.label_id == zebra for p in again)
