"""CanvasView: the image, mask overlays, prompt markers, box rubber band and brush cursor.

The canvas only shows and reports: pointer gestures become signals in image pixels
(points (x, y), boxes xyxy, brush strokes as bool masks); it never changes the document itself.
"""

from __future__ import annotations

import enum

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
)

from annotator.document.mask import Mask
from annotator.document.model import Color
from annotator.views.overlays import mask_image


class Tool(enum.Enum):
    """What a left-button gesture on the canvas does."""

    POINT = "point"
    BOX = "box"
    BRUSH = "brush"
    ERASER = "eraser"
    LASSO = "lasso"
    EXEMPLAR = "exemplar"  # drags draw exemplar boxes for the Find panel (Shift or right drag: negative)
    TRACK_BOX = "track_box"  # gestures handled by views/track_tools.py (box keyframes, corrections)
    TRACK_POINTS = "track_points"  # gestures handled by views/track_tools.py (track points)


def rgb_image(array: np.ndarray) -> QImage:
    """A QImage (RGB888, own copy) of an HxWx3 uint8 array."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class CanvasView(QGraphicsView):
    """Zoomable, pannable view of one image with its overlays."""

    point_clicked = Signal(float, float, bool)  # x, y, positive
    box_dragged = Signal(float, float, float, float)  # x0, y0, x1, y1 while dragging
    box_finished = Signal(float, float, float, float)
    hovered = Signal(float, float)
    stroke_finished = Signal(object, bool)  # HxW bool stroke, erase
    object_picked = Signal(float, float)  # Ctrl+click at x, y: select the object there
    exemplar_drawn = Signal(float, float, float, float, bool)  # x0, y0, x1, y1, positive (Exemplar tool)
    brush_radius_changed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        # Zoom keeps the image point under the cursor where it is (see `zoom`); the scene reaches far
        # past the image so that this is possible at every zoom, and panning replaces the scroll bars.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.image_item = QGraphicsPixmapItem()
        self.image_item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self.image_item)
        self.overlays: dict[int, QGraphicsPixmapItem] = {}
        self._shown: dict[int, tuple] = {}  # object id -> (mask, colour, opacity, selected) on screen
        self.preview_item = self._add_pixmap_layer(z=50)
        self.stroke_item = self._add_pixmap_layer(z=60)
        self.markers: list[QGraphicsItem] = []
        self.rubber = QGraphicsRectItem()
        self.rubber.setPen(QPen(QColor(255, 255, 0), 0, Qt.PenStyle.DashLine))
        self.rubber.setZValue(70)
        self.rubber.hide()
        self.scene().addItem(self.rubber)
        self.cursor_item = QGraphicsEllipseItem()
        self.cursor_item.setPen(QPen(QColor(255, 255, 255), 0))
        self.cursor_item.setZValue(80)
        self.cursor_item.hide()
        self.scene().addItem(self.cursor_item)
        self.tool = Tool.POINT
        self.brush_radius = 12
        self.hover_enabled = False
        self.opacity = 0.45
        self._image_size = (0, 0)  # (H, W)
        self._drag_start: QPointF | None = None
        self._exemplar_positive = True
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._stroke: np.ndarray | None = None
        self._lasso: list[tuple[float, float]] | None = None
        self._lasso_erase = False
        self.lasso_item = QGraphicsPathItem()
        self.lasso_item.setPen(QPen(QColor(255, 200, 0), 0, Qt.PenStyle.DashLine))
        self.lasso_item.setZValue(75)
        self.scene().addItem(self.lasso_item)
        self._last_stroke_point: tuple[int, int] | None = None
        self.busy_label = QLabel("⏳ working…", self.viewport())
        self.busy_label.setStyleSheet("background: rgba(20, 20, 20, 190); color: white; padding: 4px 8px;")
        self.busy_label.hide()

    def _add_pixmap_layer(self, z: float) -> QGraphicsPixmapItem:
        item = QGraphicsPixmapItem()
        item.setZValue(z)
        self.scene().addItem(item)
        return item

    # -- content --------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None) -> None:
        """Show an HxWx3 uint8 RGB image (None clears) and fit it in the view."""
        self.clear_overlays()
        self.set_preview(None)
        self.set_markers([])
        if image is None:
            self.image_item.setPixmap(QPixmap())
            self._image_size = (0, 0)
            return
        self._image_size = image.shape[:2]
        self.image_item.setPixmap(QPixmap.fromImage(rgb_image(image)))
        height, width = image.shape[:2]
        margin = 4.0 * max(height, width)
        self.scene().setSceneRect(QRectF(-margin, -margin, width + 2 * margin, height + 2 * margin))
        self.fit()

    def replace_image(self, image: np.ndarray) -> None:
        """Show another frame of the same size, keeping zoom and pan (scrubbing)."""
        if image.shape[:2] != self._image_size:
            self.set_image(image)
            return
        self.image_item.setPixmap(QPixmap.fromImage(rgb_image(image)))
        self.set_preview(None)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the image shown."""
        return self._image_size

    def fit(self) -> None:
        """Fit the whole image in the view."""
        if self._image_size[0]:
            self.fitInView(self.image_item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by `factor` (within sane limits), keeping the image point under `anchor` (a viewport
        position; the centre when None) exactly where it is."""
        current = self.transform().m11()
        factor = max(0.02 / current, min(factor, 64.0 / current))
        where = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        fixed = self.mapToScene(where.toPoint()) + (where - QPointF(where.toPoint())) / current
        self.scale(factor, factor)
        moved = QPointF(self.mapFromScene(fixed)) - where
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(moved.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(moved.y()))

    def set_overlay(self, object_id: int, mask: Mask | None, color: Color, selected: bool, visible: bool) -> None:
        """Show (or with None remove) the overlay of one object."""
        item = self.overlays.get(object_id)
        if mask is None or mask.is_empty or not visible:
            if item is not None:
                self.scene().removeItem(item)
                del self.overlays[object_id]
                self._shown.pop(object_id, None)
            return
        if item is None:
            item = self._add_pixmap_layer(z=20)
            self.overlays[object_id] = item
        style = (mask, color, self.opacity, selected)
        shown = self._shown.get(object_id)
        if shown is not None and shown[0] is mask and shown[1:] == style[1:]:
            return  # this very mask is on screen already (painted before it was saved)
        self._shown[object_id] = style
        item.setPixmap(QPixmap.fromImage(mask_image(mask.crop, color, self.opacity, selected)))
        item.setPos(mask.bbox[0], mask.bbox[1])
        item.setZValue(30 if selected else 20)

    def clear_overlays(self) -> None:
        """Remove every object overlay."""
        for item in self.overlays.values():
            self.scene().removeItem(item)
        self.overlays.clear()
        self._shown.clear()

    def set_preview(self, mask: np.ndarray | None, color: Color = (255, 255, 0)) -> None:
        """Show a not-yet-accepted HxW bool mask (hover, drag) or clear it with None."""
        if mask is None or not mask.any():
            self.preview_item.setPixmap(QPixmap())
            return
        preview = Mask.from_array(mask)
        self.preview_item.setPixmap(QPixmap.fromImage(mask_image(preview.crop, color, 0.3)))
        self.preview_item.setPos(preview.bbox[0], preview.bbox[1])

    def set_markers(self, points: list[tuple[float, float, bool]], box: tuple[float, ...] | None = None) -> None:
        """Show prompt points (green positive, red negative) and the prompt box."""
        for marker in self.markers:
            self.scene().removeItem(marker)
        self.markers = []
        scale = 1.0 / max(self.transform().m11(), 1e-6)
        radius = 5 * scale
        for x, y, positive in points:
            dot = QGraphicsEllipseItem(x - radius, y - radius, 2 * radius, 2 * radius)
            dot.setBrush(QBrush(QColor(40, 220, 60) if positive else QColor(235, 50, 50)))
            dot.setPen(QPen(QColor(255, 255, 255), 0))
            dot.setZValue(90)
            self.scene().addItem(dot)
            self.markers.append(dot)
        if box is not None:
            rect = QGraphicsRectItem(QRectF(QPointF(box[0], box[1]), QPointF(box[2], box[3])))
            rect.setPen(QPen(QColor(0, 200, 255), 0))
            rect.setZValue(85)
            self.scene().addItem(rect)
            self.markers.append(rect)

    # -- gestures -------------------------------------------------------------------------------
    def _image_point(self, event: QMouseEvent) -> QPointF:
        point = self.mapToScene(event.position().toPoint())
        height, width = self._image_size
        return QPointF(
            min(max(point.x(), 0.0), max(width - 1e-3, 0.0)), min(max(point.y(), 0.0), max(height - 1e-3, 0.0))
        )

    def _inside(self, event: QMouseEvent) -> bool:
        point = self.mapToScene(event.position().toPoint())
        height, width = self._image_size
        return 0 <= point.x() < width and 0 <= point.y() < height

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start a pan, a click, a box or a stroke."""
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if not self._image_size[0] or not self._inside(event):
            return
        point = self._image_point(event)
        if button == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.object_picked.emit(point.x(), point.y())
            return
        if self.tool in (Tool.BRUSH, Tool.ERASER) and button == Qt.MouseButton.LeftButton:
            self._stroke = np.zeros(self._image_size, bool)
            self._last_stroke_point = None
            self._paint_to(point)
        elif self.tool == Tool.LASSO and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._lasso = [(point.x(), point.y())]
            self._lasso_erase = button == Qt.MouseButton.RightButton
        elif (self.tool == Tool.BOX and button == Qt.MouseButton.LeftButton) or (
            self.tool == Tool.EXEMPLAR and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton)
        ):
            negative = button == Qt.MouseButton.RightButton or bool(
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
            self._exemplar_positive = not negative
            self._drag_start = point
            self.rubber.setRect(QRectF(point, point))
            self.rubber.show()
        elif self.tool == Tool.POINT and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            negative = button == Qt.MouseButton.RightButton or bool(
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
            self.point_clicked.emit(point.x(), point.y(), not negative)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Pan, drag the box, paint, or report a hover."""
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(int(self.horizontalScrollBar().value() - delta.x()))
            self.verticalScrollBar().setValue(int(self.verticalScrollBar().value() - delta.y()))
            return
        if not self._image_size[0]:
            return
        point = self._image_point(event)
        self._move_cursor(point)
        if self._stroke is not None:
            self._paint_to(point)
        elif self._lasso is not None:
            self._lasso.append((point.x(), point.y()))
            self._show_lasso()
        elif self._drag_start is not None:
            rect = QRectF(self._drag_start, point).normalized()
            self.rubber.setRect(rect)
            if rect.width() >= 2 and rect.height() >= 2 and self.tool == Tool.BOX:
                self.box_dragged.emit(rect.left(), rect.top(), rect.right(), rect.bottom())
        elif self.tool == Tool.POINT and self.hover_enabled and self._inside(event) and not event.buttons():
            self.hovered.emit(point.x(), point.y())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Finish a pan, a box or a stroke."""
        if self._pan_from is not None:
            self._pan_from = None
            self.set_space_pan(self._space_down)
            return
        if self._stroke is not None:
            stroke, self._stroke = self._stroke, None
            self.stroke_item.setPixmap(QPixmap())
            self.stroke_finished.emit(stroke, self.tool == Tool.ERASER)
        elif self._lasso is not None:
            points, self._lasso = self._lasso, None
            self.lasso_item.setPath(QPainterPath())
            self.finish_lasso(points, self._lasso_erase)
        elif self._drag_start is not None:
            rect = self.rubber.rect()
            self._drag_start = None
            self.rubber.hide()
            if rect.width() >= 2 and rect.height() >= 2 and self.tool == Tool.EXEMPLAR:
                box = (rect.left(), rect.top(), rect.right(), rect.bottom())
                self.exemplar_drawn.emit(*box, self._exemplar_positive)
            elif rect.width() >= 2 and rect.height() >= 2:
                self.box_finished.emit(rect.left(), rect.top(), rect.right(), rect.bottom())

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom at the cursor; with Ctrl in brush/eraser mode, change the brush radius."""
        steps = event.angleDelta().y() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier and self.tool in (Tool.BRUSH, Tool.ERASER):
            self.set_brush_radius(round(self.brush_radius * (1.15**steps)))
            return
        self.zoom(1.25**steps, event.position())

    def set_space_pan(self, down: bool) -> None:
        """Space held (wherever the keyboard focus is): the left button pans."""
        self._space_down = down
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if down else self._idle_cursor())

    def _idle_cursor(self) -> Qt.CursorShape:
        return Qt.CursorShape.BusyCursor if self.busy_label.isVisible() else Qt.CursorShape.ArrowCursor

    def set_busy(self, busy: bool) -> None:
        """Show (or hide) the busy indicator: a mask or a job the user asked for is still coming."""
        self.busy_label.setVisible(busy)
        if busy:
            self.busy_label.adjustSize()
            self.busy_label.move(self.viewport().width() - self.busy_label.width() - 8, 8)
        if not self._space_down and self._pan_from is None:
            self.viewport().setCursor(self._idle_cursor())

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        """Space held: pan with the left button."""
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.set_space_pan(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        """Release of space ends pan mode."""
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.set_space_pan(False)
            return
        super().keyReleaseEvent(event)

    # -- brush ----------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        """Switch the left-button tool."""
        self.tool = tool
        self.cursor_item.setVisible(tool in (Tool.BRUSH, Tool.ERASER))
        self.set_preview(None)

    def set_brush_radius(self, radius: int) -> None:
        """Brush radius in image pixels (1..500), whatever the zoom."""
        self.brush_radius = max(1, min(500, radius))
        self.brush_radius_changed.emit(self.brush_radius)

    def _move_cursor(self, point: QPointF) -> None:
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            r = self.brush_radius
            self.cursor_item.setRect(point.x() - r, point.y() - r, 2 * r, 2 * r)
            self.cursor_item.show()

    def _paint_to(self, point: QPointF) -> None:
        assert self._stroke is not None
        here = (int(point.x()), int(point.y()))
        canvas = self._stroke.view(np.uint8)
        if self._last_stroke_point is None:
            cv2.circle(canvas, here, self.brush_radius, 1, -1)
        else:
            cv2.line(canvas, self._last_stroke_point, here, 1, 2 * self.brush_radius + 1)
            cv2.circle(canvas, here, self.brush_radius, 1, -1)
        self._last_stroke_point = here
        color = (240, 240, 240) if self.tool == Tool.ERASER else (255, 200, 0)
        preview = Mask.from_array(self._stroke)
        self.stroke_item.setPixmap(QPixmap.fromImage(mask_image(preview.crop, color, 0.5)))
        self.stroke_item.setPos(preview.bbox[0], preview.bbox[1])

    def _show_lasso(self) -> None:
        assert self._lasso is not None
        path = QPainterPath(QPointF(*self._lasso[0]))
        for x, y in self._lasso[1:]:
            path.lineTo(x, y)
        self.lasso_item.setPath(path)

    def finish_lasso(self, points: list[tuple[float, float]], erase: bool = False) -> None:
        """Fill a freehand polygon (image points) and report it as a stroke (erase removes)."""
        if len(points) < 3:
            return
        area = np.zeros(self._image_size, np.uint8)
        cv2.fillPoly(area, [np.round(np.array(points)).astype(np.int32)], 1)
        self.stroke_finished.emit(area.astype(bool), erase)

    def paint_stroke(self, points: list[tuple[float, float]], erase: bool | None = None) -> None:
        """Paint a stroke through image points as the mouse would (erase: by default the tool's)."""
        self._stroke = np.zeros(self._image_size, bool)
        self._last_stroke_point = None
        for x, y in points:
            self._paint_to(QPointF(x, y))
        stroke, self._stroke = self._stroke, None
        self.stroke_item.setPixmap(QPixmap())
        self.stroke_finished.emit(stroke, self.tool == Tool.ERASER if erase is None else erase)
