"""Click evaluation: drive an engine with the click robot over image items and score it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from annotator.evaluation.data import ImageItem, load_image_item
from annotator.evaluation.metrics import iou, noc
from annotator.evaluation.robot import next_click
from model.protocol import Embedding, Engine, Prompt, supports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemScore:
    """Scores of one image: NoC@85/90, IoU after 1 and 5 clicks, timings, and the IoU per click."""

    name: str
    noc85: int
    noc90: int
    iou1: float
    iou5: float
    ms_per_click: float
    embed_ms: float
    ious: tuple[float, ...]


@dataclass(frozen=True)
class ClickReport:
    """A click evaluation over several items, with means."""

    engine: str
    max_clicks: int
    items: tuple[ItemScore, ...]

    def mean(self, field: str) -> float:
        """Mean of one ItemScore field over the items (nan if none)."""
        values = [float(getattr(item, field)) for item in self.items]
        return float(np.mean(values)) if values else float("nan")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: settings, means and per-item scores."""
        fields = ("noc85", "noc90", "iou1", "iou5", "ms_per_click", "embed_ms")
        return {
            "engine": self.engine,
            "max_clicks": self.max_clicks,
            "means": {f: self.mean(f) for f in fields},
            "items": [asdict(item) for item in self.items],
        }


def run_clicks(
    engine: Engine,
    embedding: Embedding,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    max_clicks: int,
    stop_iou: float | None = 0.9,
    quick_ms: list[float] | None = None,
) -> tuple[list[float], list[float]]:
    """Click with the robot up to `max_clicks` times; returns (IoU per click, ms per click).

    With `quick_ms` (a list to fill) and an engine with a `preview` step, each click's quick first
    mask is timed too (before the full prediction, as the app shows it).

    With `stop_iou`, stops once the IoU reaches it after at least 5 clicks (later IoUs are
    then taken as that last value, which NoC at or below `stop_iou` does not depend on).
    """
    pred = np.zeros(gt.shape, bool)
    points: list[tuple[float, float]] = []
    labels: list[int] = []
    logits = None
    ious: list[float] = []
    times: list[float] = []
    for index in range(max_clicks):
        click = next_click(pred, gt, ignore)
        if click is None:
            ious.append(1.0)
            continue
        points.append((click.x, click.y))
        labels.append(1 if click.positive else 0)
        prompt = Prompt(np.array(points, np.float32), np.array(labels, np.int32), logits=logits, multimask=index == 0)
        if quick_ms is not None and supports(engine, "preview"):
            start = time.perf_counter()
            engine.preview(embedding, prompt)  # type: ignore[attr-defined]
            quick_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        prediction = engine.predict(embedding, prompt)
        times.append((time.perf_counter() - start) * 1000)
        best = prediction.best
        pred, logits = prediction.masks[best], prediction.logits[best]
        ious.append(iou(pred, gt, ignore))
        if stop_iou is not None and index >= 4 and ious[-1] >= stop_iou:
            break
    ious += [ious[-1]] * (max_clicks - len(ious))
    return ious, times


def evaluate_item(engine: Engine, item: ImageItem, max_clicks: int) -> ItemScore:
    """Score one image item with the click robot."""
    image, gt, ignore = load_image_item(item)
    start = time.perf_counter()
    embedding = engine.embed(image)
    embed_ms = (time.perf_counter() - start) * 1000
    ious, times = run_clicks(engine, embedding, gt, ignore, max_clicks)
    return ItemScore(
        name=item.name,
        noc85=noc(ious, 0.85, max_clicks),
        noc90=noc(ious, 0.90, max_clicks),
        iou1=ious[0],
        iou5=ious[min(4, max_clicks - 1)],
        ms_per_click=float(np.mean(times)) if times else 0.0,
        embed_ms=embed_ms,
        ious=tuple(round(v, 4) for v in ious),
    )


def evaluate_clicks(
    engine: Engine,
    items: Sequence[ImageItem],
    max_clicks: int = 20,
    progress: Callable[[ItemScore], None] | None = None,
) -> ClickReport:
    """Run the click robot over `items` with `engine`."""
    scores = []
    for item in items:
        score = evaluate_item(engine, item, max_clicks)
        log.info("%s: NoC@90 %d, IoU@1 %.3f, IoU@5 %.3f", item.name, score.noc90, score.iou1, score.iou5)
        if progress is not None:
            progress(score)
        scores.append(score)
    return ClickReport(engine.model_id, max_clicks, tuple(scores))


def markdown_table(report: ClickReport) -> str:
    """The report as a markdown table, one row per item and a row of means."""
    lines = [
        f"Click evaluation of `{report.engine}` (max {report.max_clicks} clicks)",
        "",
        "| item | NoC@85 | NoC@90 | IoU@1 | IoU@5 | ms/click |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in report.items:
        lines.append(f"| {s.name} | {s.noc85} | {s.noc90} | {s.iou1:.3f} | {s.iou5:.3f} | {s.ms_per_click:.0f} |")
    m = report.mean
    means = f"{m('noc85'):.2f} | {m('noc90'):.2f} | {m('iou1'):.3f} | {m('iou5'):.3f} | {m('ms_per_click'):.0f}"
    lines.append(f"| **mean** | {means} |")
    return "\n".join(lines)
