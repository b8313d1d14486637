"""The Qt-free document: project, items, objects, labels, masks, commands and the store."""

from annotator.document.commands import (
    AddItem,
    AddLabel,
    AddObject,
    Batch,
    CommandError,
    MergeObjects,
    MoveObject,
    RemoveItem,
    RemoveLabel,
    RemoveObject,
    SetMask,
    UpdateItem,
    UpdateLabel,
    UpdateObject,
)
from annotator.document.mask import Mask
from annotator.document.model import Item, Label, MaskRecord, Object, Prompts
from annotator.document.project import Project

__all__ = [
    "AddItem",
    "AddLabel",
    "AddObject",
    "Batch",
    "CommandError",
    "Item",
    "Label",
    "Mask",
    "MaskRecord",
    "MergeObjects",
    "MoveObject",
    "Object",
    "Project",
    "Prompts",
    "RemoveItem",
    "RemoveLabel",
    "RemoveObject",
    "SetMask",
    "UpdateItem",
    "UpdateLabel",
    "UpdateObject",
]
