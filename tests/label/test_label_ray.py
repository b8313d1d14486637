"""`annotator label --ray`: on a local Ray cluster (ray.init(num_cpus=2)), the same results as one
worker, and a resumed run does only the rest. Each run is a subprocess with a hard timeout (the
failure mode of a starved Ray cluster is a hang, not an error)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.workspace import PROJECT_NAME

pytest.importorskip("ray.data")

from label.test_label import EVERYTHING, label, results, statuses, write_images  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _ray_label(folder: Path) -> dict:
    command = [sys.executable, "-m", "annotator", "label", str(folder), *EVERYTHING, "--json"]
    done = subprocess.run(
        [*command, "--ray", "local", "--workers", "2", "--threads", "1", "--batch-size", "2"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[0])


def test_ray_gives_what_one_worker_gives_and_resumes_only_the_rest(tmp_path: Path) -> None:
    folder, reference = tmp_path / "ray", tmp_path / "reference"
    write_images(folder, 6)
    label(folder, *EVERYTHING, "--workers", "1")  # a first run did these six
    write_images(folder, 6, start=6)  # then six more images came
    shutil.copytree(folder, reference)
    for leftover in reference.glob(PROJECT_NAME + "*"):
        leftover.unlink()
    summary = _ray_label(folder)
    assert summary["already_done"] == 6 and summary["done"] == 6 and summary["failed"] == 0
    label(reference, *EVERYTHING, "--workers", "1")
    assert results(folder / PROJECT_NAME) == results(reference / PROJECT_NAME)
    assert len(statuses(folder / PROJECT_NAME)) == 12
