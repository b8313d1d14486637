"""Benchmark: the local 3D backend on the shared evaluation masks (image + mask -> GLB + PLY).

Usage: python benchmarks/bench_3d.py [--data ../shared/data] [--json OUT]
For every masks/NAME.png with its images/NAME.*: seconds for `reconstruct` (no depth model: the
inflated silhouette; with Depth Anything V2 Small installed, also the depth step), the mesh size,
the file sizes, and whether trimesh finds the mesh watertight.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from model.reconstruct import reconstruct


def main() -> None:
    """Run over the data and print one row per object, then the median time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for mask_path in sorted((args.data / "masks").glob("*.png")):
        image = np.array(Image.open(next((args.data / "images").glob(mask_path.stem + ".*"))).convert("RGB"))
        mask = np.array(Image.open(mask_path)) > 127
        started = time.perf_counter()
        result = reconstruct(image, mask)
        seconds = time.perf_counter() - started
        mesh = trimesh.load(io.BytesIO(result.glb), file_type="glb", force="mesh")
        rows.append(
            {
                "name": mask_path.stem,
                "kind": result.kind,
                "seconds": round(seconds, 3),
                "vertices": len(mesh.vertices),
                "faces": len(mesh.faces),
                "glb_mb": round(len(result.glb) / 1e6, 2),
                "ply_mb": round(len(result.ply) / 1e6, 2),
                "watertight": bool(mesh.is_watertight),
            }
        )
        print(" ".join(f"{key}={value}" for key, value in rows[-1].items()))
    print(f"median {statistics.median(r['seconds'] for r in rows):.3f} s over {len(rows)} objects")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
