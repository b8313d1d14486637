"""Journey through the Find panel on a video: a phrase found on the frame on screen and tracked through
the whole video (SAM 3 concepts, a tiny detector + tracker with random weights loaded through the
registry as real weights are), each instance a group of proposals, one per frame; scrub, accept one
instance as one object on all its frames, reject the rest, undo, and the file on disk."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from scenario_driver import User, write_images, write_moving_video

from annotator.document import Project

pytestmark = [pytest.mark.gui, pytest.mark.slow]

FRAMES, START = 10, 3


def proposal_rows(user: User) -> list[str]:
    """The texts of the Find panel's proposal list."""
    model = user.window.find_panel.list.model()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def frame_label(user: User) -> str:
    return user.window.timeline.label.text()


def scrub_to(user: User, frame: int) -> None:
    """Press on the timeline's strip over `frame`, as a person scrubs."""
    view = user.window.timeline.track_view
    x = int((frame + 0.5) * view.width() / FRAMES)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, view.height() // 2))
    user.wait(lambda: frame_label(user) == f"frame {frame} / {FRAMES - 1}")
    user.wait_ready()


def sam3_factory(tmp_path: Path) -> Any:
    from tiny_sam import tiny_sam3_concepts

    from model import registry

    weights = tiny_sam3_concepts(tmp_path / "sam3")

    def factory(name: str, **options: object):  # type: ignore[no-untyped-def]
        return registry.create("sam3-tracker", weights=str(weights), device="cpu")

    return factory


def test_find_through_the_video_then_accept_one_instance_as_one_object(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    clip = tmp_path / "clips" / "walk.mp4"
    clip.parent.mkdir()
    write_moving_video(clip, frames=FRAMES)
    user = launch(clip, engine="sam3-tracker", factory=sam3_factory(tmp_path))
    window, panel = user.window, user.window.find_panel
    user.wait_ready()
    user.wait(lambda: panel.video_button.isEnabled(), timeout=60000)
    project = window.project
    item = project.items[0]
    scrub_to(user, START)

    # No phrase, no label, no box: a clear message, no run.
    user.press("Through the Video", panel)
    assert "type a phrase" in user.status() and not window.review.running and project.runs == []

    # Cancel while it runs: nothing is added.
    seen: list[tuple[int, int]] = []
    window.review.progressed.connect(lambda done, total: seen.append((done, total)))
    panel.phrase.setFocus()
    user.type_text("zebra", widget=panel.phrase)
    user.press("Through the Video", panel)
    assert panel.progress.isVisible() and not panel.video_button.isEnabled()
    user.wait(lambda: any(done >= 1 for done, _ in seen), timeout=60000)
    user.press("Cancel Run", panel)
    user.wait(lambda: not window.review.running, timeout=60000)
    assert "cancelled, nothing added" in user.status()
    assert project.runs == [] and project.proposals(item.id) == [] and proposal_rows(user) == []

    # The whole run: per-frame progress, then groups of proposals.
    seen.clear()
    user.press("Through the Video", panel)
    user.wait(lambda: not window.review.running, timeout=120000)
    assert (FRAMES, FRAMES) in seen and any(0 < done < FRAMES for done, _ in seen)
    waiting = list(project.proposals(item.id))  # a copy: the project's list changes
    if not waiting:
        pytest.skip("the tiny random SAM 3 found no 'zebra' on the start frame")
    assert "one undo step" in user.status() and project.runs[0].source == "find-video"
    assert all(p.phrase == "zebra" and p.group_id is not None for p in waiting)
    frames_of = {g: sorted(p.frame for p in waiting if p.group_id == g) for g in {p.group_id for p in waiting}}
    assert all(len(set(frames)) == len(frames) for frames in frames_of.values())  # one proposal a frame
    covered = {p.frame for p in waiting}
    assert min(covered) < START < max(covered)  # tracked backward and forward from the frame on screen
    here = [p for p in waiting if p.frame == START]
    assert len(proposal_rows(user)) == len(here)
    for row, proposal in zip(proposal_rows(user), sorted(here, key=lambda p: -p.score), strict=True):
        count = len(frames_of[proposal.group_id])
        assert "zebra" in row and row.endswith(f"· {count} frame{'s' if count != 1 else ''}")

    # Scrub to another frame: its proposals are shown.
    other = next(f for f in sorted(covered, reverse=True) if f != START)
    scrub_to(user, other)
    there = sorted((p for p in waiting if p.frame == other), key=lambda p: -p.score)
    user.wait(lambda: len(proposal_rows(user)) == len(there))

    # Accept the best one there: ONE object, labelled 'zebra', with its group's masks on all its frames.
    rect = panel.list.visualRect(panel.list.model().index(0, 0))
    QTest.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    user.press("Accept", panel)
    user.wait(lambda: len(user.object_rows()) == 1)
    [obj] = project.objects(item.id)
    accepted = [p for p in waiting if p.group_id == there[0].group_id]
    assert "[zebra]" in user.object_rows()[0]
    assert f"1 new object with masks on {len(accepted)} frames" in user.status()
    assert project.mask_frames(obj.id) == sorted(p.frame for p in accepted) and len(accepted) > 1
    for proposal in accepted:
        record = project.mask_record(obj.id, proposal.frame)
        assert record is not None and record.mask == proposal.mask
        assert record.source == "propagated" and record.score == pytest.approx(proposal.score)
    left = list(project.proposals(item.id))
    assert len(left) == len(waiting) - len(accepted) and not {p.group_id for p in left} & {there[0].group_id}
    assert len(proposal_rows(user)) == len(there) - 1

    # On disk: the object with its masks, the other proposals waiting.
    on_disk = Project.open(project.path)
    try:
        [saved] = on_disk.objects(item.id)
        assert on_disk.label(saved.label_id).name == "zebra"  # type: ignore[arg-type]
        assert on_disk.frame_sources(saved.id) == {p.frame: "propagated" for p in accepted}
        assert all(on_disk.mask(saved.id, p.frame) == p.mask for p in accepted)
        assert on_disk.proposal_counts() == {item.id: len(left)}
    finally:
        on_disk.close()

    # Reject the rest on this frame: every group waiting here goes, on every frame.
    here_groups = {p.group_id for p in left if p.frame == other}
    user.press("Reject Rest", panel)
    user.wait(lambda: proposal_rows(user) == [])
    rest = list(project.proposals(item.id))
    assert not {p.group_id for p in rest} & here_groups
    assert Counter(p.group_id for p in rest) == Counter(p.group_id for p in left if p.group_id not in here_groups)

    # Undo (the shortcut, then the menu): the rejected groups, then the accepted one, come back.
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=user.canvas_view)
    user.wait(lambda: len(project.proposals(item.id)) == len(left))
    user.choose_menu("Edit", "Undo")
    user.wait(lambda: len(project.proposals(item.id)) == len(waiting))
    assert project.objects(item.id) == [] and len(proposal_rows(user)) == len(there)
    on_disk = Project.open(project.path)
    try:
        assert on_disk.objects(item.id) == [] and on_disk.proposal_counts() == {item.id: len(waiting)}
        assert {p.group_id for p in on_disk.proposals(item.id)} == set(frames_of)
    finally:
        on_disk.close()


