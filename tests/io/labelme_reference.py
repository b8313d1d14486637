"""Run by the interpreter of an environment with the `labelme` package (PyQt5 beside it, so not ours).

Usage: python labelme_reference.py OUT.npz FILE.json...
Reads each file with labelme's own LabelFile and turns every (label, group_id) instance into a mask
with labelme's own shapes_to_label; writes them as OUT.npz keyed "FILE_STEM|LABEL|GROUP".
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from labelme import LabelFile
from labelme.utils import img_data_to_arr, shapes_to_label


def main(out: str, files: list[str]) -> None:
    """Write labelme's instance masks of `files` to `out`."""
    masks = {}
    for name in files:
        label_file = LabelFile(name)
        shape = img_data_to_arr(label_file.image_data).shape
        groups: dict[tuple[str, object], list] = {}
        for item in label_file.shapes:
            groups.setdefault((item["label"], item["group_id"]), []).append(item)
        for (label, group), shapes in groups.items():
            cls, _ = shapes_to_label(shape, shapes, {label: 1})
            masks[f"{Path(name).stem}|{label}|{group}"] = cls > 0
    np.savez_compressed(out, **masks)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
