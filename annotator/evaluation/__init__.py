"""Qt-free evaluation harness: data loading, the click robot, metrics, video eval and bench."""

from annotator.evaluation.data import DataError

__all__ = ["DataError"]
