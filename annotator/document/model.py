"""Value types of the document: Label, Item, Object, MaskRecord (all frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from annotator.document.mask import Mask

Color = tuple[int, int, int]
ItemKind = Literal["image", "video"]
MaskSource = Literal["user", "propagated", "imported"]

# A qualitative palette that stays distinguishable on photos (Glasbey-like, hand-picked).
PALETTE: tuple[Color, ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
    (0, 0, 128),
    (128, 128, 128),
)


def palette_color(index: int) -> Color:
    """The `index`-th colour of the palette, cycling."""
    return PALETTE[index % len(PALETTE)]


def color_to_hex(color: Color) -> str:
    """'#rrggbb' for an (r, g, b) tuple."""
    return "#{:02x}{:02x}{:02x}".format(*color)


def color_from_hex(text: str) -> Color:
    """(r, g, b) from '#rrggbb'."""
    value = text.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"not a colour: {text!r}")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


@dataclass(frozen=True)
class Label:
    """A class name with a colour; objects refer to it by id."""

    id: int
    name: str
    color: Color


@dataclass(frozen=True)
class Item:
    """An image, or a video with `frame_count` frames at `fps`; `path` is where its media lives."""

    id: int
    path: str
    kind: ItemKind = "image"
    width: int = 0
    height: int = 0
    frame_count: int = 1
    fps: float = 0.0
    done: bool = False
    frame_names: tuple[str, ...] | None = None
    """A frame folder's file names in frame order, as the annotations named them (None: its listing); kept so
    that a video whose frames are absent (imported without checking the media) is exported under its names."""

    @property
    def name(self) -> str:
        """The file name of the media."""
        return self.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Object:
    """One annotated thing in one item; its masks are per frame (frame 0 for images)."""

    id: int
    item_id: int
    name: str = ""
    label_id: int | None = None
    color: Color = (230, 25, 75)
    visible: bool = True
    locked: bool = False


@dataclass(frozen=True)
class Prompts:
    """The clicks and box that produced a mask: points [(x, y, positive)], box xyxy or None."""

    points: tuple[tuple[float, float, bool], ...] = ()
    box: tuple[float, float, float, float] | None = None

    def to_json(self) -> dict:
        """Plain JSON form."""
        return {"points": [list(p) for p in self.points], "box": list(self.box) if self.box else None}

    @classmethod
    def from_json(cls, data: dict | None) -> Prompts:
        """Inverse of to_json (None gives empty prompts)."""
        if not data:
            return cls()
        points = tuple((float(x), float(y), bool(p)) for x, y, p in data.get("points", []))
        box = data.get("box")
        return cls(points, tuple(float(v) for v in box) if box else None)


LOW_CONFIDENCE = 0.7
"""A propagated mask whose tracker confidence is below this is shown as doubtful on the timeline."""

FrameState = Literal["user", "imported", "propagated", "low", "absent"]


def frame_state(source: str, empty: bool, score: float | None) -> FrameState:
    """What a frame's mask is for the person: a propagated frame is 'absent' when its mask is empty
    (the tracker judged the object gone) and 'low' when the tracker was not sure of it."""
    if source != "propagated":
        return "imported" if source == "imported" else "user"
    if empty:
        return "absent"
    return "low" if score is not None and score < LOW_CONFIDENCE else "propagated"


@dataclass(frozen=True)
class MaskRecord:
    """A stored mask with where it came from ('user' marks a keyframe in video)."""

    mask: Mask
    source: MaskSource = "user"
    prompts: Prompts = field(default_factory=Prompts)
    score: float | None = None  # a tracker's confidence in a propagated mask (None: not given)

    def with_mask(self, mask: Mask) -> MaskRecord:
        """Same record with another mask."""
        return replace(self, mask=mask)


@dataclass(frozen=True)
class Run:
    """One model run that made proposals: what kind (`source`: 'everything', 'find', ...), which engine
    and model, its settings (a JSON object as text) and when it ran (ISO 8601, UTC)."""

    id: int
    source: str
    engine: str
    model: str = ""
    settings: str = "{}"
    created: str = ""


@dataclass(frozen=True)
class Proposal:
    """A model-made object waiting for review on one frame of an item: its mask, the model's score in
    [0, 1], the run that made it, the phrase it answers (None for 'everything') and the label it gets
    when accepted (None: the phrase's label, found or made by name at acceptance, or no label).

    `group_id` joins the proposals of one instance tracked through a video (one per frame it is on):
    they are accepted together as one object and rejected together. It is the id of the group's
    first proposal; None for a proposal that stands alone (an image, or one frame)."""

    id: int
    item_id: int
    run_id: int
    mask: Mask
    score: float
    frame: int = 0
    phrase: str | None = None
    label_id: int | None = None
    group_id: int | None = None
