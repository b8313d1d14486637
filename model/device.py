"""Device choice for torch engines: auto-selection (CUDA, MPS, CPU), precision, OOM fallback."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from model.errors import EngineError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def pick_device(requested: str | None = None) -> str:
    """'auto' (or None) picks CUDA, then MPS, then the CPU; an explicit device must be present."""
    import torch

    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if requested.split(":")[0] not in DEVICES:
        raise EngineError(f"unknown device '{requested}'; use one of {', '.join(DEVICES)}")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError(f"device '{requested}' was asked for but this machine has no CUDA GPU")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EngineError("device 'mps' was asked for but this machine has no MPS device")
    return requested


def pick_precision(device: str, requested: str | None = None) -> str:
    """'auto': bf16 on CUDA when supported (else fp16), fp32 elsewhere."""
    import torch

    if requested in (None, "", "auto"):
        if device.startswith("cuda"):
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if requested not in PRECISIONS:
        raise EngineError(f"unknown precision '{requested}'; use one of {', '.join(PRECISIONS)}")
    return requested


@contextlib.contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """Run the block in reduced precision where asked for (weights stay fp32)."""
    import torch

    if precision == "fp32":
        yield
        return
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=device.split(":")[0], dtype=dtype):
        yield


def is_out_of_memory(error: BaseException) -> bool:
    """True for an accelerator running out of memory (CUDA or MPS)."""
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release(device: str) -> None:
    """Give cached accelerator memory back after a failure."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and hasattr(torch, "mps"):
        with contextlib.suppress(Exception):
            torch.mps.empty_cache()


def move(model: Any, device: str) -> Any:
    """Move a torch module to `device` in eval mode."""
    return model.to(device).eval()
