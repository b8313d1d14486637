"""`annotator bench`: time an engine (embed, click -> mask, propagation) on real data when there is some.

The data folder is `--data DIR`, else $ANNOTATOR_DATA, else ../shared/data from the current
folder when it exists (where `make bench` runs); `--synthetic` (or no data found) times generated
inputs, and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from annotator.cli.engines import add_engine_options, create_engine


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` subcommand."""
    parser = subparsers.add_parser("bench", help="time an engine on real images and videos (or generated ones)")
    add_engine_options(parser)
    parser.add_argument("--clicks", type=int, default=20, help="timed clicks (default 20)")
    parser.add_argument(
        "--frames", type=int, default=40, help="propagated frames per sequence (default 40; 0 skips propagation)"
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="data folder (default $ANNOTATOR_DATA, else ../shared/data)"
    )
    parser.add_argument("--sequences", type=int, default=3, help="real sequences propagated (default 3)")
    parser.add_argument(
        "--everything",
        type=int,
        default=0,
        metavar="N",
        help="also time segment everything on one image with an N x N grid (default 0: not timed)",
    )
    parser.add_argument("--synthetic", action="store_true", help="time generated inputs even when data exists")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.set_defaults(func=run)


def data_folder(given: Path | None) -> Path | None:
    """The data folder to bench on: the one given, $ANNOTATOR_DATA, or ../shared/data when present."""
    if given is not None:
        return given
    env = os.environ.get("ANNOTATOR_DATA")
    if env:
        return Path(env)
    default = Path.cwd().parent / "shared" / "data"
    return default if (default / "images").is_dir() else None


def run(args: argparse.Namespace) -> int:
    """Run the bench and print its figures."""
    from annotator.evaluation.bench import markdown_table, run_bench, run_real_bench
    from annotator.evaluation.data import list_images, list_videos

    engine = create_engine(args)
    clicks, frames = max(1, args.clicks), 0 if args.frames <= 0 else max(2, args.frames)
    root = None if args.synthetic else data_folder(args.data)
    if root is None:
        report = run_bench(engine, clicks=clicks, frames=frames, everything=args.everything)
    else:
        images = list_images(root)  # DataError (a clear message) when the folder is not a data folder
        videos = list_videos(root)[: max(0, args.sequences)] if frames and (root / "videos").is_dir() else []
        report = run_real_bench(
            engine, images, videos, str(root), clicks=clicks, frames=frames, everything=args.everything
        )
    print(markdown_table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
        print(f"wrote {args.json}")
    return 0
