"""Benchmark: SAM 3 concepts and segment everything, full-size architectures with random weights.

Usage: python benchmarks/bench_concepts.py [--device cuda] [--precision bf16] [--points 16 32]
       [--image ../shared/data/images/davis_bear_003.jpg] [--size 1920x1080] [--tiny] [--json OUT]
Times, on one real image resized to --size: the SAM 3 image embedding (the shared ViT, once), a
phrase (first time, and again with its text features cached), four phrases in one call, an
exemplar box, "segment everything" through the SAM 3 tracker and through SAM 2.1 tiny at each
--points grid density. Random weights: the figures are speed only (what is found is meaningless).
The full SAM 3 needs about 5 GB (fp32); --tiny uses the test configs instead, to check the
script quickly. Made to be run on a GPU machine in one go.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from common import report

from model import registry
from model.protocol import Concept, EverythingSettings
from model.sam.concepts import Sam3ConceptEngine
from model.sam.families import FAMILIES

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def timed(work: Callable[[], Any], device: str, runs: int = 3) -> tuple[float, Any]:
    """(median ms of `runs` calls after one warm-up, the last result)."""
    result = work()
    times = []
    for _ in range(runs):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = work()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 1), result


def full_size_tokenizer() -> Any:
    """A CLIP tokenizer with the full 49 408 ids (letters, then unused ids, then the two specials)."""
    from transformers import CLIPTokenizer

    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [" "]
    words = chars + [c + "</w>" for c in chars]
    words += [f"<unused{i}>" for i in range(49406 - len(words))] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[], model_max_length=32)


def sam3_engine(device: str, precision: str | None, tiny: bool) -> Sam3ConceptEngine:
    """The SAM 3 concept engine over random weights (full size, or the tests' tiny checkpoint)."""
    if tiny:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from tiny_sam import tiny_sam3_concepts

        folder = tiny_sam3_concepts(Path(tempfile.mkdtemp()))
        return registry.create("sam3-tracker", weights=str(folder), device=device, precision=precision)  # type: ignore[return-value]
    import transformers

    torch.manual_seed(0)
    detector = transformers.Sam3Model(transformers.Sam3Config()).eval()
    tracker = transformers.Sam3TrackerModel(transformers.Sam3TrackerConfig()).eval()
    return Sam3ConceptEngine(
        FAMILIES["sam3"],
        tracker,
        "sam3-random+concepts",
        device,
        precision,
        None,
        "torch",
        detector=detector,
        tokenizer=full_size_tokenizer(),
    )


def bench_sam3(engine: Sam3ConceptEngine, image: np.ndarray, device: str, grid: list[int]) -> dict[str, Any]:
    """SAM 3: embed, phrases, exemplar, and everything through its tracker."""
    height, width = image.shape[:2]
    figures: dict[str, Any] = {"sam3_precision": engine.precision}
    figures["sam3_embed_ms"], embedding = timed(lambda: engine.embed(image), device)
    start = time.perf_counter()
    engine.find(embedding, Concept("yellow school bus"))
    figures["sam3_first_phrase_ms"] = round((time.perf_counter() - start) * 1000, 1)
    figures["sam3_phrase_ms"], _ = timed(lambda: engine.find(embedding, Concept("yellow school bus")), device)
    phrases = ["cat", "dog", "person", "car"]
    figures["sam3_four_phrases_one_call_ms"], _ = timed(lambda: engine.find_phrases(embedding, phrases, 0.3), device)
    box = [[width * 0.3, height * 0.3, width * 0.6, height * 0.7]]
    figures["sam3_exemplar_ms"], _ = timed(
        lambda: engine.find(embedding, Concept(None, boxes=box, box_labels=[1])), device
    )
    for points in grid:
        settings = EverythingSettings(points_per_side=points)
        figures[f"sam3_everything_{points}_ms"], _ = timed(
            lambda s=settings: engine.everything(embedding, s), device, 1
        )
    return figures


def bench_sam2(image: np.ndarray, device: str, precision: str | None, grid: list[int]) -> dict[str, Any]:
    """SAM 2.1 tiny (full size, random): embed and everything."""
    sam2 = registry.create("sam2.1-tiny", weights="random", device=device, precision=precision)
    figures: dict[str, Any] = {"sam2_runtime": sam2.runtime}  # type: ignore[attr-defined]
    figures["sam2_embed_ms"], embedding = timed(lambda: sam2.embed(image), device)
    for points in grid:
        settings = EverythingSettings(points_per_side=points)
        figures[f"sam2_everything_{points}_ms"], _ = timed(
            lambda s=settings: sam2.everything(embedding, s),  # type: ignore[attr-defined]
            device,
            1,
        )
    return figures


def main() -> None:
    """Run the benchmark and print (and optionally write) the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default=None)
    parser.add_argument("--points", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--image", type=Path, default=DATA / "images" / "davis_bear_003.jpg")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    image = cv2.resize(cv2.cvtColor(cv2.imread(str(args.image)), cv2.COLOR_BGR2RGB), (width, height))
    figures: dict[str, Any] = {"device": args.device, "precision": args.precision, "size": args.size}
    figures["weights"] = "tiny random (test configs)" if args.tiny else "full-size random"
    figures |= bench_sam3(sam3_engine(args.device, args.precision, args.tiny), image, args.device, args.points)
    figures |= bench_sam2(image, args.device, args.precision, args.points)
    report(figures, args.json)


if __name__ == "__main__":
    main()
