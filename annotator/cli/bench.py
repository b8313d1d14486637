"""`annotator bench`: time an engine on generated inputs (embed, click -> mask, propagation)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from annotator.cli.engines import add_engine_options, create_engine


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` subcommand."""
    parser = subparsers.add_parser("bench", help="time an engine on generated images and video")
    add_engine_options(parser)
    parser.add_argument("--clicks", type=int, default=20, help="timed clicks (default 20)")
    parser.add_argument("--frames", type=int, default=40, help="propagated frames (default 40; 0 skips propagation)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the bench and print its figures."""
    from annotator.evaluation.bench import markdown_table, run_bench

    engine = create_engine(args)
    report = run_bench(engine, clicks=max(1, args.clicks), frames=0 if args.frames <= 0 else max(2, args.frames))
    print(markdown_table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
        print(f"wrote {args.json}")
    return 0
