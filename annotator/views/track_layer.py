"""TrackLayer: draws the box and point track samples of the frame on screen over the canvas image.

A box is a rectangle in its object's colour (dashed when occluded; with corner handles when its
object is selected; thicker on a keyframe); points are dots (hollow when occluded). Samples that
are outside (the object out of view) are not drawn. The layer only shows: it never changes the
document, and it holds no copy of it beyond what is on screen.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsRectItem

from annotator.document import Project
from annotator.document.tracks import TrackSample
from annotator.views.canvas import CanvasView

HANDLE_PX = 4.0  # half the size of a corner handle, and the radius of a point, in screen pixels


class TrackLayer:
    """The graphics items of the track samples shown on the canvas."""

    def __init__(self, canvas: CanvasView) -> None:
        self.canvas = canvas
        self.items: dict[int, list[QGraphicsItem]] = {}
        self.drawn: dict[int, TrackSample] = {}  # object id -> the sample on screen

    def _scale(self) -> float:
        return 1.0 / max(self.canvas.transform().m11(), 1e-6)

    def clear(self) -> None:
        """Remove every drawn sample."""
        scene = self.canvas.scene()
        for items in self.items.values():
            for item in items:
                scene.removeItem(item)
        self.items.clear()
        self.drawn.clear()

    def show(self, project: Project | None, item_id: int | None, frame: int, selected: int | None) -> None:
        """Draw the samples of every visible object of the item on `frame`."""
        self.clear()
        if project is None or item_id is None:
            return
        for obj in project.objects(item_id):
            sample = project.track_sample(obj.id, frame)
            if sample is None or sample.outside or not obj.visible:
                continue
            self.draw(obj.id, sample, obj.color, obj.id == selected)

    def draw(self, object_id: int, sample: TrackSample, color: tuple[int, int, int], selected: bool) -> None:
        """Draw (or redraw) one object's sample, such as a box being dragged."""
        scene = self.canvas.scene()
        for item in self.items.pop(object_id, []):
            scene.removeItem(item)
        self.drawn[object_id] = sample
        scale = self._scale()
        colour = QColor(*color)
        items: list[QGraphicsItem] = []
        if sample.kind == "box":
            x0, y0, x1, y1 = sample.box
            pen = QPen(colour, 3 if sample.keyframe or selected else 2)
            pen.setCosmetic(True)
            if sample.occluded[0]:
                pen.setStyle(Qt.PenStyle.DashLine)
            rect = QGraphicsRectItem(QRectF(QPointF(x0, y0), QPointF(x1, y1)))
            rect.setPen(pen)
            items.append(rect)
            if selected:
                r = HANDLE_PX * scale
                for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
                    handle = QGraphicsRectItem(x - r, y - r, 2 * r, 2 * r)
                    handle.setPen(QPen(QColor(255, 255, 255), 0))
                    handle.setBrush(QBrush(colour))
                    items.append(handle)
        else:
            r = (HANDLE_PX + (1 if selected else 0)) * scale
            for (x, y), occluded in zip(sample.points, sample.occluded, strict=True):
                dot = QGraphicsEllipseItem(x - r, y - r, 2 * r, 2 * r)
                pen = QPen(colour if occluded else QColor(255, 255, 255), 2 if occluded else 1)
                pen.setCosmetic(True)
                dot.setPen(pen)
                if not occluded:
                    dot.setBrush(QBrush(colour))
                items.append(dot)
        for item in items:
            item.setZValue(40)
            scene.addItem(item)
        self.items[object_id] = items
