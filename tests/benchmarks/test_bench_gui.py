"""benchmarks/bench_gui.py runs end to end: real window, real clicks, figures that add up (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.data]


def test_the_gui_benchmark_times_clicks_on_real_images(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures.jsonl"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ANNOTATOR_DATA": str(shared_data)}
    command = [sys.executable, str(REPO / "benchmarks" / "bench_gui.py"), "--engine", "classic"]
    command += ["--clicks", "4", "--images", "2", "--sizes", "native,1080p", "--json", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["size"] for row in rows] == ["native", "1920x1080"]
    for row in rows:
        assert row["engine"] == "classic" and row["clicks"] >= 3
        # The GUI share is what the click cost beyond the engine's predict: positive, below the total.
        assert 0 < row["gui_ms_p50"] < row["total_ms_p50"]
        assert row["predict_ms_p50"] > 0 and row["mask_rle_bytes_p50"] > 0
    assert "| classic | native |" in done.stdout
    # The data folder is only read: the project file went to the benchmark's own folder.
    assert not list(shared_data.rglob("*.annot"))
