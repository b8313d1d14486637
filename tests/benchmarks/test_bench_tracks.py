"""benchmarks/bench_tracks.py runs end to end on a generated data folder: figures that add up (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from annotator.evaluation.bench import synthetic_scene

REPO = Path(__file__).resolve().parents[2]


def write_data_folder(root: Path, frames: int) -> Path:
    """videos/square/{frames,masks} of a moving object on a textured background."""
    seq = root / "videos" / "square"
    (seq / "frames").mkdir(parents=True)
    (seq / "masks").mkdir()
    for index in range(frames):
        image, mask = synthetic_scene((120, 160), shift=0.02 * index, seed=index)
        Image.fromarray(image).save(seq / "frames" / f"{index:05d}.jpg", quality=95)
        Image.fromarray(mask.astype(np.uint8)).save(seq / "masks" / f"{index:05d}.png")
    return root


def test_the_track_benchmark_reports_every_sequence(tmp_path: Path) -> None:
    data = write_data_folder(tmp_path / "data", 6)
    out = tmp_path / "tracks.json"
    command = [sys.executable, str(REPO / "benchmarks" / "bench_tracks.py"), "--data", str(data)]
    command += ["--points", "16", "--repeats", "1", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["points"] == 16 and result["threads"] == 2
    (row,) = result["sequences"]
    assert row["sequence"] == "square" and row["frames"] == 6 and row["size"] == "160x120"
    assert all(result[f"{key}_fps_overall"] > 0 for key in ("box", "box_cpu", "points", "points_cpu"))
    assert done.stderr == ""  # quiet: the figures only, on stdout
