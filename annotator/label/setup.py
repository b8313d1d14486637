"""Turning the command line's prompts into a job on a project: labels for the mapping, boxes matched
to items, and the export (reviewed objects only, or with the proposals still waiting)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from annotator.document import AddLabel, Project
from annotator.errors import AnnotatorError
from annotator.io.boxes import BoxSet, read_boxes
from annotator.io.dataset import Dataset, ObjectData
from annotator.io.formats import FormatOptions, write_dataset
from annotator.io.matching import media_file
from annotator.io.project_io import dataset_from_project

log = logging.getLogger(__name__)

BoxTable = dict[tuple[int, int], tuple[tuple[int | None, float, float, float, float], ...]]


def parse_text(values: list[str]) -> list[tuple[str, str]]:
    """`--text "a dog=dog"` values as (phrase, label name); without '=' the phrase is the label."""
    pairs = []
    for value in values:
        phrase, _, name = value.partition("=")
        phrase, name = phrase.strip(), (name.strip() or phrase.strip())
        if not phrase:
            raise AnnotatorError(f"--text '{value}': give a phrase, as in --text \"a dog=dog\"")
        pairs.append((phrase, name))
    return pairs


def label_id(project: Project, name: str | None) -> int | None:
    """The id of the label named `name`, made when the project has none (None: no label)."""
    if not name:
        return None
    found = project.label_by_name(name)
    if found is None:
        found = project.execute(AddLabel(name))
        project.history.clear()
    return found.id


def _item_index(project: Project, item_ids: frozenset[int] | None) -> tuple[dict[str, int], dict[str, list[int]]]:
    by_path: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for item in project.items:
        if item_ids is not None and item.id not in item_ids:
            continue
        media = media_file(project, item.path).resolve()
        by_path[str(media)] = item.id
        for name in {media.name, media.stem}:
            by_name.setdefault(name, []).append(item.id)
    return by_path, by_name


def box_table(
    project: Project, path: Path, fmt: str | None, item_ids: frozenset[int] | None
) -> tuple[BoxTable, str, list[str]]:
    """The boxes of a COCO / YOLO / MOT file per (item id, frame), labels made as needed; the file's
    digest (for the run's fingerprint) and the box sets that match no item (reported)."""
    sets: list[BoxSet] = read_boxes(path, fmt)
    digest = hashlib.sha256(Path(path).read_bytes() if Path(path).is_file() else repr(sets).encode()).hexdigest()
    by_path, by_name = _item_index(project, item_ids)
    videos = [i.id for i in project.items if i.kind == "video" and (item_ids is None or i.id in item_ids)]
    table: BoxTable = {}
    unmatched = []
    for box_set in sets:
        item_id = by_path.get(str(Path(box_set.path).resolve())) if box_set.path else None
        if item_id is None:
            candidates = by_name.get(Path(box_set.ref).name, []) or by_name.get(Path(box_set.ref).stem, [])
            item_id = candidates[0] if len(candidates) == 1 else None
        if item_id is None and box_set.path is None and len(videos) == 1:  # a MOT sequence: the one video
            item_id = videos[0]
        if item_id is None:
            if box_set.count:
                unmatched.append(box_set.ref)
            continue
        for frame, boxes in box_set.frames.items():
            if boxes:
                table[(item_id, frame)] = tuple((label_id(project, name), *xyxy) for name, *xyxy in boxes)
    return table, digest[:32], unmatched


def export(
    project: Project,
    out: Path,
    fmt: str,
    with_proposals: bool,
    item_ids: list[int] | None = None,
    unlabelled: str | None = "object",
) -> Path:
    """Export the project as `fmt`: its objects, and with `with_proposals` also every proposal still
    waiting (as an object with its label, its phrase's label, or none)."""
    dataset: Dataset = dataset_from_project(project, item_ids)
    if with_proposals:
        names = {label.id: label.name for label in project.labels}
        items = [item for item in project.items if item_ids is None or item.id in item_ids]
        known = {label.name for label in dataset.labels}
        for item, data in zip(items, dataset.items, strict=True):
            for proposal in project.proposals(item.id):
                label = names.get(proposal.label_id) if proposal.label_id is not None else proposal.phrase
                if label and label not in known:
                    from annotator.io.dataset import LabelData

                    dataset.labels.append(LabelData(label))
                    known.add(label)
                data.objects.append(ObjectData(f"proposal {proposal.id}", label, {proposal.frame: proposal.mask}))
            project.release([item.id])
    return write_dataset(dataset, out, fmt, FormatOptions(unlabelled=unlabelled))
