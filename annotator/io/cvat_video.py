"""CVAT for video 1.1 XML (annotations.xml): box and points tracks with keyframe, outside and occluded.

Layout (CVAT's docs, "XML annotation format"): <annotations><version>1.1</version><meta><task> with
size, mode 'interpolation', start/stop frame, labels and original_size</task></meta>, then one
<track id label source> per object holding a <box frame xtl ytl xbr ybr outside occluded keyframe
z_order> or <points frame points="x0,y0;x1,y1" ...> element per frame.

CVAT interpolates between keyframes, so every user and tracker frame is written as a keyframe
(interpolated frames as non-keyframes), and a track that ends before the video does gets an
outside keyframe on the frame after its last, which is how CVAT ends a track. A points element has
one occluded flag; per-point occlusion goes into the mutable text attribute `occluded_points`
("0,1,0") and each frame's source into `sample_source`, both declared on every label, so a re-import
is exact. Coordinates are CVAT's: pixels with pixel edges, as ours.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from annotator.errors import FormatError
from annotator.io.common import write_bytes_atomic
from annotator.io.track_data import SOURCES, TrackData, TrackFrame, TrackSet

log = logging.getLogger(__name__)

FORMAT = "CVAT for video 1.1"
OCCLUDED_POINTS = "occluded_points"
SAMPLE_SOURCE = "sample_source"
UNLABELLED = "object"


def _number(value: float) -> str:
    return f"{float(value):.2f}"


def _labels_element(task: ET.Element, names: list[str]) -> None:
    labels = ET.SubElement(task, "labels")
    for name in names:
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = name
        ET.SubElement(label, "type").text = "any"
        attributes = ET.SubElement(label, "attributes")
        for attribute, default, values in (
            (OCCLUDED_POINTS, "", ""),
            (SAMPLE_SOURCE, "user", "\n".join(SOURCES)),
        ):
            node = ET.SubElement(attributes, "attribute")
            ET.SubElement(node, "name").text = attribute
            ET.SubElement(node, "mutable").text = "True"
            ET.SubElement(node, "input_type").text = "text" if attribute == OCCLUDED_POINTS else "select"
            ET.SubElement(node, "default_value").text = default
            ET.SubElement(node, "values").text = values


def _shape(track: ET.Element, kind: str, sample: TrackFrame) -> None:
    attrib = {
        "frame": str(sample.frame),
        "keyframe": "1" if sample.keyframe else "0",
        "outside": "1" if sample.outside else "0",
        "occluded": "1" if bool(sample.occluded.all()) else "0",
        "z_order": "0",
    }
    if kind == "box":
        x0, y0, x1, y1 = sample.geometry
        attrib.update(xtl=_number(x0), ytl=_number(y0), xbr=_number(x1), ybr=_number(y1))
        element = ET.SubElement(track, "box", attrib)
    else:
        attrib["points"] = ";".join(f"{_number(x)},{_number(y)}" for x, y in sample.geometry)
        element = ET.SubElement(track, "points", attrib)
        if sample.occluded.any() and not sample.occluded.all():
            node = ET.SubElement(element, "attribute", {"name": OCCLUDED_POINTS})
            node.text = ",".join("1" if o else "0" for o in sample.occluded)
    ET.SubElement(element, "attribute", {"name": SAMPLE_SOURCE}).text = sample.source


def cvat_xml(tracks: TrackSet) -> bytes:
    """The CVAT for video 1.1 XML of one video's tracks."""
    tracks.check()
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    for key, value in (
        ("name", tracks.name),
        ("size", str(tracks.frame_count)),
        ("mode", "interpolation"),
        ("overlap", "0"),
        ("flipped", "False"),
        ("start_frame", "0"),
        ("stop_frame", str(max(0, tracks.frame_count - 1))),
    ):
        ET.SubElement(task, key).text = value
    names = tracks.labels() + ([UNLABELLED] if any(not t.label for t in tracks.tracks) else [])
    _labels_element(task, names)
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(tracks.width)
    ET.SubElement(size, "height").text = str(tracks.height)
    for number, track in enumerate(tracks.tracks):
        if not track.frames:
            continue
        sources = {f.source for f in track.frames.values()}
        attrib = {"id": str(number), "label": track.label or UNLABELLED, "source": _track_source(sources)}
        element = ET.SubElement(root, "track", attrib)
        for sample in track.frames.values():
            _shape(element, track.kind, sample)
        last = list(track.frames.values())[-1]
        if not last.outside and last.frame + 1 < tracks.frame_count:
            end = TrackFrame(last.frame + 1, last.geometry, last.occluded, True, True, last.source, last.score)
            _shape(element, track.kind, end)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _track_source(sources: set[str]) -> str:
    if sources <= {"user"}:
        return "manual"
    return "auto" if "user" not in sources else "semi-auto"


