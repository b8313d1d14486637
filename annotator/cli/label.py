"""`annotator label TARGET`: pre-label a folder, a video or a project with a model, as proposals.

Resumable (the same command again does only what is not done), on a pool of worker processes,
one transaction per batch; see docs/label.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from annotator.errors import AnnotatorError
from annotator.io.formats import WRITABLE
from annotator.label.spec import EngineChoice, PromptSpec
from model.protocol import EverythingSettings

log = logging.getLogger(__name__)

EPILOG = """prompts and the engines they need:
  --everything       every region of each image: classic, SAM, SAM 2.1 (engines with 'everything')
  --text P=LABEL     each phrase found with SAM 3 (engines with 'find'); its instances get LABEL
  --labels           every label of the project as a phrase (SAM 3)
  --boxes FILE       the boxes of a COCO .json, YOLO folder / .yaml or MOT .txt turned into masks
                     (any engine: a box prompt), each keeping its class as its label

Results are proposals (review them in the GUI: Find panel, Images list); the user's objects are
never changed. Running the same command again resumes: only items not yet done are labelled.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `label` subcommand."""
    parser = subparsers.add_parser(
        "label",
        help="pre-label a folder, video or project with a model (as proposals, resumable)",
        description="Pre-label every image (or frame) of TARGET with a model; results become proposals to review.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", type=Path, help="a folder of images, a video file, a frame folder or a project")
    prompts = parser.add_argument_group("prompts (one kind per run; --text and --labels combine)")
    prompts.add_argument("--everything", action="store_true", help="propose every region")
    prompts.add_argument("--text", action="append", default=[], metavar="PHRASE=LABEL", help="a phrase to find")
    prompts.add_argument("--labels", action="store_true", help="each project label as a phrase to find")
    prompts.add_argument("--boxes", type=Path, metavar="FILE", help="boxes to turn into masks (COCO, YOLO, MOT)")
    prompts.add_argument("--boxes-format", choices=("coco", "yolo", "mot"), help="format of --boxes (detected)")
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", default="classic", help="engine name (see `annotator models`; default: classic)")
    engine.add_argument("--weights", help="the engine's weights (folder or file), when not the default")
    engine.add_argument("--device", help="cpu, cuda, mps (default: the engine's choice)")
    engine.add_argument("--runtime", help="SAM runtime: auto, torch, onnx")
    engine.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="leave out instances scoring below this (concepts: without it, the detector's floor of 0.3)",
    )
    engine.add_argument("--points-per-side", type=int, default=32, help="--everything: grid density")
    engine.add_argument("--min-area", type=int, default=100, help="--everything: smallest region in pixels")
    work = parser.add_argument_group("work")
    work.add_argument("--only-unlabelled", action="store_true", help="skip items that already have objects")
    work.add_argument("--workers", type=int, default=0, help="worker processes (default: by engine and cores)")
    work.add_argument("--threads", type=int, default=0, help="threads per worker (default: cores / workers)")
    work.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on a Ray cluster (host:port, 'auto', or 'local' to start one here); needs annotator[ray]",
    )
    work.add_argument("--gpus", type=float, default=0.0, help="--ray: GPUs per worker (fractions share one)")
    work.add_argument("--batch-size", type=int, default=8, help="items per batch (one transaction each)")
    out = parser.add_argument_group("export when done")
    out.add_argument("-o", "--output", dest="out", type=Path, help="export to this file or folder when done")
    out.add_argument("--to", choices=WRITABLE, default="coco", help="export format (default: coco)")
    out.add_argument(
        "--with-proposals",
        action="store_true",
        help="export the proposals still waiting too (default: only reviewed objects)",
    )
    out.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(func=run)


def _prompt(args: argparse.Namespace, concepts: tuple, digest: str) -> PromptSpec:
    settings = EverythingSettings(points_per_side=max(1, args.points_per_side), min_area=max(0, args.min_area))
    kind = "everything" if args.everything else "boxes" if args.boxes else "concepts"
    return PromptSpec(kind, concepts, args.threshold, settings, digest)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """Run the labelling; domain errors propagate to the CLI's error report."""
    from annotator.label.report import BatchProgress, summary_text
    from annotator.label.runner import LabelJob, default_workers, label
    from annotator.label.setup import box_table, export, label_id, parse_text
    from annotator.workspace import open_path

    kinds = [bool(args.everything), bool(args.text or args.labels), args.boxes is not None]
    if sum(kinds) != 1:
        raise AnnotatorError("give one kind of prompt: --everything, --text / --labels, or --boxes")
    if not 0.0 <= args.threshold <= 1.0:
        raise AnnotatorError(f"--threshold must lie in [0, 1], not {args.threshold}")
    project, chosen, problems = open_path(args.target)
    for problem in problems:
        log.warning("%s", problem)
    try:
        item_ids = None
        if chosen is not None:  # a video file: only that item of its folder's project
            item_ids = frozenset(item.id for item in project.items if item.path == chosen)
        if project.store is None:  # a new folder's project: written now, since the run writes to it
            project._materialise()
        concepts: list[tuple[str, int | None]] = []
        for phrase, name in parse_text(args.text):
            concepts.append((phrase, label_id(project, name)))
        if args.labels:
            concepts += [(lab.name, lab.id) for lab in project.labels if (lab.name, lab.id) not in concepts]
            if not concepts:
                raise AnnotatorError(f"{project.path}: --labels, but the project has no labels")
        boxes, digest = {}, ""
        if args.boxes is not None:
            boxes, digest, unmatched = box_table(project, args.boxes, args.boxes_format, item_ids)
            for ref in unmatched:
                log.warning("%s: boxes for '%s', which is not an item of %s", args.boxes, ref, project.path)
        job = LabelJob(
            EngineChoice(args.engine, args.weights, args.device, args.runtime),
            _prompt(args, tuple(concepts), digest),
            workers=args.workers or default_workers(args.engine),
            threads=args.threads or None,
            batch_size=max(1, args.batch_size),
            only_unlabelled=args.only_unlabelled,
            item_ids=item_ids,
            ray=args.ray,
            gpus=max(0.0, args.gpus),
            boxes=boxes,
        )
        progress = BatchProgress()
        try:
            summary = label(project, job, progress)
        finally:
            progress.close()
        if args.json:
            print(json.dumps({**summary.as_json(), "errors": summary.errors}))
        else:
            print(summary_text(summary))
        if summary.interrupted:
            return 130
        if args.out is not None:
            ids = sorted(item_ids) if item_ids is not None else None
            written = export(project, args.out, args.to, args.with_proposals, ids)
            print(f"exported {'objects and proposals' if args.with_proposals else 'reviewed objects'} to {written}")
    finally:
        project.close()
    return 1 if summary.errors else 0
