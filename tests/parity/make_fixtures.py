"""Write the key names and shapes of Meta's reference state dicts to tests/model/data (run in the parity venv).

    .venv-parity/bin/python tests/parity/make_fixtures.py

The CI test builds fake Meta checkpoints from these files, so it needs neither reference package.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1] / "model" / "data"


def sam1_state_dict(variant: str) -> dict[str, torch.Tensor]:
    """The state dict of segment_anything's model for 'vit_b', 'vit_l' or 'vit_h' (random weights)."""
    from segment_anything import sam_model_registry

    return sam_model_registry[variant]().state_dict()


def sam2_state_dict(config: str) -> dict[str, torch.Tensor]:
    """The state dict of sam2's SAM2Base for a config such as 'configs/sam2.1/sam2.1_hiera_t.yaml'."""
    from sam2.build_sam import build_sam2

    return build_sam2(config, ckpt_path=None, device="cpu", mode="eval").state_dict()


def write(name: str, state: dict[str, torch.Tensor]) -> None:
    """Key -> shape, in the state dict's order."""
    path = DATA / f"meta_keys_{name}.json"
    path.write_text(json.dumps({key: list(value.shape) for key, value in state.items()}, indent=0) + "\n")
    print(f"{path}: {len(state)} keys, {sum(v.numel() for v in state.values()) / 1e6:.1f}M values")


def main() -> None:
    """Write the fixtures the CI test uses."""
    DATA.mkdir(parents=True, exist_ok=True)
    for variant in ("vit_b", "vit_l", "vit_h"):
        write(f"sam_{variant}", sam1_state_dict(variant))
    for variant, short in (("tiny", "t"), ("small", "s"), ("base_plus", "b+"), ("large", "l")):
        write(f"sam2.1_hiera_{variant}", sam2_state_dict(f"configs/sam2.1/sam2.1_hiera_{short}.yaml"))


if __name__ == "__main__":
    main()
