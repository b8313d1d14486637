"""Benchmark: the GUI's own cost of a click on real images, click -> overlay painted minus predict.

Usage: python benchmarks/bench_gui.py [--engine classic] [--engine sam2.1-tiny] [--clicks N]
       [--images N] [--sizes native,1080p] [--option key=value ...] [--json OUT]

Runs the real main window (annotator.app.launch_window, as `annotator PATH` does) offscreen on the
images of ../shared/data (env ANNOTATOR_DATA overrides), at their native size and resized plainly
(no letterbox, aspect not kept) to 1920x1080. The native images are symlinked into a temp folder
(the project file goes there, never into the data), the 1080p ones are written there as PNG.

Clicks go through QTest on the canvas viewport: the first click of each object at the interior
point (distance-transform maximum) of the ground-truth mask, the next ones at the interior point
of the larger error region, as `annotator eval clicks` does (right button when it is a false
positive). A click is timed from just before QTest sends the press to the end of the viewport's
first paint event after the click's overlay item was set: an event filter on the viewport runs
the view's own `viewportEvent` (what QAbstractScrollArea's viewport filter does) inside a timer
and swallows the event, so the paint itself is included. The engine's predict time is the last
argument of the bridge's `predicted` signal; the GUI share is the click time minus it.

Parts (time.perf_counter, by wrapping the app's functions in this process only):
  click->request   press event until bridge.predict is called (canvas, session._request)
  wake             bridge.predict until the engine's predict starts (worker thread wake-up)
  queue            engine predict end until session._on_predicted starts (queued signal)
  from_array       Mask.from_array of the predicted full-size mask
  command          Project.execute minus the store and the overlay it triggers (diff, events,
                   layer list, undo actions)
  store            the store transaction: RLE encoding, SQLite writes, COMMIT
  overlay_image    overlays.mask_image (indices, outline, QImage)
  pixmap           the rest of canvas.set_overlay (QPixmap.fromImage, setPixmap, setPos)
  slot_rest        the rest of _on_predicted (keep_edit, busy state, timing label, preview)
  to_paint         end of _on_predicted until the viewport's paint event starts (event loop)
  paint            the viewport's paint event
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QObject, QPoint, QPointF, QRect, Qt, QTimer, Slot
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

DATA = Path(os.environ.get("ANNOTATOR_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
PARTS = (
    "click_to_request",
    "wake",
    "queue",
    "from_array",
    "command",
    "store",
    "overlay_image",
    "pixmap",
    "slot_rest",
    "to_paint",
    "paint",
)
SIZE_1080P = (1920, 1080)
now = time.perf_counter


# -- data ------------------------------------------------------------------------------------------
def _interior(region: np.ndarray) -> tuple[tuple[int, int], float]:
    """The point of `region` farthest from its border (x, y), and that distance."""
    distance = cv2.distanceTransform(np.pad(region.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return (int(x), int(y)), float(distance[y, x])


def prepare(data: Path, count: int | None, size: str, folder: Path) -> list[tuple[str, np.ndarray]]:
    """Put `count` images of `data` in `folder` (symlinks at native size, PNGs resized to 1080p);
    return their file names with their ground-truth masks at that size."""
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(p for p in (data / "images").iterdir() if (data / "masks" / f"{p.stem}.png").exists())
    chosen = []
    for path in names[:count] if count else names:
        mask = cv2.imread(str(data / "masks" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        if size == "native":
            target = folder / path.name
            target.symlink_to(path.resolve())
        else:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            image = cv2.resize(image, SIZE_1080P, interpolation=cv2.INTER_LINEAR)
            mask = cv2.resize(mask.astype(np.uint8), SIZE_1080P, interpolation=cv2.INTER_NEAREST) > 0
            target = folder / f"{path.stem}.png"
            cv2.imwrite(str(target), image)
        chosen.append((target.name, mask))
    return chosen


def next_click(gt: np.ndarray, current: np.ndarray | None) -> tuple[int, int, bool] | None:
    """The standard next click: interior of the larger error region, positive on a false negative."""
    if current is None:
        (x, y), _ = _interior(gt)
        return x, y, True
    (fx, fy), fn = _interior(gt & ~current)
    (px, py), fp = _interior(current & ~gt)
    if max(fn, fp) <= 0:
        return None
    return (fx, fy, True) if fn >= fp else (px, py, False)


# -- instrumentation -------------------------------------------------------------------------------
class Probe(QObject):
    """Collects the timestamps of the click in flight (one at a time)."""

    def __init__(self) -> None:
        super().__init__()
        self.current: dict[str, Any] | None = None
        self.window: Any = None
        self.in_slot = False
        self.engine_busy = False
        self.idle_at = 0.0

    @Slot(bool)
    def on_busy(self, busy: bool) -> None:
        self.engine_busy = busy
        if not busy:
            self.idle_at = now()

    def begin(self) -> dict[str, Any]:
        self.current = {"sums": defaultdict(float), "overlays": 0}
        return self.current

    def add(self, part: str, seconds: float) -> None:
        if self.current is not None and self.in_slot:
            self.current["sums"][part] += seconds

    def mark(self, what: str, when: float | None = None) -> None:
        if self.current is not None and what not in self.current:
            self.current[what] = now() if when is None else when

    @Slot(int, object, object, float)
    def on_predicted(self, request_id: int, key: Any, prediction: Any, ms: float) -> None:
        record = self.current
        if record is not None:
            record["slot_start"] = now()
            record["predict_ms"] = ms
        self.in_slot = True
        try:
            self.window.session._on_predicted(request_id, key, prediction, ms)
        finally:
            self.in_slot = False
            if record is not None:
                record["slot_end"] = now()


class PaintTimer(QObject):
    """Runs the viewport's paint inside a timer once the click's overlay exists."""

    def __init__(self, probe: Probe, canvas: Any) -> None:
        super().__init__()
        self.probe, self.canvas = probe, canvas

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        record = self.probe.current
        if event.type() != QEvent.Type.Paint or record is None or "overlay_set" not in record or "painted" in record:
            return False
        started = now()
        self.canvas.viewportEvent(event)  # QAbstractScrollArea's own viewport filter does this
        ended = now()
        rect: QRect = record["overlay_rect"]
        if event.region().boundingRect().intersects(rect):
            record["paint_start"], record["painted"] = started, ended
        return True


def instrument(window: Any, probe: Probe) -> None:
    """Wrap the functions a click goes through (this process only)."""
    import annotator.views.canvas as canvas_module
    from annotator.document import Mask

    canvas, session, bridge = window.canvas, window.session, window.bridge
    if not getattr(window, "_bench_wrapped", False):
        window._bench_wrapped = True
        bridge.predicted.disconnect(session._on_predicted)
        bridge.predicted.connect(probe.on_predicted)
        bridge.busy_changed.connect(probe.on_busy)
        predict = bridge.predict

        def timed_predict(*args: Any, **kwargs: Any) -> int:
            probe.mark("request")
            return predict(*args, **kwargs)

        bridge.predict = timed_predict
        build = canvas_module.mask_image

        def timed_mask_image(*args: Any, **kwargs: Any) -> Any:
            started = now()
            try:
                return build(*args, **kwargs)
            finally:
                probe.add("overlay_image", now() - started)

        canvas_module.mask_image = timed_mask_image
        set_overlay = canvas.set_overlay

        def timed_set_overlay(object_id: int, mask: Any, *args: Any) -> None:
            started = now()
            set_overlay(object_id, mask, *args)
            probe.add("set_overlay", now() - started)
            record = probe.current
            if record is not None and probe.in_slot and mask is not None and object_id in canvas.overlays:
                item = canvas.overlays[object_id]
                record["overlay_set"] = now()
                record["overlays"] += 1
                record["overlay_rect"] = canvas.mapFromScene(item.sceneBoundingRect()).boundingRect()

        canvas.set_overlay = timed_set_overlay
        original = Mask.from_array.__func__

        def timed_from_array(cls: Any, array: Any) -> Any:
            started = now()
            try:
                return original(cls, array)
            finally:
                probe.add("from_array", now() - started)

        Mask.from_array = classmethod(timed_from_array)
        window._bench_paint_timer = PaintTimer(probe, canvas)  # kept alive by the window
        canvas.viewport().installEventFilter(window._bench_paint_timer)
    _instrument_project(window.project, probe)


def _instrument_project(project: Any, probe: Probe) -> None:
    execute = project.execute

    def timed_execute(command: Any) -> Any:
        _instrument_store(project.store, probe)  # a new folder's store exists from the first edit on
        started = now()
        try:
            return execute(command)
        finally:
            probe.add("execute", now() - started)

    project.execute = timed_execute


def _instrument_store(store: Any, probe: Probe) -> None:
    if store is None or getattr(store, "_bench_wrapped", False):
        return
    store._bench_wrapped = True
    transaction = store.transaction

    class _Timed:
        def __enter__(self) -> None:
            self.started = now()
            self.inner = transaction()
            self.inner.__enter__()

        def __exit__(self, *exc: Any) -> Any:
            try:
                return self.inner.__exit__(*exc)
            finally:
                probe.add("store", now() - self.started)

    store.transaction = _Timed


def engine_factory(options: dict[str, str], probe: Probe) -> Any:
    """An EngineBridge factory: registry.create with the bench's options, predict timed."""
    from model import registry

    def factory(name: str, **kwargs: Any) -> Any:
        engine = registry.create(name, **{**kwargs, **options})
        predict = engine.predict

        def timed(embedding: Any, prompt: Any) -> Any:
            probe.mark("predict_start")
            try:
                return predict(embedding, prompt)
            finally:
                probe.mark("predict_end")

        engine.predict = timed
        return engine

    return factory


