"""A small Qt-free signal: connect callables, emit to them in order.

We use our own because psygnal 0.16's compiled build corrupts reference counts when PySide6 is
loaded in the same process (a 10-line emit loop aborts with "deallocating None").
Bound methods are held weakly, so a view that goes away does not keep receiving events.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class SignalInstance:
    """The per-owner list of receivers of one signal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[[], Callable[..., Any] | None]] = []

    def connect(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        """Call `receiver(*args)` on every emit (bound methods are held weakly)."""
        if hasattr(receiver, "__self__") and hasattr(receiver, "__func__"):
            ref: Callable[[], Callable[..., Any] | None] = weakref.WeakMethod(receiver)
        else:
            ref = lambda: receiver  # noqa: E731
        self._receivers.append(ref)
        return receiver

    def disconnect(self, receiver: Callable[..., Any] | None = None) -> None:
        """Remove one receiver, or all when None."""
        if receiver is None:
            self._receivers.clear()
            return
        self._receivers = [ref for ref in self._receivers if ref() not in (receiver, None)]

    def emit(self, *args: Any) -> None:
        """Call every live receiver with `args`, in connection order."""
        dead = False
        for ref in list(self._receivers):
            receiver = ref()
            if receiver is None:
                dead = True
                continue
            receiver(*args)
        if dead:
            self._receivers = [ref for ref in self._receivers if ref() is not None]

    def __len__(self) -> int:
        return sum(1 for ref in self._receivers if ref() is not None)


class Signal:
    """Class attribute declaring a signal; each instance of the owner gets its own receivers."""

    def __init__(self, *types: type) -> None:
        self.types = types
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        instance_signal = SignalInstance(self.name)
        instance.__dict__[self.name] = instance_signal
        return instance_signal
