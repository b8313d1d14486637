"""`annotator 3d PROJECT --object ID [--frame N] -o OUT.glb|OUT.ply [--backend NAME]`: an object's 3D asset."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIXES = (".glb", ".ply")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `3d` command."""
    from model.reconstruct import BACKENDS, DEFAULT

    parser = subparsers.add_parser(
        "3d",
        help="make a 3D asset (GLB mesh or 3DGS PLY splat) of an annotated object",
        description="Make a 3D asset of one object from its image and mask. The local backend gives the "
        "visible surface as a relief (with a depth model installed) or an inflated silhouette; "
        "sam3d-objects gives the full shape on a CUDA GPU (see docs/3d.md).",
    )
    parser.add_argument("project", type=Path, help="the project file (.annot)")
    parser.add_argument("--object", dest="object_id", type=int, required=True, help="object id")
    parser.add_argument("--frame", type=int, default=None, help="video frame (default: the object's keyframe)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="OUT.glb (mesh) or OUT.ply (splat)")
    parser.add_argument(
        "--backend", default=DEFAULT, choices=sorted(BACKENDS), help=f"reconstruction backend (default {DEFAULT})"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Reconstruct the object and write the asset (nothing is written when anything fails)."""
    from annotator.document import Project
    from annotator.document.store import SUFFIX
    from annotator.errors import AnnotatorError, ProjectError
    from annotator.io.object_view import object_view
    from model.reconstruct import Progress, reconstruct

    output: Path = args.output
    if output.suffix.lower() not in SUFFIXES:
        raise AnnotatorError(f"{output}: the output must end in .glb (mesh) or .ply (Gaussian splat)")
    if not args.project.is_file():
        raise ProjectError(args.project, "no such project file")
    if args.project.suffix != SUFFIX:
        raise ProjectError(args.project, f"not a project file (expected {SUFFIX})")
    project = Project.open(args.project)
    try:
        view = object_view(project, args.object_id, args.frame)
    finally:
        project.close()

    def progress(step: Progress) -> None:
        log.info("%3.0f%% %s", 100 * step.fraction, step.stage)

    result = reconstruct(view.image, view.mask, backend=args.backend, progress=progress)
    data = result.glb if output.suffix.lower() == ".glb" else result.ply
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(data)
    partial.replace(output)
    print(
        f"{output}: {result.kind} of object {args.object_id} (frame {view.frame}) by {result.backend}, "
        f"{len(data) / 1e6:.1f} MB; {result.notes}",
        file=sys.stdout,
    )
    return 0
