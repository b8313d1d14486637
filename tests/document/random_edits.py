"""Deterministic random edits for property and crash tests (shared by the child process)."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import numpy as np

from annotator.document import (
    AddItem,
    AddLabel,
    AddObject,
    Batch,
    CommandError,
    Mask,
    MergeObjects,
    MoveObject,
    Project,
    Prompts,
    RemoveItem,
    RemoveLabel,
    RemoveObject,
    SetMask,
    UpdateItem,
    UpdateLabel,
    UpdateObject,
)

SIZE = (48, 64)  # (H, W) of every item: small keeps the tests fast


def random_mask(rng: random.Random, base: Mask | None) -> Mask:
    """A rectangle or ellipse added to or cut from `base`, like a brush or a model result."""
    height, width = SIZE
    full = np.zeros(SIZE, bool) if base is None else base.to_array()
    x0, y0 = rng.randrange(width), rng.randrange(height)
    x1, y1 = rng.randrange(x0, width + 1), rng.randrange(y0, height + 1)
    shape = np.zeros(SIZE, bool)
    if rng.random() < 0.5:
        shape[y0:y1, x0:x1] = True
    else:
        yy, xx = np.mgrid[:height, :width]
        rx, ry = max((x1 - x0) / 2, 1), max((y1 - y0) / 2, 1)
        shape = ((xx - (x0 + x1) / 2) / rx) ** 2 + ((yy - (y0 + y1) / 2) / ry) ** 2 <= 1
    mode = rng.random()
    if mode < 0.4:
        full = shape
    elif mode < 0.8:
        full = full | shape
    else:
        full = full & ~shape
    return Mask.from_array(full)


def _all_objects(project: Project) -> list[Any]:
    return [obj for item in project.items for obj in project.objects(item.id)]


def random_command(project: Project, rng: random.Random, allow_history: bool = False) -> Any:
    """A command (or 'undo' / 'redo' when allowed) chosen from the project's current state."""
    objects = [o for o in _all_objects(project) if not o.locked]
    roll = rng.random()
    if allow_history and roll < 0.08:
        return "undo" if rng.random() < 0.6 else "redo"
    if not project.items or (roll < 0.12 and len(project.items) < 3):
        frames = rng.choice([1, 1, 4])
        kind = "video" if frames > 1 else "image"
        return AddItem(f"media/{rng.randrange(1000)}.png", kind, SIZE[1], SIZE[0], frames, 25.0 if frames > 1 else 0)
    if roll < 0.2 and len(project.labels) < 4:
        return AddLabel(f"label{rng.randrange(10**6)}")
    if not objects or roll < 0.3:
        item = rng.choice(project.items)
        label = rng.choice([None, *[lab.id for lab in project.labels]])
        return AddObject(item.id, label, index=rng.choice([None, 0]))
    obj = rng.choice(objects)
    frames = project.item(obj.item_id).frame_count
    if roll < 0.65:
        frame = rng.randrange(frames)
        points = ((float(rng.randrange(64)), float(rng.randrange(48)), rng.random() < 0.7),)
        source = rng.choice(["user", "propagated"])
        return SetMask(obj.id, frame, random_mask(rng, project.mask(obj.id, frame)), source, Prompts(points))
    if roll < 0.7:
        sets = [SetMask(obj.id, f, random_mask(rng, project.mask(obj.id, f)), "propagated") for f in range(frames)]
        return Batch(tuple(sets), "Propagate")
    if roll < 0.74 and project.mask_frames(obj.id):
        return SetMask(obj.id, rng.choice(project.mask_frames(obj.id)), None)
    if roll < 0.8:
        label = rng.choice([None, *[lab.id for lab in project.labels]])
        return UpdateObject(obj.id, name=f"n{rng.randrange(100)}", label_id=label, visible=rng.random() < 0.8)
    if roll < 0.84:
        return MoveObject(obj.id, rng.randrange(len(project.objects(obj.item_id))))
    if roll < 0.88:
        return RemoveObject(obj.id)
    if roll < 0.9:
        others = [o for o in project.objects(obj.item_id) if o.id != obj.id and not o.locked]
        if others:
            return MergeObjects(obj.id, (rng.choice(others).id,))
    if roll < 0.93 and project.labels:
        label = rng.choice(project.labels)
        if rng.random() < 0.5:
            return UpdateLabel(label.id, color=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        return RemoveLabel(label.id)
    if roll < 0.96:
        return UpdateItem(obj.item_id, done=rng.random() < 0.5)
    if roll < 0.97 and len(project.items) > 1:
        return RemoveItem(rng.choice(project.items).id)
    return UpdateObject(obj.id, locked=rng.random() < 0.1)


def perform(project: Project, rng: random.Random, allow_history: bool = False) -> None:
    """Choose one random edit and run it."""
    command = random_command(project, rng, allow_history)
    if command == "undo":
        project.undo()
    elif command == "redo":
        project.redo()
    else:
        # A refused edit changes nothing; the replay refuses it the same way.
        with contextlib.suppress(CommandError):
            project.execute(command)
