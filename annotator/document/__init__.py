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
from annotator.document.model import Item, Label, MaskRecord, Object, Prompts, Proposal, Run
from annotator.document.project import Project
from annotator.document.proposals import AcceptProposals, AddProposals, Found, RejectProposals

__all__ = [
    "AcceptProposals",
    "AddItem",
    "AddLabel",
    "AddObject",
    "AddProposals",
    "Batch",
    "CommandError",
    "Found",
    "Item",
    "Label",
    "Mask",
    "MaskRecord",
    "MergeObjects",
    "MoveObject",
    "Object",
    "Project",
    "Prompts",
    "Proposal",
    "RejectProposals",
    "RemoveItem",
    "RemoveLabel",
    "RemoveObject",
    "Run",
    "SetMask",
    "UpdateItem",
    "UpdateLabel",
    "UpdateObject",
]
