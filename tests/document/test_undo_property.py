"""Property: any edits, then undo-all, give the initial state exactly; redo-all gives the final one."""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from random_edits import perform

from annotator.document import AddItem, AddLabel, Project

seeds = st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=40)


def _check(project: Project, step_seeds: list[int]) -> None:
    project.execute(AddLabel("base"))
    project.execute(AddItem("base.png", "image", 64, 48))
    project.history.clear()
    initial = project.snapshot()
    for seed in step_seeds:
        perform(project, random.Random(seed))
    final = project.snapshot()
    steps = 0
    while project.undo():
        steps += 1
    assert project.snapshot() == initial
    while project.redo():
        steps -= 1
    assert steps == 0
    assert project.snapshot() == final


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds)
def test_undo_all_and_redo_all_in_memory(step_seeds: list[int]) -> None:
    _check(Project.in_memory(), step_seeds)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds)
def test_undo_all_and_redo_all_on_disk_and_after_reopening(step_seeds: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.annot"
        project = Project.create(path)
        _check(project, step_seeds)
        final = project.snapshot()
        project.close()
        assert Project.open(path).snapshot() == final
