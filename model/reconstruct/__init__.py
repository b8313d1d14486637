"""Image + object mask -> 3D asset (GLB mesh, 3DGS PLY, pose): the backends and how to pick one.

Backends: `local` (always available: relief of the visible surface with depth, else the inflated
silhouette) and `sam3d-objects` (Meta's SAM 3D Objects, out of process, on a CUDA GPU with the
approved weights, or on a Roboflow inference server). `availability()` says for each whether it
can run here and, when not, exactly what is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from model.errors import EngineError
from model.reconstruct.protocol import KINDS, Availability, Kind, Progress, Reconstruction, Reconstructor

__all__ = [
    "BACKENDS",
    "KINDS",
    "Availability",
    "Kind",
    "Progress",
    "Reconstruction",
    "Reconstructor",
    "availability",
    "create",
    "reconstruct",
]

DEFAULT = "local"


def _local(**options: object) -> Reconstructor:
    from model.reconstruct.local import LocalReconstructor

    return LocalReconstructor(**options)  # type: ignore[arg-type]


def _sam3d(**options: object) -> Reconstructor:
    from model.reconstruct.sam3d import Sam3dObjects

    return Sam3dObjects.from_config(**options)  # type: ignore[arg-type]


BACKENDS: dict[str, Callable[..., Reconstructor]] = {"local": _local, "sam3d-objects": _sam3d}


def create(name: str = DEFAULT, **options: object) -> Reconstructor:
    """The backend called `name` (EngineError for an unknown name)."""
    if name not in BACKENDS:
        raise EngineError(f"unknown 3D backend '{name}'; known: {', '.join(BACKENDS)}")
    return BACKENDS[name](**options)


def availability() -> dict[str, Availability]:
    """Every backend's availability, by name."""
    return {name: create(name).availability() for name in BACKENDS}


def reconstruct(
    image: np.ndarray,
    mask: np.ndarray,
    depth: np.ndarray | None = None,
    backend: str | Reconstructor = DEFAULT,
    cancel: threading.Event | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Reconstruction:
    """Run a backend to the end and return its Reconstruction (EngineError when it cannot run)."""
    runner = create(backend) if isinstance(backend, str) else backend
    state = runner.availability()
    if not state.available:
        raise EngineError(f"the 3D backend '{runner.name}' cannot run here: {state.reason}")
    result: Reconstruction | None = None
    for step in runner.run(image, mask, depth, cancel):
        if isinstance(step, Reconstruction):
            result = step
        elif progress is not None:
            progress(step)
    if result is None:
        raise EngineError(f"the 3D backend '{runner.name}' finished without a result")
    return result