def write_cvat_video(tracks: TrackSet, path: Path) -> Path:
    """Write annotations.xml (or the file `path` names, when it ends in .xml) for one video's tracks."""
    path = Path(path)
    target = path if path.suffix.lower() == ".xml" else path / "annotations.xml"
    write_bytes_atomic(target, cvat_xml(tracks))
    return target


def read_cvat_video(path: Path) -> TrackSet:
    """Read box and points tracks from a CVAT for video 1.1 XML file (other shapes are skipped, with a warning)."""
    path = Path(path)
    source = path / "annotations.xml" if path.is_dir() else path
    try:
        root = ET.parse(source).getroot()
    except (OSError, ET.ParseError) as error:
        raise FormatError(source, "", f"cannot read it as {FORMAT} XML ({error})") from error
    if root.tag != "annotations":
        raise FormatError(source, f"<{root.tag}>", f"the root element of {FORMAT} XML is <annotations>")
    task = root.find("meta/task")
    if task is None:
        task = root.find("meta/job")
    width = int(_text(task, "original_size/width", "0"))
    height = int(_text(task, "original_size/height", "0"))
    size = int(_text(task, "size", "0"))
    start = int(_text(task, "start_frame", "0"))
    result = TrackSet(_text(task, "name", source.stem), width, height, size)
    skipped: set[str] = set()
    for number, element in enumerate(root.iter("track"), 1):
        label = element.get("label") or None
        track: TrackData | None = None
        for shape in element:
            if shape.tag not in ("box", "points"):
                skipped.add(shape.tag)
                continue
            kind = "box" if shape.tag == "box" else "points"
            if track is None:
                track = TrackData(number, None if label == UNLABELLED else label, kind)
            try:
                track.add(_sample(shape, start))
            except (KeyError, ValueError) as error:
                raise FormatError(source, f"track {element.get('id')}", str(error)) from error
        if track is not None:
            result.tracks.append(track)
    if skipped:
        log.warning("%s: skipped %s shapes (only box and points tracks are read)", source, ", ".join(sorted(skipped)))
    frames = [f for t in result.tracks for f in t.frames]
    result.frame_count = max([result.frame_count, *(f + 1 for f in frames)])
    return result


def _text(node: ET.Element | None, path: str, default: str) -> str:
    found = node.find(path) if node is not None else None
    return found.text.strip() if found is not None and found.text else default


def _sample(shape: ET.Element, start: int) -> TrackFrame:
    """One <box> or <points> element as a TrackFrame (frames counted from the task's start frame)."""
    attributes = {a.get("name"): (a.text or "").strip() for a in shape.findall("attribute")}
    occluded_flag = shape.get("occluded") == "1"
    if shape.tag == "box":
        geometry = np.array([float(shape.attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr")])
        occluded = np.array([occluded_flag])
    else:
        pairs = [p for p in shape.attrib["points"].split(";") if p.strip()]
        geometry = np.array([[float(v) for v in p.split(",")] for p in pairs]).reshape(-1, 2)
        flags = attributes.get(OCCLUDED_POINTS, "")
        if flags:
            occluded = np.array([v.strip() == "1" for v in flags.split(",")])
        else:
            occluded = np.full(len(geometry), occluded_flag)
    keyframe = shape.get("keyframe", "1") == "1"
    source = attributes.get(SAMPLE_SOURCE) or ("user" if keyframe else "interpolated")
    if source not in SOURCES:
        source = "user" if keyframe else "interpolated"
    frame = int(shape.attrib["frame"]) - start
    return TrackFrame(frame, geometry, occluded, shape.get("outside") == "1", keyframe, source)  # type: ignore[arg-type]
