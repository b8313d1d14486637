"""Run by the YOLO tests in an interpreter with `ultralytics`: its own dataset checker and loader on a data YAML.

Usage: python ultralytics_reference.py DATA_YAML OUT_JSON. Writes, for the `train` split, each image
Ultralytics found with its shape, classes and polygons (normalised), and the dataset's class names.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    """Load the dataset as Ultralytics' trainer does and dump what it read."""
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(sys.argv[1])
    dataset = YOLODataset(img_path=data["train"], data=data, task="segment", augment=False, imgsz=64)
    images = [
        {
            "im_file": label["im_file"],
            "shape": [int(v) for v in label["shape"]],
            "cls": [int(c) for c in label["cls"].reshape(-1)],
            "segments": [segment.tolist() for segment in label["segments"]],
        }
        for label in dataset.labels
    ]
    result = {"names": {int(k): v for k, v in data["names"].items()}, "train": str(data["train"]), "images": images}
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
