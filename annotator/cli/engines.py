"""The engine options shared by `bench` and `eval`, and building the engine from them."""

from __future__ import annotations

import argparse
from typing import Any


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """--engine, --device, --weights, --precision, --runtime."""
    parser.add_argument("--engine", default="classic", help="registered engine name (default classic)")
    parser.add_argument("--device", default="auto", help="device for the engine (auto, cpu, cuda, mps)")
    parser.add_argument("--weights", default=None, help="weights: transformers folder, Meta .pt/.pth file, or 'random'")
    parser.add_argument("--precision", default=None, help="SAM engines: auto, fp32, bf16, fp16")
    parser.add_argument(
        "--runtime",
        default=None,
        help="SAM engines: auto (ONNX on the CPU), torch, onnx, onnx-int8 (faster encoder, approximate)",
    )


def create_engine(args: argparse.Namespace) -> Any:
    """The engine the options name (options left out keep the engine's defaults)."""
    from model import registry

    options = {key: getattr(args, key) for key in ("weights", "precision", "runtime") if getattr(args, key)}
    return registry.create(args.engine, device=args.device, **options)
