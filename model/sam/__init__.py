"""The Segment-Anything family behind the engine protocol (torch/transformers imported lazily)."""

from __future__ import annotations

from model.registry import EngineSpec
from model.sam.catalog import CATALOG


def engine_specs() -> list[EngineSpec]:
    """One engine per known model."""
    return [
        EngineSpec(name, "model.sam.engine:create_engine", entry.description, {"model": name})
        for name, entry in CATALOG.items()
    ]
