"""Command line: `annotator [PATH]` opens the GUI; subcommands convert, eval, bench, models, 3d.

Each subcommand lives in `annotator/cli/<name>.py` and exposes
`register(subparsers: argparse._SubParsersAction) -> None`, which adds its parser and sets
`func=callable(args) -> int` as a default. Domain errors are reported by `report_error`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from annotator import __version__

log = logging.getLogger(__name__)

SUBCOMMANDS: tuple[str, ...] = ("convert", "eval", "bench", "models", "threed")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Annotate images and videos with masks, helped by local Segment-Anything models. "
        "With no subcommand, opens the GUI on PATH (an image, folder, video, frame folder or project).",
    )
    parser.add_argument("--version", action="version", version=f"annotator {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = subparsers.add_parser("gui", help="open the GUI (the default)")
    _add_gui_arguments(gui)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"annotator.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"annotator.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def _add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="image, folder, video, frame folder or project (.annot) to open")
    parser.add_argument("--sample", action="store_true", help="open a generated sample folder")
    parser.add_argument("--engine", default=None, help="engine to start with (default: classic)")


def configure_logging(verbose: bool) -> None:
    """Configure logging once, at start-up."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def report_error(error: BaseException) -> int:
    """Print a domain error for the user and return the exit status for it."""
    print(f"annotator: error: {error}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `annotator` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    # `annotator PATH` (no subcommand) means the GUI.
    first = next((a for a in args_list if not a.startswith("-")), None)
    if (first is None or first not in known) and not any(a in ("-h", "--help", "--version") for a in args_list):
        args_list = ["gui", *args_list]
    args = parser.parse_args(args_list)
    configure_logging(getattr(args, "verbose", False))
    if args.command in (None, "gui"):
        from annotator.app import run_gui

        return run_gui(args)
    from annotator.errors import AnnotatorError
    from model.errors import Cancelled, EngineError

    try:
        return int(args.func(args) or 0)
    except (AnnotatorError, EngineError) as error:
        return report_error(error)
    except Cancelled:
        print("annotator: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("annotator: interrupted", file=sys.stderr)
        return 130
