"""`annotator eval clicks|video`: score an engine on a data folder in the layout of ../shared/data."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from annotator.cli.engines import add_engine_options, create_engine

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval` with its `clicks` and `video` subcommands."""
    parser = subparsers.add_parser("eval", help="score an engine on an evaluation data folder")
    commands = parser.add_subparsers(dest="eval_command", metavar="KIND", required=True)
    clicks = commands.add_parser("clicks", help="interactive click robot on images/ + masks/ (NoC, mIoU)")
    _common(clicks)
    clicks.add_argument("--max-clicks", type=int, default=20, help="clicks per image (default 20)")
    clicks.add_argument("--limit", type=int, default=None, help="score only the first N images")
    clicks.set_defaults(func=run_clicks)
    video = commands.add_parser("video", help="first-frame mask propagation on videos/ (J, F, J&F)")
    _common(video)
    video.set_defaults(func=run_video)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="data folder (images/, masks/, ignore/, videos/)")
    add_engine_options(parser)
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")


def _write_json(path: Path | None, payload: dict[str, object]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")


def run_clicks(args: argparse.Namespace) -> int:
    """Run the click robot and print the markdown table."""
    from annotator.evaluation.clicks import evaluate_clicks, markdown_table
    from annotator.evaluation.data import DataError, list_images

    if args.max_clicks < 1:
        raise DataError("--max-clicks", "must be at least 1")
    items = list_images(args.data)[: args.limit]
    engine = create_engine(args)
    report = evaluate_clicks(engine, items, args.max_clicks)
    print(markdown_table(report))
    _write_json(args.json, report.to_dict())
    return 0


def run_video(args: argparse.Namespace) -> int:
    """Propagate first-frame masks and print the markdown table."""
    from annotator.evaluation.data import list_videos
    from annotator.evaluation.video import evaluate_video, markdown_table

    items = list_videos(args.data)
    engine = create_engine(args)
    report = evaluate_video(engine, items)
    print(markdown_table(report))
    _write_json(args.json, report.to_dict())
    return 0
