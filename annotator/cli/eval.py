"""`annotator eval clicks|video|tracks`: score an engine on a data folder in the layout of ../shared/data."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from annotator.cli.engines import add_engine_options, create_engine

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval` with its `clicks`, `video` and `tracks` subcommands."""
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
    tracks = commands.add_parser(
        "tracks", help="box tracks (success AUC, precision@20px) on videos/ and point tracks (PCK) on tracks/badja"
    )
    _common(tracks)
    tracks.add_argument(
        "--box-tracker",
        choices=("auto", "lk", "mask"),
        default="auto",
        help="lk: the classic box tracker; mask: the box of the engine's mask track; auto: lk for classic (default)",
    )
    tracks.add_argument(
        "--mask-gate", action="store_true", help="gate point visibility by the engine's mask track (slower)"
    )
    tracks.add_argument("--snap", action="store_true", help="with --mask-gate: points off the mask move onto it")
    tracks.set_defaults(func=run_tracks)


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


def run_tracks(args: argparse.Namespace) -> int:
    """Track boxes and points on the shared videos and print the markdown tables."""
    from annotator.evaluation.data import list_videos
    from annotator.evaluation.tracks import (
        badja_items,
        engine_factories,
        engine_mask_track,
        evaluate_tracks,
        markdown_table,
    )

    items = list_videos(args.data)
    engine = create_engine(args)
    boxes, points, kind = engine_factories(engine, args.box_tracker, args.snap)
    masks = engine_mask_track(engine) if args.mask_gate else None
    gate = (" + mask gate" + (" and snap" if args.snap else "")) if masks else ""
    label = f"{engine.model_id} (boxes: {kind}, points: classic{gate})"
    report = evaluate_tracks(label, boxes, points, items, badja_items(args.data), masks)
    print(markdown_table(report))
    _write_json(args.json, report.to_dict())
    return 0
