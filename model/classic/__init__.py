"""The classic engine (no weights): graph cuts on a downscaled grid, optical flow for video.

Importing this package is cheap; the engine's modules load in its factory.
"""

from __future__ import annotations

from model.registry import EngineSpec


def engine_specs() -> list[EngineSpec]:
    """The engines this package provides: just "classic"."""
    return [
        EngineSpec(
            name="classic",
            factory="model.classic.engine:create_engine",
            description="No weights: colour graph cuts seeded by clicks/box, DIS optical flow for video",
        )
    ]
