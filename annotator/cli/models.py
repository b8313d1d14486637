"""`annotator models list | download NAME | import PATH [--name NAME]`: model weights."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command."""
    parser = subparsers.add_parser("models", help="list, download or import model weights")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="known models and whether their weights are installed")
    download = actions.add_parser("download", help="download a model's weights")
    download.add_argument("name")
    imported = actions.add_parser(
        "import", help="import a transformers-format folder, or convert a Meta checkpoint (.pth/.pt)"
    )
    imported.add_argument("path", type=Path, help="folder (config.json + *.safetensors) or .pth/.pt file")
    imported.add_argument(
        "--name", help="the model it is (see `annotator models list`); for a checkpoint, read from its file name"
    )
    parser.set_defaults(func=run)


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r{done / 1e6:8.1f} / {total / 1e6:.1f} MB")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Carry out the action."""
    from model.errors import EngineError
    from model.paths import weights_dir
    from model.sam.catalog import KNOWN
    from model.sam.weights import download, import_checkpoint, import_folder, installed

    if args.action in (None, "list"):
        print(f"weights folder: {weights_dir()}")
        print("| name | hub id | size | licence | gated | installed |")
        print("|---|---|---|---|---|---|")
        print("| classic | (none: no weights) | 0 MB | MIT | no | yes |")
        for name, entry in KNOWN.items():
            state = "yes" if installed(name) else "no"
            gated = "yes" if entry.gated else "no"
            print(f"| {name} | {entry.hub_id} | {entry.size_mb} MB | {entry.licence} | {gated} | {state} |")
        return 0
    if args.action == "download":
        path = download(args.name, _progress)
        print(f"\n{args.name}: installed in {path}")
        return 0
    if args.path.is_file():
        path = import_checkpoint(args.path, args.name)
        print(f"{path.name}: converted from {args.path} into {path}")
        return 0
    if not args.name:
        raise EngineError(f"{args.path}: importing a folder needs --name (see `annotator models list`)")
    path = import_folder(args.path, args.name)
    print(f"{args.name}: imported into {path}")
    return 0
