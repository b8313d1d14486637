"""Undo/redo history: bounded stacks of steps, each the changes of one executed command."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from annotator.document.changes import Change, MaskChange


@dataclass(frozen=True)
class Step:
    """One undoable user action: a description and the changes it made, in order."""

    description: str
    changes: tuple[Change, ...]

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the step's mask patches."""
        return sum(c.nbytes for c in self.changes if isinstance(c, MaskChange))


class History:
    """Undo and redo stacks bounded by a number of steps and by bytes of mask patches."""

    def __init__(self, max_steps: int = 200, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._undo: deque[Step] = deque()
        self._redo: list[Step] = []
        self._bytes = 0

    @property
    def can_undo(self) -> bool:
        """True when there is a step to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is a step to redo."""
        return bool(self._redo)

    @property
    def undo_description(self) -> str:
        """What undo would undo ('' when nothing)."""
        return self._undo[-1].description if self._undo else ""

    @property
    def redo_description(self) -> str:
        """What redo would redo ('' when nothing)."""
        return self._redo[-1].description if self._redo else ""

    def push(self, step: Step) -> None:
        """Record a new step; clears redo and drops the oldest steps beyond the bounds."""
        self._redo.clear()
        self._undo.append(step)
        self._bytes += step.nbytes
        while len(self._undo) > self.max_steps or (self._bytes > self.max_bytes and len(self._undo) > 1):
            self._bytes -= self._undo.popleft().nbytes

    def pop_undo(self) -> Step:
        """Take the step to undo (the caller applies its inverse, then calls `undone`)."""
        return self._undo[-1]

    def undone(self) -> None:
        """Move the last step from the undo stack to the redo stack."""
        step = self._undo.pop()
        self._bytes -= step.nbytes
        self._redo.append(step)

    def pop_redo(self) -> Step:
        """Take the step to redo (the caller re-applies it, then calls `redone`)."""
        return self._redo[-1]

    def redone(self) -> None:
        """Move the last redo step back onto the undo stack."""
        step = self._redo.pop()
        self._undo.append(step)
        self._bytes += step.nbytes

    def clear(self) -> None:
        """Forget every step."""
        self._undo.clear()
        self._redo.clear()
        self._bytes = 0
