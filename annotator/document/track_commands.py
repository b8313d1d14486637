"""Commands on box and point tracks: set a keyframe, apply a tracking run, remove samples.

A keyframe is a sample the user made; tracking runs and interpolation skip keyframes, so what the
user placed is never overwritten. A tracking run is applied frame by frame inside one project group
(`Project.begin_group`), or at once, and undoes in one step either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from annotator.document.commands import Apply, CommandError
from annotator.document.tracks import TrackChange, TrackSample

if TYPE_CHECKING:
    from annotator.document.project import Project


def _check_object(project: Project, object_id: int, frame: int, force: bool = False) -> None:
    obj = project.object(object_id)
    if obj.locked and not force:
        raise CommandError(f"object '{obj.name}' is locked")
    item = project.item(obj.item_id)
    if not 0 <= frame < item.frame_count:
        raise CommandError(f"frame {frame} is outside item '{item.name}' ({item.frame_count} frames)")


def _check_kind(project: Project, object_id: int, sample: TrackSample) -> None:
    kind = project.track_kind(object_id)
    if kind is not None and kind != sample.kind:
        name = project.object(object_id).name
        raise CommandError(f"object '{name}' has a {kind} track; a {sample.kind} sample does not fit it")


@dataclass(frozen=True)
class SetTrackSample:
    """Set the user's sample (a keyframe) of an object on one frame; returns the sample stored.

    A points keyframe must keep the point count of the track's other keyframes; when there is no
    other keyframe, tracked or interpolated samples with another count (made from an earlier
    version of this keyframe) are removed.
    """

    object_id: int
    frame: int
    sample: TrackSample
    force: bool = False

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Set box" if self.sample.kind == "box" else "Set points"

    def run(self, project: Project, apply: Apply) -> TrackSample:
        """Plan and apply."""
        _check_object(project, self.object_id, self.frame, self.force)
        _check_kind(project, self.object_id, self.sample)
        after = replace(self.sample, source="user", score=None)
        track = project.track(self.object_id)
        others = [s for f, s in track.items() if s.keyframe and f != self.frame]
        if any(s.count != after.count for s in others):
            raise CommandError(
                f"this track's keyframes have {others[0].count} points; a keyframe of {after.count} does not fit"
            )
        for frame, sample in list(track.items()):
            if frame != self.frame and not sample.keyframe and sample.count != after.count:
                apply(TrackChange(self.object_id, frame, sample, None))
        before = track.get(self.frame)
        if before != after:
            apply(TrackChange(self.object_id, self.frame, before, after))
        return after


@dataclass(frozen=True)
class RemoveTrackSample:
    """Remove an object's sample (keyframe or not) on one frame."""

    object_id: int
    frame: int
    force: bool = False

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Remove track sample"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        _check_object(project, self.object_id, self.frame, self.force)
        before = project.track_sample(self.object_id, self.frame)
        if before is None:
            raise CommandError(f"object {self.object_id} has no track sample on frame {self.frame}")
        apply(TrackChange(self.object_id, self.frame, before, None))


@dataclass(frozen=True)
class ClearTrack:
    """Remove an object's whole track (or, with keep_keyframes, only its tracked and interpolated samples)."""

    object_id: int
    keep_keyframes: bool = False
    force: bool = False

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return "Clear tracked frames" if self.keep_keyframes else "Clear track"

    def run(self, project: Project, apply: Apply) -> None:
        """Plan and apply."""
        obj = project.object(self.object_id)
        if obj.locked and not self.force:
            raise CommandError(f"object '{obj.name}' is locked")
        for frame, sample in list(project.track(self.object_id).items()):
            if not (self.keep_keyframes and sample.keyframe):
                apply(TrackChange(self.object_id, frame, sample, None))


@dataclass(frozen=True)
class ApplyTrackRun:
    """Write a tracking run's samples (object id, frame, sample); keyframes are skipped, never overwritten.

    Samples keep their source ('tracker' or 'interpolated'; a 'user' one becomes 'tracker': a run makes
    no keyframes). Returns how many samples were written.
    """

    samples: tuple[tuple[int, int, TrackSample], ...]
    label: str = "Track"

    @property
    def description(self) -> str:
        """Undo-menu text."""
        return self.label

    def run(self, project: Project, apply: Apply) -> int:
        """Plan and apply."""
        written = 0
        for object_id, frame, sample in self.samples:
            _check_object(project, object_id, frame)
            _check_kind(project, object_id, sample)
            before = project.track_sample(object_id, frame)
            if before is not None and before.keyframe:
                continue
            after = replace(sample, source="tracker") if sample.keyframe else sample
            if after != before:
                apply(TrackChange(object_id, frame, before, after))
                written += 1
        return written
