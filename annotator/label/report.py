"""Progress of a labelling run: a tqdm bar on a terminal, one JSON line per batch otherwise; the summary."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from annotator.label.runner import Summary
from annotator.label.spec import Outcome


class BatchProgress:
    """Reports each written batch: a live bar when `stream` is a terminal, else one JSON line."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: Any = None

    def __call__(self, summary: Summary, outcomes: list[Outcome]) -> None:
        """Receive one written batch."""
        if self.live:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=summary.total, unit="item", file=self.stream)
            self._bar.update(len(outcomes))
            self._bar.set_postfix(instances=summary.instances, failed=summary.failed, refresh=False)
            return
        line = {
            "batch": summary.batches,
            "done": summary.done + summary.failed,
            "todo": summary.total,
            "instances": summary.instances,
            "failed": summary.failed,
            "items": [[o.item_id, o.frame, o.status, len(o.made)] for o in outcomes],
        }
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar (if one was drawn)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def summary_text(summary: Summary, shown: int = 20) -> str:
    """The run's summary for a person: counts, throughput, and the first failures."""
    run = summary.run.id if summary.run else "-"
    lines = [
        f"run {run} ({summary.model}): {summary.done + summary.failed} of {summary.total} items labelled, "
        f"{summary.instances} instances proposed, {summary.failed} failed, "
        f"in {summary.seconds:.1f} s ({summary.rate:.2f} items/s)"
    ]
    if summary.already_done:
        lines.append(f"  {summary.already_done} items were already done by this run (resumed)")
    if summary.skipped_labelled:
        lines.append(f"  {summary.skipped_labelled} items skipped: they have objects (--only-unlabelled)")
    if summary.interrupted:
        lines.append("  interrupted: run the same command again to do the rest")
    if summary.errors:
        lines.append(f"  {len(summary.errors)} items failed (retried by the next run):")
        lines += [f"    {error}" for error in summary.errors[:shown]]
        if len(summary.errors) > shown:
            lines.append(f"    and {len(summary.errors) - shown} more")
    return "\n".join(lines)
