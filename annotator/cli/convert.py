"""`annotator convert SRC -o OUT --to FMT [--from FMT]`: between project and every annotation format."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from annotator.errors import AnnotatorError
from annotator.io.formats import CONVERT_READABLE, CONVERT_WRITABLE, FormatOptions, convert, is_track_conversion
from annotator.io.polygons import DEFAULT_TOLERANCE

log = logging.getLogger(__name__)

UNLABELLED = "object"
"""The class that objects without a label get in formats that need one, unless --skip-unlabelled."""

EPILOG = """formats:
  project   annotator project file (.annot)
  coco      COCO instance segmentation JSON (RLE; --polygons for polygons)
  ytvis     YouTube-VIS JSON (video tracks)
  labelme   labelme JSON files, one per image (--labelme-masks for mask shapes)
  rle       RLE JSON: compressed RLE per object and frame, with labels and object ids
  png       index PNG masks, one per image / frame (DAVIS style); import pairs them with --images
  semantic  semantic PNG masks (pixel = label index) with label_map.json
  yolo      YOLO segmentation (Ultralytics, Roboflow, Darknet layouts; SRC may be the dataset YAML);
            export: an Ultralytics dataset (images/, labels/, data.yaml)
  mot       MOT box tracks, results layout: OUT/SEQ.txt (export only)
  mot-gt    MOT box tracks, ground-truth layout for training: OUT/SEQ/gt/gt.txt with class and
            visibility, gt/labels.txt, seqinfo.ini (export only; frames not copied)
  points    point tracks, one .npz per item (export only)
box and point tracks (a project's tracks, not its masks; to and from a project or each other):
  cvat-video  CVAT for video 1.1 XML (box and points tracks, keyframes, outside, occluded);
              one video: OUT.xml, several: OUT/NAME.xml
  mot-gt      read: a MOT sequence (seqinfo.ini, gt/gt.txt) or a folder of them; written from
              the project's box tracks when it has any (else from its masks, as above)
  lasot       LaSOT box tracks: OUT/NAME-ID/groundtruth.txt, full_occlusion.txt, out_of_view.txt
  got10k      GOT-10k box tracks: OUT/NAME-ID/groundtruth.txt, absence.label, cover.label
  tapvid      TAP-Vid points: a .pkl of every video (or .npz of one); normalised, with occlusion
"""


class ProgressReporter:
    """Reports progress on stderr: a live line on a terminal, else a log line every 10%."""

    def __init__(self, stream: object = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._step = -1

    def __call__(self, done: int, total: int) -> None:
        """Receive a progress report."""
        if total <= 0:
            return
        if self.live:
            now = time.monotonic()
            if now - self._last > 0.1 or done >= total:
                self._last = now
                self.stream.write(f"\r  {done}/{total} ({100 * done // total}%)")  # type: ignore[attr-defined]
                if done >= total:
                    self.stream.write("\n")  # type: ignore[attr-defined]
            return
        step = 10 * done // total
        if step != self._step and total >= 1000:
            self._step = step
            log.info("progress %d/%d (%d%%)", done, total, 100 * done // total)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `convert` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="convert annotations between formats and projects",
        description="Convert annotations between a project and COCO, labelme, RLE JSON, PNG masks, YOLO, ...",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", type=Path, help="input file or folder")
    parser.add_argument("-o", "--output", dest="out", type=Path, required=True, help="output file or folder")
    parser.add_argument("--to", dest="to", required=True, choices=CONVERT_WRITABLE, help="output format")
    parser.add_argument(
        "--from", dest="src_format", choices=CONVERT_READABLE, help="input format (detected when omitted)"
    )
    parser.add_argument(
        "--images",
        type=Path,
        help="the image root: where the images are looked up, and what exports name them relative to "
        "(labelme names them from each JSON file, as labelme does)",
    )
    parser.add_argument("--video", action="store_true", help="PNG import: SRC's PNGs are the frames of one video")
    parser.add_argument("--polygons", action="store_true", help="COCO / YouTube-VIS: polygons instead of RLE")
    parser.add_argument("--labelme-masks", action="store_true", help="labelme: mask shapes instead of polygons")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="polygon simplification in pixels (default: %(default)s)",
    )
    parser.add_argument("--no-check-media", action="store_true", help="do not require the listed images to exist")
    parser.add_argument(
        "--categories",
        type=Path,
        metavar="COCO_JSON",
        help="COCO export: labels take the category ids of this file's categories of the same name",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="--to project: add to an existing project file (without it an existing file is refused, "
        "since converting twice would double every object)",
    )
    unlabelled = parser.add_mutually_exclusive_group()
    unlabelled.add_argument(
        "--unlabelled",
        metavar="NAME",
        default=UNLABELLED,
        help="coco, ytvis, labelme, yolo, semantic: the class of objects without a label (default: %(default)s)",
    )
    unlabelled.add_argument(
        "--skip-unlabelled", action="store_true", help="leave objects without a label out of those formats"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the conversion; FormatError / ProjectError propagate to the CLI's error report."""
    if args.append and args.to != "project":
        raise AnnotatorError(f"--append adds to a project file; it does not apply to --to {args.to}")
    options = FormatOptions(
        segmentation="polygon" if args.polygons else "rle",
        tolerance=max(0.0, args.tolerance),
        labelme_shapes="mask" if args.labelme_masks else "polygon",
        images=args.images,
        video=args.video,
        check_media=not args.no_check_media,
        unlabelled=None if args.skip_unlabelled else args.unlabelled,
        categories=args.categories,
        append=args.append,
    )
    started = time.perf_counter()
    skipped: list[str] = []
    fmt, count = convert(args.src, args.out, args.to, args.src_format, options, ProgressReporter(), skipped)
    seconds = time.perf_counter() - started
    unit = "track samples" if is_track_conversion(args.src, fmt, args.to) else "masks"
    print(f"converted {count} {unit} from {fmt} to {args.to}: {args.out} ({seconds:.1f} s)")
    for line in skipped:
        print(f"  skipped {line}")
    return 0
