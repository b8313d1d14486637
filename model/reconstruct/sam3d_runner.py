"""Run SAM 3D Objects on one request folder (the `sam3d-objects` command protocol).

This script runs in SAM 3D Objects' own environment, not in the annotator's: it imports only the
standard library, numpy, Pillow and Meta's code. Configure the annotator with, for example,
  ANNOTATOR_SAM3D_COMMAND="conda run -n sam3d-objects python /path/to/sam3d_runner.py --repo ~/sam-3d-objects"
  ANNOTATOR_SAM3D_WEIGHTS=~/sam-3d-objects/checkpoints/hf
The annotator appends the request folder (image.png, mask.png, request.json) to the command; this
script writes mesh.glb, splat.ply and result.json there. Not run in the annotator's CI (it needs a
CUDA GPU and the gated weights); written against facebookresearch/sam-3d-objects @ cf06676.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _say(fraction: float, text: str) -> None:
    print(f"progress {fraction:.2f} {text}", flush=True)


def _values(value: object) -> list[float]:
    """A tensor, array or list as a flat list of floats."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    import numpy as np

    return [float(v) for v in np.ravel(np.asarray(value))]


def main(argv: list[str] | None = None) -> int:
    """Read the request, run Meta's notebook Inference, write the three result files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="a checkout of facebookresearch/sam-3d-objects")
    parser.add_argument("folder", type=Path, help="the request folder the annotator made")
    args = parser.parse_args(argv)
    import numpy as np
    from PIL import Image

    request = json.loads((args.folder / "request.json").read_text(encoding="utf-8"))
    image = np.array(Image.open(args.folder / "image.png").convert("RGB"))
    mask = np.array(Image.open(args.folder / "mask.png").convert("L")) > 127
    _say(0.05, "loading SAM 3D Objects")
    sys.path.insert(0, str(args.repo / "notebook"))
    from inference import Inference  # Meta's notebook/inference.py

    inference = Inference(str(Path(request["weights"]) / "pipeline.yaml"), compile=False)
    _say(0.3, "reconstructing (stage 1: shape and layout, stage 2: details)")
    output = inference(image, mask, seed=int(request.get("seed", 42)))
    _say(0.9, "writing the mesh and the splat")
    output["gs"].save_ply(str(args.folder / "splat.ply"))
    output["glb"].export(str(args.folder / "mesh.glb"))
    layout = {key: _values(output[key]) for key in ("rotation", "translation", "scale") if key in output}
    (args.folder / "result.json").write_text(json.dumps(layout), encoding="utf-8")
    _say(1.0, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
