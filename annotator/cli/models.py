"""`annotator models list | download NAME | import FOLDER --name NAME`: model weights."""

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
    imported = actions.add_parser("import", help="import a transformers-format folder as a model")
    imported.add_argument("folder", type=Path)
    imported.add_argument("--name", required=True, help="the model it is (see `annotator models list`)")
    parser.set_defaults(func=run)


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r{done / 1e6:8.1f} / {total / 1e6:.1f} MB")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Carry out the action."""
    from model.paths import weights_dir
    from model.sam.catalog import CATALOG
    from model.sam.weights import download, import_folder, installed

    if args.action in (None, "list"):
        print(f"weights folder: {weights_dir()}")
        print("| name | hub id | size | licence | gated | installed |")
        print("|---|---|---|---|---|---|")
        print("| classic | (none: no weights) | 0 MB | MIT | no | yes |")
        for name, entry in CATALOG.items():
            state = "yes" if installed(name) else "no"
            gated = "yes" if entry.gated else "no"
            print(f"| {name} | {entry.hub_id} | {entry.size_mb} MB | {entry.licence} | {gated} | {state} |")
        return 0
    if args.action == "download":
        path = download(args.name, _progress)
        print(f"\n{args.name}: installed in {path}")
        return 0
    path = import_folder(args.folder, args.name)
    print(f"{args.name}: imported into {path}")
    return 0
