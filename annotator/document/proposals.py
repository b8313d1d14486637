"""Proposals: model-made objects waiting for review, and the commands that add, accept and reject them.

A run of a model ("segment everything", or a phrase found on an image) adds proposals, never
objects: what the user made is never overwritten or deleted. Accepting a proposal turns it into an
ordinary object (with the phrase's label) and removes the proposal; rejecting one removes it.
The proposals of one instance tracked through a video form a group (one proposal per frame): the
group is accepted as one object holding its masks on all those frames, and rejected as a whole.
Each command is one transaction and one undo step, like every other command.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from annotator.document.changes import RowChange
from annotator.document.commands import UNSET, AddLabel, AddObject, Apply, CommandError, SetMask
from annotator.document.mask import Mask
from annotator.document.model import Object, Proposal, Run

if TYPE_CHECKING:
    from annotator.document.project import Project
    from annotator.document.store import ProjectStore


class ProposalIndex:
    """The runs and the per-item proposal lists of a project, loaded from its store on first use.

    It is the Project's memory of these rows; only `Project._apply_row` changes the lists. The
    waiting count of every item is read once from the store and kept up to date by the changes.
    """

    def __init__(self, store: Callable[[], ProjectStore | None]) -> None:
        self._store = store
        opened = store()
        self.runs: list[Run] = opened.load_runs() if opened else []
        self.run_by_id = {run.id: run for run in self.runs}
        self.by_item: dict[int, list[Proposal]] = {}
        self.by_id: dict[int, Proposal] = {}
        self.counts: dict[int, int] = opened.proposal_counts() if opened else {}

    def of_item(self, item_id: int) -> list[Proposal]:
        """The proposals waiting on an item, in list order (do not mutate)."""
        if item_id not in self.by_item:
            store = self._store()
            loaded = store.load_proposals(item_id) if store else []
            self.by_item[item_id] = loaded
            self.by_id.update((p.id, p) for p in loaded)
        return self.by_item[item_id]

    def inserted(self, proposal: Proposal) -> None:
        """Count a proposal that was just added."""
        self.counts[proposal.item_id] = self.counts.get(proposal.item_id, 0) + 1

    def removed(self, proposal: Proposal) -> None:
        """Count a proposal that was just removed."""
        left = self.counts.get(proposal.item_id, 0) - 1
        if left > 0:
            self.counts[proposal.item_id] = left
        else:
            self.counts.pop(proposal.item_id, None)

    def release(self, item_id: int) -> None:
        """Drop an item's loaded proposals from memory (its count stays); they load again on use."""
        for proposal in self.by_item.pop(item_id, []):
            self.by_id.pop(proposal.id, None)

    def forget_item(self, item_id: int) -> None:
        """An item is gone (its proposals were removed before it)."""
        self.by_item.pop(item_id, None)
        self.counts.pop(item_id, None)

    def with_label(self, label_id: int) -> list[Proposal]:
        """Every proposal, on any item, that would get this label."""
        store = self._store()
        if store is not None:
            for item_id in store.items_with_proposal_label(label_id):
                self.of_item(item_id)
        return [p for proposals in self.by_item.values() for p in proposals if p.label_id == label_id]


