"""`annotator label --ray`: on a local Ray cluster (ray.init(num_cpus=2)), the same results as one
worker, and a resumed run does only the rest. Each run is a subprocess with a hard timeout (the
failure mode of a starved Ray cluster is a hang, not an error)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from annotator.workspace import PROJECT_NAME

pytest.importorskip("ray.data")

from label.test_label import EVERYTHING, label, results, statuses, write_images

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _summary(stdout: str) -> dict:
    """The run's JSON summary among what Ray also prints on stdout."""
    return json.loads(next(line for line in stdout.splitlines() if line.startswith('{"run"')))


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
    return _summary(done.stdout)


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_against_a_ray_start_head_cluster_started_and_stopped_by_its_process_id(tmp_path: Path) -> None:
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        pytest.skip("the `ray` command is not beside this Python")
    folder, reference = tmp_path / "cluster", tmp_path / "reference"
    write_images(folder, 6)
    shutil.copytree(folder, reference)
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # Ray's socket paths must stay short
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RAY_USAGE_STATS_ENABLED": "0"}
    env["RAY_AUTH_MODE"] = "token"  # a second driver connects with the cluster's token
    start = [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=2"]
    head = subprocess.Popen(
        [*start, "--include-dashboard=false", f"--temp-dir={temp}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None, "ray start exited"
            time.sleep(0.5)
        command = [sys.executable, "-m", "annotator", "label", str(folder), *EVERYTHING, "--json"]
        done = subprocess.run(
            [*command, "--ray", f"127.0.0.1:{port}", "--workers", "2", "--threads", "1", "--batch-size", "2"],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = _summary(done.stdout)
    finally:
        head.send_signal(signal.SIGTERM)  # this cluster only: never `ray stop`, which is machine-wide
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait(30)
        shutil.rmtree(temp, ignore_errors=True)
    assert summary["done"] == 6 and summary["failed"] == 0
    label(reference, *EVERYTHING, "--workers", "1")
    assert results(folder / PROJECT_NAME) == results(reference / PROJECT_NAME)


def _actor_processes() -> list[int]:
    """Ray Data map actors of this machine, from /proc (their process title names the actor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"MapWorker" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_killed_ray_actor_is_replaced_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    folder, reference = tmp_path / "ray", tmp_path / "reference"
    write_images(folder, 16)
    shutil.copytree(folder, reference)
    command = [sys.executable, "-m", "annotator", "label", str(folder), *EVERYTHING, "--json"]
    child = subprocess.Popen(
        [*command, "--ray", "local", "--workers", "2", "--threads", "1", "--batch-size", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RAY_USAGE_STATS_ENABLED": "0"},
    )
    killed = None
    try:
        assert child.stderr is not None and child.stdout is not None
        for line in child.stderr:
            if line.startswith("{") and killed is None:
                actors = [pid for pid in _actor_processes() if pid != child.pid]
                assert actors, "no Ray Data actor process found"
                killed = actors[0]
                os.kill(killed, signal.SIGKILL)
        summary = _summary(child.stdout.read())
        assert child.wait(240) == 0
    finally:
        child.kill()
    assert killed is not None and summary["done"] == 16 and summary["failed"] == 0
    assert len(statuses(folder / PROJECT_NAME)) == 16
    label(reference, *EVERYTHING, "--workers", "1")
    assert results(folder / PROJECT_NAME) == results(reference / PROJECT_NAME)
