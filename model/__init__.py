"""Local model engine (Qt-free): protocol, registry, weights, cache and backends."""

from model.errors import Cancelled, EngineError, WeightsUnavailable
from model.protocol import Embedding, Engine, FrameSource, Prediction, Prompt, VideoSession

__all__ = [
    "Cancelled",
    "Embedding",
    "Engine",
    "EngineError",
    "FrameSource",
    "Prediction",
    "Prompt",
    "VideoSession",
    "WeightsUnavailable",
]