# -- running ---------------------------------------------------------------------------------------
def wait(app: QApplication, condition: Any, timeout: float = 300.0) -> None:
    """Run the event loop (blocking while idle, as app.exec does) until `condition()`."""
    deadline = now() + timeout
    waker = QTimer()
    waker.start(50)  # wakes the loop now and then, to look at the deadline
    try:
        while not condition():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            if now() > deadline:
                raise TimeoutError("the GUI or the engine did not answer in time")
    finally:
        waker.stop()


def parts_of(record: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of each part of one click (see the module docstring)."""
    sums = record["sums"]
    ms = {
        "total": record["painted"] - record["click"],
        "click_to_request": record["request"] - record["click"],
        "wake": record["predict_start"] - record["request"],
        "queue": record["slot_start"] - record["predict_end"],
        "from_array": sums["from_array"],
        "command": sums["execute"] - sums["store"] - sums["set_overlay"],
        "store": sums["store"],
        "overlay_image": sums["overlay_image"],
        "pixmap": sums["set_overlay"] - sums["overlay_image"],
        "slot_rest": record["slot_end"] - record["slot_start"] - sums["from_array"] - sums["execute"],
        "to_paint": record["paint_start"] - record["slot_end"],
        "paint": record["painted"] - record["paint_start"],
    }
    out = {key: value * 1000 for key, value in ms.items()}
    out["predict"] = record["predict_ms"]
    out["gui"] = out["total"] - record["predict_ms"]
    return out


def click(app: QApplication, window: Any, probe: Probe, x: int, y: int, positive: bool) -> dict[str, float] | None:
    """One click through QTest at image pixel (x, y); its parts, or None when the mask did not change."""
    canvas = window.canvas
    where = canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    button = Qt.MouseButton.LeftButton if positive else Qt.MouseButton.RightButton
    draft = window.session.draft
    adds = draft is None or draft.object_id is None  # the first click of an object: AddObject
    record = probe.begin()
    record["click"] = now()
    QTest.mouseClick(canvas.viewport(), button, Qt.KeyboardModifier.NoModifier, QPoint(where))
    wait(app, lambda: "painted" in record or ("slot_end" in record and not record["overlays"]))
    probe.current = None
    app.processEvents()  # whatever else the click scheduled, outside the timing
    if "painted" not in record:
        return None
    return {**parts_of(record), "adds": float(adds)}


def run_size(
    app: QApplication, window: Any, probe: Probe, folder: Path, images: list[tuple[str, np.ndarray]], clicks: int
) -> dict[str, Any]:
    """Open `folder`, click `clicks` times over its images; the figures."""
    gaps: list[float] = []
    last = [now()]

    def tick() -> None:
        gaps.append(now() - last[0])
        last[0] = now()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    started = now()
    window.open_path(folder)
    instrument(window, probe)
    session = window.session
    wait(app, lambda: session.key is not None and session.key in session.embedded_keys)
    embed_wall = now() - started
    timer.stop()
    rows = {Path(item.path).stem: i for i, item in enumerate(window.project.items)}
    per_image = max(1, math.ceil(clicks / len(images)))
    results: list[dict[str, float]] = []
    unchanged = warmup = 0
    for round_ in range(4):
        for index, (name, gt) in enumerate(images):
            if len(results) >= clicks:
                break
            row = rows[Path(name).stem]
            shown = now()
            if window.navigator.currentRow() != row:
                window.navigator.setCurrentRow(row)
            # A user does not click within milliseconds of the image appearing: let the engine
            # finish the prefetches of the next images too (a click behind one waits for it).
            wait(app, lambda: session.key in session.embedded_keys)
            wait(app, lambda shown=shown: not probe.engine_busy and probe.idle_at > shown)
            session.new_object()
            app.processEvents()
            current = None
            for _ in range(per_image + (2 if round_ == index == 0 else 0)):
                point = next_click(gt, current)
                if point is None or len(results) >= clicks:
                    break
                timed = click(app, window, probe, *point)
                obj = session.selected
                mask = None if obj is None else window.project.mask(obj, session.frame)
                current = None if mask is None else mask.to_array()
                if round_ == index == 0 and warmup < 2:  # the first clicks warm caches and imports
                    warmup += 1
                elif timed is None:
                    unchanged += 1
                else:
                    # How ragged the mask is (random weights give noise all over the frame): the
                    # length of its compressed RLE, which the store and the undo patch encode.
                    timed["rle_bytes"] = float(len(mask.to_rle()["counts"])) if mask is not None else 0.0
                    results.append(timed)
        if len(results) >= clicks:
            break
    h, w = images[0][1].shape
    sizes = {m.shape for _, m in images}
    figures: dict[str, Any] = {
        "size": f"{w}x{h}" if len(sizes) == 1 else "native",
        "images": len(images),
        "clicks": len(results),
        "unchanged_clicks_skipped": unchanged,
        "canvas_viewport": f"{window.canvas.viewport().width()}x{window.canvas.viewport().height()}",
        "embed_wall_s_first": embed_wall,
        "event_loop_max_gap_ms_during_embed": float(max(gaps[1:]) * 1000) if len(gaps) > 1 else None,
    }
    for key in ("gui", "total", "predict", *PARTS):
        values = [r[key] for r in results]
        figures[f"{key}_ms_p50"] = float(np.percentile(values, 50))
        figures[f"{key}_ms_p95"] = float(np.percentile(values, 95))
    figures["mask_rle_bytes_p50"] = float(np.percentile([r["rle_bytes"] for r in results], 50))
    for kind, adds in (("add_object", 1.0), ("set_mask", 0.0)):
        values = [r["gui"] for r in results if r["adds"] == adds]
        figures[f"{kind}_clicks"] = len(values)
        figures[f"{kind}_gui_ms_p50"] = float(np.percentile(values, 50)) if values else None
    return figures


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the main figures, then one of the parts' medians."""
    lines = [
        "| engine | size | clicks | GUI share p50 / p95 ms | click->painted p50 / p95 ms | predict p50 / p95 ms "
        "| mask RLE bytes p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} | {r['size']} | {r['clicks']} | {r['gui_ms_p50']:.1f} / {r['gui_ms_p95']:.1f} | "
            f"{r['total_ms_p50']:.1f} / {r['total_ms_p95']:.1f} | "
            f"{r['predict_ms_p50']:.1f} / {r['predict_ms_p95']:.1f} | {r['mask_rle_bytes_p50']:.0f} |"
        )
    lines += ["", "| engine | size | " + " | ".join(PARTS) + " |", "|---|---|" + "---|" * len(PARTS)]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['size']} | " + " | ".join(f"{r[f'{p}_ms_p50']:.2f}" for p in PARTS) + " |")
    lines.append("(parts: p50 ms of each; their p50s need not add up to the GUI share's p50)")
    return "\n".join(lines)


