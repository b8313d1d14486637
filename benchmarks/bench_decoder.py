"""Benchmark: SAM 2.1 decoder latency, eager torch vs onnxruntime, mask upsampling, image encoder.

Usage: python benchmarks/bench_decoder.py [--runs 50] [--encoder-runs 5] [--size 1920x1080] [--json OUT]
Builds the full-size default Sam2Model (the SAM 2.1 tiny architecture, random weights), embeds a
random 1024x1024 input once, then times one click (multimask, 3 candidates) and three clicks
(single mask) through the torch model and through `OnnxDecoder`; the bilinear upsampling +
threshold of 3 candidates and of the best one to the image size; and (unless --no-encoder)
`get_image_embeddings` in eager torch vs `OnnxEncoder`. Graphs are cached in --cache.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import report
from transformers import Sam2Config, Sam2Model

from model.sam.onnx_decoder import OnnxDecoder, OnnxEncoder, cpu_count

CLICKS = {
    "1 click, multimask": (np.array([[400.0, 500.0]], np.float32), np.array([1]), True),
    "3 clicks, single": (
        np.array([[400.0, 500.0], [600.0, 300.0], [450.0, 700.0]], np.float32),
        np.array([1, 0, 1]),
        False,
    ),
}


def timings(functions: dict[str, Callable[[], Any]], runs: int, warmup: int) -> dict[str, dict[str, float]]:
    """p50 / p95 / min in ms of `runs` calls of each function after `warmup` calls.

    The functions are called in turn (a, b, a, b, ...) so that load from other processes on a
    shared machine falls on all of them alike.
    """
    for function in functions.values():
        for _ in range(warmup):
            function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {
        name: {
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2),
            "min_ms": round(float(np.min(values)), 2),
        }
        for name, values in samples.items()
    }


def decoder(model: Any, features: list[torch.Tensor], folder: Path, runs: int, warmup: int) -> dict[str, Any]:
    """Torch vs onnxruntime decoder latency for each prompt in CLICKS, plus the max logit difference."""
    onnx = OnnxDecoder(model, folder)
    arrays = [f.numpy() for f in features]
    result: dict[str, Any] = {}
    for name, (points, labels, multimask) in CLICKS.items():
        start = time.perf_counter()
        onnx.session(multimask)
        prepare = time.perf_counter() - start

        def eager(points: np.ndarray = points, labels: np.ndarray = labels, multimask: bool = multimask) -> Any:
            with torch.inference_mode():
                return model(
                    image_embeddings=features,
                    input_points=torch.from_numpy(points)[None, None],
                    input_labels=torch.from_numpy(labels)[None, None],
                    multimask_output=multimask,
                )

        def ort(points: np.ndarray = points, labels: np.ndarray = labels, multimask: bool = multimask) -> Any:
            return onnx(arrays, points, labels, None, None, multimask)

        difference = float(np.abs(eager().pred_masks[0, 0].numpy() - ort()[0]).max())
        result[name] = {
            **timings({"torch": eager, "onnxruntime": ort}, runs, warmup),
            "onnx_export_or_load_s": round(prepare, 2),
            "max_abs_logit_diff": difference,
        }
    return result


def upsampling(height: int, width: int, runs: int, warmup: int) -> dict[str, Any]:
    """Bilinear 256x256 -> HxW + threshold, for 3 candidates and for the best one only."""
    low = torch.randn(3, 256, 256)

    def upsample(logits: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            full = torch.nn.functional.interpolate(
                logits[None], size=(height, width), mode="bilinear", align_corners=False
            )
            return (full[0] > 0).numpy()

    functions = {
        f"3 candidates -> {width}x{height}": lambda: upsample(low),
        f"best only -> {width}x{height}": lambda: upsample(low[:1]),
    }
    return timings(functions, runs, warmup)


def encoder(model: Any, pixels: torch.Tensor, folder: Path, runs: int) -> dict[str, Any]:
    """get_image_embeddings latency in eager torch vs onnxruntime, plus the max feature difference."""
    onnx = OnnxEncoder(model, folder)
    start = time.perf_counter()
    onnx.session()
    prepare = time.perf_counter() - start
    with torch.inference_mode():
        reference = [f.numpy() for f in model.get_image_embeddings(pixels)]
    array = pixels.numpy()
    difference = max(float(np.abs(a - b).max()) for a, b in zip(reference, onnx(array), strict=True))

    def eager() -> Any:
        with torch.inference_mode():
            return model.get_image_embeddings(pixels)

    return {
        **timings({"torch": eager, "onnxruntime": lambda: onnx(array)}, runs, 1),
        "onnx_export_or_load_s": round(prepare, 2),
        "max_abs_feature_diff": difference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--encoder-runs", type=int, default=5)
    parser.add_argument("--no-encoder", action="store_true")
    parser.add_argument("--size", default="1920x1080", help="image WxH for the upsampling figures")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "annotator-bench-onnx")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    torch.manual_seed(0)
    model = Sam2Model(Sam2Config()).eval()  # the SAM 2.1 tiny architecture, random weights
    pixels = torch.randn(1, 3, 1024, 1024)
    with torch.inference_mode():
        features = model.get_image_embeddings(pixels)
    result: dict[str, Any] = {
        "cpu_cores": cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "decoder": decoder(model, features, args.cache, args.runs, args.warmup),
        "upsampling": upsampling(height, width, max(10, args.runs // 2), 2),
    }
    if not args.no_encoder:
        result["encoder"] = encoder(model, pixels, args.cache, args.encoder_runs)
    report(result, args.json)


if __name__ == "__main__":
    main()
