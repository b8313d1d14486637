"""Checks of 3D assets for the tests: a tiny numpy rasteriser (which pixel centres the projected
triangles cover) and the Khronos glTF validator (npm `gltf-validator`), run when node and the package
are here. Install the validator with `npm install --prefix packaging/node` (packaging/node/package.json
pins it), or point $GLTF_VALIDATOR_DIR at an installed `gltf-validator` folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("validate_gltf.js")


def validator_dir() -> Path | None:
    """The installed gltf-validator package folder, or None."""
    folder = Path(
        os.environ.get("GLTF_VALIDATOR_DIR") or REPO / "packaging" / "node" / "node_modules" / "gltf-validator"
    )
    return folder if (folder / "package.json").is_file() else None


def validate(paths: list[Path]) -> dict[str, dict]:
    """The validator's `issues` for each file, by path; skips the test when node or the package is absent."""
    node, package = shutil.which("node"), validator_dir()
    if node is None or package is None:
        pytest.skip("glTF validator not installed (node + `npm install --prefix packaging/node`)")
    out = subprocess.run(
        [node, str(SCRIPT), str(package), *map(str, paths)], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    reports = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {report["file"]: report["issues"] for report in reports}


def assert_valid(paths: list[Path]) -> None:
    """Every file passes the validator with no errors and no warnings."""
    for path, issues in validate(paths).items():
        bad = [m for m in issues["messages"] if m["severity"] <= 1]
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, f"{path}: {bad}"


def project(vertices: np.ndarray, pose: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """Pixel coordinates (x, y; pixel corners at integers) of asset vertices posed into the glTF camera frame."""
    points = vertices @ pose[:3, :3].T + pose[:3, 3]
    depth = -points[:, 2]
    return np.stack(
        [camera[0, 2] + camera[0, 0] * points[:, 0] / depth, camera[1, 2] - camera[1, 1] * points[:, 1] / depth],
        axis=1,
    )


def rasterise(pixels: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """HxW bool: pixels whose centre lies inside (or on an edge of) any non-degenerate projected triangle."""
    tri = pixels[faces]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    tri, area = tri[np.abs(area) > 1e-9], area[np.abs(area) > 1e-9]
    tri[area < 0] = tri[area < 0][:, ::-1]  # one winding for the edge test
    out = np.zeros(shape, bool)
    low = np.floor(tri.min(axis=1) - 0.5).astype(int)
    extent = math.ceil((tri.max(axis=1) - tri.min(axis=1)).max()) + 2
    offsets = np.stack(np.meshgrid(np.arange(extent), np.arange(extent)), axis=-1).reshape(-1, 2)
    for start in range(0, len(tri), 20000):
        t, base = tri[start : start + 20000], low[start : start + 20000]
        cells = base[:, None, :] + offsets[None]  # (T, K, 2) pixel indices (col, row)
        centre = cells + 0.5
        inside = np.ones(cells.shape[:2], bool)
        for i in range(3):
            a, b = t[:, i][:, None, :], t[:, (i + 1) % 3][:, None, :]
            cross = (b[..., 0] - a[..., 0]) * (centre[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (
                centre[..., 0] - a[..., 0]
            )
            inside &= cross >= -1e-9
        cols, rows = cells[..., 0][inside], cells[..., 1][inside]
        keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        out[rows[keep], cols[keep]] = True
    return out
