"""Benchmark: click -> overlay painted (p50/p95) on a 1080p image, and event-loop lag during an embed.

Usage: python benchmarks/bench_gui.py [--engine classic] [--option key=value ...] [--clicks 30] [--json OUT]
Runs the real main window offscreen on a generated 1920x1080 image.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
from common import report
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def _scene(path: Path) -> list[tuple[int, int]]:
    """Write a 1080p image with ten objects; return a point inside each."""
    rng = np.random.default_rng(1)
    image = (rng.normal(120, 25, (1080, 1920, 3))).clip(0, 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)
    centers = []
    for _ in range(10):
        center = (int(rng.integers(150, 1770)), int(rng.integers(150, 930)))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        axes = (int(rng.integers(50, 140)), int(rng.integers(50, 140)))
        cv2.ellipse(image, center, axes, float(rng.integers(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        centers.append(center)
    cv2.imwrite(str(path), image)
    return centers


def _wait(app: QApplication, condition, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("the engine did not answer in time")
        time.sleep(0.0005)


def main() -> None:
    """Open the window, embed, click, measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--option", action="append", default=[], help="engine factory option key=value")
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    options = dict(item.split("=", 1) for item in args.option)
    os.environ.setdefault("ANNOTATOR_CONFIG_DIR", tempfile.mkdtemp())
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from annotator.bridge import EngineBridge
    from annotator.views.main_window import MainWindow
    from model import registry

    folder = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    centers = _scene(folder / "scene.png")
    bridge = EngineBridge(factory=lambda name, **kw: registry.create(name, **{**options, **kw}))
    window = MainWindow(engine_name=args.engine, bridge=bridge)
    window.model_panel.engine_box.setCurrentText(args.engine)
    window.model_panel.load_engine()
    window.resize(1600, 1000)
    window.show()
    _wait(app, lambda: window.bridge.engine is not None)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(probe)
    timer.start(5)
    started = time.perf_counter()
    window.open_path(folder)
    _wait(app, lambda: window.session.key in window.session.embedded_keys)
    embed_wall = time.perf_counter() - started
    timer.stop()
    latencies = []
    session = window.session
    for index in range(args.clicks):
        x, y = centers[index % len(centers)]
        if index % 3 == 0:
            session.new_object()
        before = window.project.history._undo[-1] if window.project.history.can_undo else None
        t0 = time.perf_counter()
        session.add_point(float(x + (index % 5)), float(y), True)
        _wait(app, lambda b=before: window.project.history.can_undo and window.project.history._undo[-1] is not b)
        window.canvas.viewport().repaint()
        latencies.append((time.perf_counter() - t0) * 1000)
    result = {
        "engine": args.engine,
        "image": "1920x1080",
        "click_to_overlay_ms_p50": float(np.percentile(latencies, 50)),
        "click_to_overlay_ms_p95": float(np.percentile(latencies, 95)),
        "embed_wall_s": embed_wall,
        "event_loop_max_gap_ms_during_embed": float(max(gaps[1:]) * 1000) if len(gaps) > 1 else None,
        "event_loop_p95_gap_ms_during_embed": float(np.percentile(gaps[1:], 95) * 1000) if len(gaps) > 1 else None,
    }
    report(result, args.json)
    window.close()


if __name__ == "__main__":
    main()
