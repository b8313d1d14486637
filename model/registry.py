"""Registry of engines: name -> how to build it, with lazy imports so listing costs nothing."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from model.errors import EngineError
from model.protocol import Engine

log = logging.getLogger(__name__)

# Modules that provide engines. Each exposes `engine_specs() -> list[EngineSpec]` and keeps heavy
# imports (torch, transformers) inside its factories, so that importing it is cheap.
PROVIDERS: tuple[str, ...] = ("model.classic", "model.sam")


@dataclass(frozen=True)
class EngineSpec:
    """How to build one engine: `factory` is 'module:callable', called with kwargs + options."""

    name: str
    factory: str
    description: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)


def specs() -> dict[str, EngineSpec]:
    """All engines that the installed providers offer, by name."""
    found: dict[str, EngineSpec] = {}
    for provider in PROVIDERS:
        try:
            module = importlib.import_module(provider)
        except ModuleNotFoundError as error:
            if error.name != provider:
                log.warning("engine provider %s could not be imported: %s", provider, error)
            continue
        try:
            provided = module.engine_specs()
        except Exception as error:  # a broken provider must not take the others down
            log.warning("engine provider %s failed to list its engines: %s", provider, error)
            continue
        for spec in provided:
            found[spec.name] = spec
    return found


def names() -> list[str]:
    """Names of the registered engines."""
    return list(specs())


def create(name: str, **options: Any) -> Engine:
    """Build the engine called `name`; options (device=..., weights=...) go to its factory."""
    known = specs()
    if name not in known:
        raise EngineError(f"unknown engine '{name}'; known engines: {', '.join(sorted(known)) or 'none'}")
    spec = known[name]
    module_name, _, attr = spec.factory.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(**{**spec.kwargs, **options})