def main() -> None:
    """Open the window per engine and size, click, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", action="append", help="engine to measure (repeatable; default classic)")
    parser.add_argument("--option", action="append", default=[], help="engine factory option key=value")
    parser.add_argument("--clicks", type=int, default=None, help="timed clicks per engine and size (40; SAM 20)")
    parser.add_argument("--images", type=int, default=None, help="images used (all; SAM 5)")
    parser.add_argument("--sizes", default="native,1080p", help="comma-separated: native, 1080p")
    parser.add_argument(
        "--data", type=Path, default=DATA, help="evaluation data (default ANNOTATOR_DATA or ../shared/data)"
    )
    parser.add_argument("--json", type=Path, help="write the figures here, one JSON object per line")
    args = parser.parse_args()
    engines = args.engine or ["classic"]
    extra = dict(item.split("=", 1) for item in args.option)
    os.environ.setdefault("ANNOTATOR_CONFIG_DIR", tempfile.mkdtemp(prefix="bench-gui-config-"))
    os.environ.setdefault("ANNOTATOR_DATA_DIR", tempfile.mkdtemp(prefix="bench-gui-data-"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from annotator.app import launch_window
    from annotator.bridge import EngineBridge

    root = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    rows = []
    for engine in engines:
        classic = engine == "classic"
        options = dict(extra) if classic else {"weights": "random", "device": "cpu", **extra}
        clicks = args.clicks or (40 if classic else 20)
        count = args.images or (None if classic else 5)
        probe = Probe()
        bridge = EngineBridge(factory=engine_factory(options, probe))
        window = launch_window(None, engine, bridge)
        window.resize(1600, 1000)
        probe.window = window
        wait(app, lambda w=window: w.bridge.engine is not None, timeout=600)
        for size in args.sizes.split(","):
            folder = root / f"{engine}-{size}"
            images = prepare(args.data, count, size, folder)
            figures = {"engine": engine, "options": options, **run_size(app, window, probe, folder, images, clicks)}
            figures["size"] = "native" if size == "native" else figures["size"]
            rows.append(figures)
            print(json.dumps(figures), flush=True)
        window.close()
        bridge.stop()
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
