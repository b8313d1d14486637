"""The application icon, shipped as package data (Qt-free: only paths).

The source is resources/annotator.svg; packaging/render_icon.py renders the PNG and copies both here.
"""

from __future__ import annotations

from pathlib import Path

ICONS = Path(__file__).resolve().parent


def icon_path(kind: str = "png") -> Path:
    """Path of the app icon: "png" (256 px) or "svg"."""
    if kind not in ("png", "svg"):
        raise ValueError(f"unknown icon kind {kind!r}; use 'png' or 'svg'")
    return ICONS / f"annotator.{kind}"
