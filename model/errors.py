"""Domain exceptions of the engine boundary."""

from __future__ import annotations


class EngineError(Exception):
    """A model could not do what was asked (bad input, failed load, device trouble)."""


class WeightsUnavailable(EngineError):
    """A model's weights are not on disk and cannot be fetched now."""

    def __init__(self, model: str, filename: str, folder: str, reason: str = "") -> None:
        self.model = model
        self.filename = filename
        self.folder = folder
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"weights for model '{model}' are not available{detail}: place '{filename}' in '{folder}' "
            f"or run `annotator models download {model}`; the classic engine still works"
        )


class Cancelled(Exception):
    """A long job stopped because its cancel flag was set."""