@dataclass(frozen=True)
class Found:
    """One instance a model found, to be proposed: HxW mask, score in [0, 1], the phrase asked
    (None for 'everything') and the label it should get (None: the phrase's, by name, when accepted).

    Through a video: `frame` is the frame it is on (None: the command's), and `group` a key, local to
    one AddProposals, shared by the masks of one tracked instance (None: it stands alone)."""

    mask: Mask
    score: float
    phrase: str | None = None
    label_id: int | None = None
    frame: int | None = None
    group: int | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class AddProposals:
    """Add what one model run found on one frame of an item as proposals (best score first); returns
    (the run, the proposals). With `run_id` the proposals join an earlier run (a long run written in
    batches); otherwise a new run is recorded with `source`, `engine`, `model` and `settings` (JSON)."""

    item_id: int
    found: tuple[Found, ...]
    source: str = "everything"
    engine: str = ""
    model: str = ""
    settings: str = "{}"
    frame: int = 0
    run_id: int | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        phrases = sorted({f.phrase for f in self.found if f.phrase})
        through = " through the video" if any(f.group is not None for f in self.found) else ""
        if self.source == "everything" or not (phrases or through):
            return "Segment everything"
        return "Find " + (", ".join(f"'{p}'" for p in phrases) or "the exemplars") + through

    def _check(self, project: Project) -> None:
        item = project.item(self.item_id)
        frames = {self.frame} | {f.frame for f in self.found if f.frame is not None}
        for frame in sorted(frames):
            if not 0 <= frame < item.frame_count:
                raise CommandError(f"frame {frame} is outside item '{item.name}' ({item.frame_count} frames)")
        for found in self.found:
            size = found.mask.size
            if item.width and item.height and size != (item.height, item.width):
                raise CommandError(
                    f"a proposal of size {size[1]}x{size[0]} does not fit item '{item.name}' "
                    f"({item.width}x{item.height})"
                )
            if not 0.0 <= float(found.score) <= 1.0:
                raise CommandError(f"a proposal's score must lie in [0, 1], not {found.score}")
            if found.label_id is not None:
                project.label(found.label_id)
        try:
            json.loads(self.settings)
        except ValueError as error:
            raise CommandError(f"run settings are not JSON: {error}") from None

    def run(self, project: Project, apply: Apply) -> tuple[Run | None, list[Proposal]]:
        """Plan and apply."""
        self._check(project)
        kept = [f for f in self.found if not f.mask.is_empty]
        if not kept:
            return (project.run(self.run_id) if self.run_id is not None else None), []
        if self.run_id is not None:
            run = project.run(self.run_id)
        else:
            run = Run(project.new_id("run"), self.source, self.engine, self.model, self.settings, _now())
            apply(RowChange("run", None, run, -1, len(project.runs)))
        made = []
        groups: dict[int, int] = {}  # the command's group key -> the group id (its first proposal's id)
        for found in sorted(kept, key=lambda f: -float(f.score)):
            proposal_id = project.new_id("proposal")
            group_id = None if found.group is None else groups.setdefault(found.group, proposal_id)
            proposal = Proposal(
                proposal_id,
                self.item_id,
                run.id,
                found.mask,
                float(found.score),
                self.frame if found.frame is None else found.frame,
                found.phrase.strip() if found.phrase and found.phrase.strip() else None,
                found.label_id,
                group_id,
            )
            apply(RowChange("proposal", None, proposal, -1, len(project.proposals(self.item_id))))
            made.append(proposal)
        return run, made


@dataclass(frozen=True)
class AddRun:
    """Record a model run that will add its proposals in later batches (AddProposals with its
    `run_id`), such as a labelling run over a whole folder; returns the Run."""

    source: str
    engine: str = ""
    model: str = ""
    settings: str = "{}"

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Start a run"

    def run(self, project: Project, apply: Apply) -> Run:
        """Plan and apply."""
        try:
            json.loads(self.settings)
        except ValueError as error:
            raise CommandError(f"run settings are not JSON: {error}") from None
        run = Run(project.new_id("run"), self.source, self.engine, self.model, self.settings, _now())
        apply(RowChange("run", None, run, -1, len(project.runs)))
        return run


def _chosen(
    project: Project, ids: tuple[int, ...], item_id: int | None, frame: int | None, min_score: float
) -> list[Proposal]:
    """The proposals named by id, or those waiting on an item (one frame of it, when given) scoring at
    least `min_score`."""
    if ids:
        return [project.proposal(i) for i in dict.fromkeys(ids)]
    if item_id is None:
        raise CommandError("say which proposals: their ids, or an item")
    return [
        p for p in project.proposals(item_id) if (frame is None or p.frame == frame) and float(p.score) >= min_score
    ]


