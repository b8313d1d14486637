"""Known models: hub id, architecture, download size, licence, gated or not.

`CATALOG` holds the SAM-family engines; `HELPERS` the other models the weights manager fetches
(depth for the 3D reconstruction); `KNOWN` both, for `annotator models`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelEntry:
    """One downloadable model."""

    hub_id: str
    architecture: str  # "sam", "sam2", "sam3", or "depth" for a helper model
    size_mb: int
    licence: str
    gated: bool
    description: str


CATALOG: dict[str, ModelEntry] = {
    "sam2.1-tiny": ModelEntry("facebook/sam2.1-hiera-tiny", "sam2", 156, "Apache-2.0", False, "SAM 2.1 Hiera tiny"),
    "sam2.1-small": ModelEntry("facebook/sam2.1-hiera-small", "sam2", 184, "Apache-2.0", False, "SAM 2.1 Hiera small"),
    "sam2.1-base-plus": ModelEntry(
        "facebook/sam2.1-hiera-base-plus", "sam2", 324, "Apache-2.0", False, "SAM 2.1 Hiera base+"
    ),
    "sam2.1-large": ModelEntry("facebook/sam2.1-hiera-large", "sam2", 898, "Apache-2.0", False, "SAM 2.1 Hiera large"),
    "sam-vit-b": ModelEntry("facebook/sam-vit-base", "sam", 375, "Apache-2.0", False, "SAM ViT-B (images only)"),
    "sam-vit-l": ModelEntry("facebook/sam-vit-large", "sam", 1250, "Apache-2.0", False, "SAM ViT-L (images only)"),
    "sam-vit-h": ModelEntry("facebook/sam-vit-huge", "sam", 2560, "Apache-2.0", False, "SAM ViT-H (images only)"),
    "sam3-tracker": ModelEntry(
        "facebook/sam3",
        "sam3",
        3440,
        "SAM License",
        True,
        "SAM 3 (gated: accept the licence, log in): clicks, and phrases or example boxes that find every instance",
    ),
}

HELPERS: dict[str, ModelEntry] = {
    "depth-anything-v2-small": ModelEntry(
        "depth-anything/Depth-Anything-V2-Small-hf",
        "depth",
        99,
        "Apache-2.0",
        False,
        "Depth Anything V2 Small: relative depth for the 3D relief (not an engine)",
    ),
}

KNOWN: dict[str, ModelEntry] = {**CATALOG, **HELPERS}