def test_through_the_video_is_offered_only_for_a_video_and_a_concept_engine(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    clip = tmp_path / "walk.mp4"
    write_moving_video(clip, frames=4)
    user = launch(clip)  # the classic engine: no concepts
    panel = user.window.find_panel
    user.wait_ready()
    user.wait(lambda: "ready" in user.status())  # the load's own message is out: it cannot cover the next
    button = user.button("Through the Video", panel)
    assert not button.isEnabled() and "concept model" in button.toolTip()
    user.choose_menu("Review", "Find Through the Video")  # the menu says why, and does nothing
    user.wait(lambda: "concept model" in user.status())  # shown again if a routine message came between
    assert user.window.project.runs == []
    user.window.close()
    folder = tmp_path / "photos"
    write_images(folder, 1, (120, 160))
    user = launch(folder, engine="sam3-tracker", factory=sam3_factory(tmp_path))
    panel = user.window.find_panel
    user.wait_ready()
    user.wait(lambda: panel.find_button.isEnabled(), timeout=60000)
    user.wait(lambda: "ready" in user.status())
    button = user.button("Through the Video", panel)
    assert not button.isEnabled() and "needs a video on screen" in button.toolTip()
    panel.phrase.setFocus()
    user.type_text("zebra", widget=panel.phrase)
    user.choose_menu("Review", "Find Through the Video")
    user.wait(lambda: "needs a video on screen" in user.status())
    assert not user.window.review.running
    project = user.window.project
    assert project.runs == [] and project.proposals(project.items[0].id) == []
