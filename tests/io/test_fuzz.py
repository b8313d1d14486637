"""Fuzzing: mutated COCO and labelme files give a FormatError or a valid dataset, never another error."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.coco import CocoOptions, read_coco, write_coco
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.labelme import LabelmeOptions, read_labelme, write_labelme

from .conftest import disc, ring_mask, write_image

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) into a JSON tree."""
    paths = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _paths(value, (*prefix, index))
    return paths


def _mutate(data: Any, draw: st.DrawFn) -> Any:
    """Apply 1-3 random edits: delete, replace with any JSON value, duplicate, or numeric extremes."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            return draw(JSON_VALUES)
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        action = draw(st.sampled_from(["delete", "replace", "duplicate", "number"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(JSON_VALUES)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = draw(st.sampled_from([0, -1, 1, 2**31, 10**9, 1e308, 0.5, -0.5, "", [], {}]))
    return data


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A valid COCO file (RLE and polygons, image and video) and a valid labelme file, parsed."""
    root = tmp_path_factory.mktemp("fuzz")
    write_image(root / "a.png", 64, 50)
    for frame in range(2):
        write_image(root / "clip" / f"{frame:05d}.jpg", 24, 16)
    image = ItemData(str(root / "a.png"), 64, 50)
    image.objects = [ObjectData("r", "cat", {0: Mask.from_array(ring_mask(50, 64))})]
    image.objects.append(ObjectData("d", None, {0: Mask.from_array(disc(50, 64, 40, 20, 6))}))
    clip = ItemData(str(root / "clip"), 24, 16, "video", 2)
    clip.objects = [ObjectData("w", "cat", {f: Mask.from_array(disc(16, 24, 8 + f, 8, 4)) for f in range(2)})]
    dataset = Dataset([LabelData("cat")], [image, clip])
    rle = json.loads(write_coco(dataset, root / "rle.json").read_text())
    poly = json.loads(write_coco(dataset, root / "poly.json", CocoOptions("polygon")).read_text())
    poly["annotations"][0]["segmentation"] = rle["annotations"][0]["segmentation"]
    dataset.items = [image]
    labelme = write_labelme(dataset, root, LabelmeOptions("polygon"))[0]
    labelme_data = json.loads(labelme.read_text())
    masks = write_labelme(dataset, root / "m", LabelmeOptions("mask"))[0]
    labelme_data["shapes"].append(json.loads(masks.read_text())["shapes"][0])
    return {"root": root, "coco": poly, "labelme": labelme_data}


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.data())
def test_mutated_coco_gives_only_format_errors(valid_files: dict[str, Any], data: st.DataObject) -> None:
    mutated = _mutate(valid_files["coco"], data.draw)
    path = valid_files["root"] / "mutated.json"
    path.write_text(json.dumps(mutated))
    try:
        dataset = read_coco(path)
    except FormatError as error:
        assert error.path == str(path)
        return
    for item in dataset.items:
        for obj in item.objects:
            assert all(m.size == (item.height, item.width) for m in obj.masks.values())
    # Whatever was accepted (ids, crowd flags, other keys kept) is written back as valid COCO; not
    # for a mutated size of hundreds of megapixels (accepted up to MAX_PIXELS), whose masks would
    # take minutes and gigabytes to encode again.
    if all(item.width * item.height <= 4_000_000 for item in dataset.items):
        again = read_coco(write_coco(dataset, valid_files["root"] / "rewritten.json"), check_media=False)
        assert _drawn(again) == _drawn(dataset)


def _drawn(dataset: Dataset) -> tuple[int, int]:
    """(masks with pixels, crowd regions with pixels): what a COCO export writes."""
    masks = [(m, o.iscrowd) for i in dataset.items for o in i.objects for m in o.masks.values() if not m.is_empty]
    return len(masks), sum(crowd for _, crowd in masks)


@FUZZ
@given(st.data())
def test_mutated_labelme_gives_only_format_errors(valid_files: dict[str, Any], data: st.DataObject) -> None:
    mutated = _mutate(valid_files["labelme"], data.draw)
    path = valid_files["root"] / "mutated_labelme.json"
    path.write_text(json.dumps(mutated))
    try:
        dataset = read_labelme(path)
    except FormatError as error:
        assert error.path == str(path)
        return
    (item,) = dataset.items
    assert all(np.shape(m.to_array()) == (item.height, item.width) for o in item.objects for m in o.masks.values())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_give_format_errors(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "random.json"
    path.write_bytes(blob)
    for reader in (read_coco, read_labelme):
        with contextlib.suppress(FormatError):
            reader(path)