def _units(project: Project, chosen: list[Proposal]) -> list[list[Proposal]]:
    """The chosen proposals as what is accepted or rejected together: a proposal alone, or every
    proposal of its group (in frame order), each once, in the order first chosen."""
    members: dict[int, dict[int, list[Proposal]]] = {}  # item id -> group id -> its proposals
    units: list[list[Proposal]] = []
    seen: set[int] = set()
    for proposal in chosen:
        if proposal.group_id is None:
            if proposal.id not in seen:
                seen.add(proposal.id)
                units.append([proposal])
            continue
        if -proposal.group_id in seen:  # groups are marked by their negated id (ids are positive)
            continue
        seen.add(-proposal.group_id)
        if proposal.item_id not in members:
            grouped: dict[int, list[Proposal]] = defaultdict(list)
            for other in project.proposals(proposal.item_id):
                if other.group_id is not None:
                    grouped[other.group_id].append(other)
            members[proposal.item_id] = grouped
        units.append(sorted(members[proposal.item_id][proposal.group_id], key=lambda p: p.frame))
    return units


def _remove(project: Project, apply: Apply, proposals: list[Proposal]) -> None:
    """Remove proposals, each item's from its last to its first: every index is found once, and stays
    right while those after it go (a group through a long video has thousands)."""
    by_item: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in proposals:
        by_item[proposal.item_id].append(proposal)
    for item_id, gone in by_item.items():
        index = {p.id: i for i, p in enumerate(project.proposals(item_id))}
        for proposal in sorted(gone, key=lambda p: -index[p.id]):
            apply(RowChange("proposal", proposal, None, index[proposal.id], -1))


@dataclass(frozen=True)
class AcceptProposals:
    """Turn proposals into ordinary objects, all in one undo step; returns the new objects.

    Which: `ids`, or (without ids) every proposal waiting on `item_id` (on `frame`, when given) that
    scores at least `min_score`. Each object gets `label_id` when given, else the proposal's label,
    else the label named like its phrase (made when there is none); an 'everything' proposal gets
    `fallback_label_id` (the label new objects get; None: no label). Nothing that exists is changed:
    each accepted proposal becomes a new object, last in the list. A proposal of a group brings its
    whole group (whatever the other frames score): one object with a mask on each of the group's
    frames, marked as the tracker's ('propagated', with the proposal's score).
    """

    ids: tuple[int, ...] = ()
    item_id: int | None = None
    frame: int | None = None
    min_score: float = 0.0
    label_id: Any = UNSET
    fallback_label_id: int | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Accept proposal" if len(self.ids) == 1 else "Accept proposals"

    def _label_for(self, project: Project, apply: Apply, proposal: Proposal) -> int | None:
        if self.label_id is not UNSET:
            return self.label_id
        if proposal.label_id is not None:
            return proposal.label_id
        if not proposal.phrase:
            return self.fallback_label_id
        label = project.label_by_name(proposal.phrase)
        if label is None:
            label = AddLabel(proposal.phrase).run(project, apply)
        return label.id

    def run(self, project: Project, apply: Apply) -> list[Object]:
        """Plan and apply."""
        for given in (self.label_id, self.fallback_label_id):
            if given is not UNSET and given is not None:
                project.label(given)
        chosen = _chosen(project, self.ids, self.item_id, self.frame, self.min_score)
        units = _units(project, chosen)
        _remove(project, apply, [proposal for unit in units for proposal in unit])
        objects = []
        for unit in units:
            first = unit[0]
            label_id = self._label_for(project, apply, first)
            if first.group_id is None:
                objects.append(
                    AddObject(first.item_id, label_id, mask=first.mask, frame=first.frame).run(project, apply)
                )
                continue
            obj = AddObject(first.item_id, label_id).run(project, apply)
            for proposal in unit:
                SetMask(obj.id, proposal.frame, proposal.mask, "propagated", score=float(proposal.score)).run(
                    project, apply
                )
            objects.append(obj)
        return objects


@dataclass(frozen=True)
class RejectProposals:
    """Drop proposals, in one undo step: `ids`, or (without ids) every proposal still waiting on
    `item_id` (on `frame`, when given): "reject the rest". A proposal of a group drops its whole group
    (on every frame). Returns how many were dropped."""

    ids: tuple[int, ...] = ()
    item_id: int | None = None
    frame: int | None = None

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Reject proposal" if len(self.ids) == 1 else "Reject proposals"

    def run(self, project: Project, apply: Apply) -> int:
        """Plan and apply."""
        chosen = _chosen(project, self.ids, self.item_id, self.frame, float("-inf"))
        dropped = [proposal for unit in _units(project, chosen) for proposal in unit]
        _remove(project, apply, dropped)
        return len(dropped)
