"""The scenario driver: whole user journeys through the real MainWindow, driven only as a person drives it.

A scenario starts the window the way `annotator PATH` does (`launch_window`), then acts only
through what a person touches: mouse and key events on the canvas viewport, clicks on buttons,
menu actions triggered as the menu triggers them, and answers to the dialogs that open. It checks
what the person sees (overlay pixels on the canvas, list rows, status, banner and dialog text) and
what lands on disk. No scenario calls a session, panel or window method to make something happen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QImage, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLineEdit,
    QMenu,
    QMessageBox,
    QWidget,
)

from annotator.sample import SHAPE_CENTRES, sample_scene
from annotator.views.main_window import MainWindow

SIZE = (540, 960)  # (height, width) of the generated images


def write_images(folder: Path, count: int, size: tuple[int, int] = SIZE, suffix: str = ".png") -> list[Path]:
    """Generated images (shapes near SHAPE_CENTRES) in `folder`: images nobody tuned anything on."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo_{index + 1:02d}{suffix}"
        cv2.imwrite(str(path), cv2.cvtColor(sample_scene(100 + index, size), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def shape_centre(index: int, size: tuple[int, int] = SIZE) -> tuple[float, float]:
    """(x, y) in image pixels of generated shape `index` (0..3)."""
    fx, fy = SHAPE_CENTRES[index]
    return fx * size[1], fy * size[0]


class User:
    """A person in front of the window: clicks, drags, keys, menus, buttons, dialogs."""

    def __init__(self, qtbot: Any, window: MainWindow) -> None:
        self.qtbot = qtbot
        self.window = window

    # -- looking ----------------------------------------------------------------------------------
    @property
    def canvas_view(self) -> QWidget:
        """The widget that receives the mouse on the canvas."""
        return self.window.canvas.viewport()

    def view_point(self, x: float, y: float) -> QPoint:
        """Where image pixel (x, y) is on the screen now (after zoom and pan)."""
        return self.window.canvas.mapFromScene(QPointF(x, y))

    def screenshot(self) -> QImage:
        """What the canvas shows right now."""
        return self.canvas_view.grab().toImage()

    def pixel(self, x: float, y: float) -> tuple[int, int, int]:
        """The colour on screen at image pixel (x, y)."""
        point = self.view_point(x, y)
        color = self.screenshot().pixelColor(point)
        return color.red(), color.green(), color.blue()

    def object_rows(self) -> list[str]:
        """The texts of the Objects list as the person reads them."""
        model = self.window.layer_view.model()
        return [model.index(row, 0).data() for row in range(model.rowCount())]

    def label_rows(self) -> list[str]:
        """The texts of the Labels list."""
        widget = self.window.labels_panel.list
        return [widget.item(row).text() for row in range(widget.count())]

    def status(self) -> str:
        """The status bar's message."""
        return self.window.statusBar().currentMessage()

    def banner(self) -> str:
        """The text of the message banner over the canvas ('' when hidden)."""
        banner = self.window.banner
        return banner.text()

    def wait(self, condition: Callable[[], Any], timeout: int = 10000) -> None:
        """Wait until `condition()` is true, as a person waits for the screen to change."""
        self.qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)

    def wait_ready(self) -> None:
        """Wait until the image on screen can be clicked (the busy indicator is gone)."""
        self.wait(lambda: self.window.session.key in self.window.session.embedded_keys)

    def wait_idle(self, timeout: int = 15000) -> None:
        """Wait until every click made so far has its mask on screen (nothing pending)."""
        self.qtbot.wait(50)
        self.wait(lambda: self.window.session.pending_count == 0, timeout)

    # -- mouse ------------------------------------------------------------------------------------
    def click(
        self, x: float, y: float, button: Qt.MouseButton = Qt.MouseButton.LeftButton, modifiers: Any = None
    ) -> None:
        """Click image pixel (x, y) on the canvas."""
        modifiers = modifiers or Qt.KeyboardModifier.NoModifier
        QTest.mouseClick(self.canvas_view, button, modifiers, self.view_point(x, y))

    def _send(self, kind: QEvent.Type, point: QPoint, button: Qt.MouseButton, buttons: Any) -> None:
        global_point = self.canvas_view.mapToGlobal(point)
        event = QMouseEvent(
            kind, QPointF(point), QPointF(global_point), button, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(self.canvas_view, event)

    def drag(
        self,
        points: list[tuple[float, float]],
        button: Qt.MouseButton = Qt.MouseButton.LeftButton,
        in_view: bool = False,
    ) -> None:
        """Press at the first point, move through the others, release at the last (image pixels, or
        viewport pixels with `in_view`)."""
        where = [QPoint(int(x), int(y)) if in_view else self.view_point(x, y) for x, y in points]
        self._send(QEvent.Type.MouseButtonPress, where[0], button, button)
        for point in where[1:]:
            self._send(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, button)
            QApplication.processEvents()
        self._send(QEvent.Type.MouseButtonRelease, where[-1], button, Qt.MouseButton.NoButton)
        QApplication.processEvents()

    def hover(self, x: float, y: float) -> None:
        """Move the pointer over image pixel (x, y) with no button down."""
        self._send(QEvent.Type.MouseMove, self.view_point(x, y), Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)

    def wheel(self, x: float, y: float, notches: int) -> None:
        """Turn the wheel over viewport pixel (x, y)."""
        from PySide6.QtGui import QWheelEvent

        point = QPointF(x, y)
        event = QWheelEvent(
            point,
            QPointF(self.canvas_view.mapToGlobal(point.toPoint())),
            QPoint(0, 0),
            QPoint(0, 120 * notches),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(self.canvas_view, event)
        QApplication.processEvents()

    # -- keyboard -----------------------------------------------------------------------------------
    def key(self, key: Qt.Key, modifiers: Any = None, widget: QWidget | None = None) -> None:
        """Press and release a key where the keyboard focus is (or on `widget`)."""
        target = widget or QApplication.focusWidget() or self.window
        if target.window() is self.window and QApplication.activeWindow() is not self.window:
            self.window.activateWindow()  # back from a dialog: the window has the keyboard again
            self.wait(lambda: QApplication.activeWindow() is self.window, 3000)
        QTest.keyClick(target, key, modifiers or Qt.KeyboardModifier.NoModifier)
        QApplication.processEvents()

    def type_text(self, text: str, widget: QWidget | None = None) -> None:
        """Type `text` where the keyboard focus is."""
        QTest.keyClicks(widget or QApplication.focusWidget() or self.window, text)

    # -- menus, buttons, dialogs --------------------------------------------------------------------
    def menu_action(self, menu: str, text: str) -> QAction:
        """The action called `text` (without '&' and '…') in the menu bar's menu `menu`."""
        for bar_action in self.window.menuBar().actions():
            if bar_action.text().replace("&", "") == menu:
                qmenu: QMenu = bar_action.menu()  # type: ignore[assignment]
                for action in qmenu.actions():
                    if action.text().replace("&", "").rstrip("…").startswith(text):
                        return action
        raise AssertionError(f"no menu entry {menu} > {text}")

    def choose_menu(self, menu: str, text: str) -> None:
        """Pick an entry of the menu bar, as clicking it in the open menu does."""
        action = self.menu_action(menu, text)
        assert action.isEnabled(), f"{menu} > {text} is disabled"
        action.trigger()
        QApplication.processEvents()

    def button(self, text: str, parent: QWidget | None = None) -> QAbstractButton:
        """The visible button labelled `text` (or with that tool tip) inside `parent` (the window)."""
        for button in (parent or self.window).findChildren(QAbstractButton):
            if button.isVisible() and text in (button.text().replace("&", ""), button.toolTip()):
                return button
        raise AssertionError(f"no visible button {text!r}")

    def press(self, text: str, parent: QWidget | None = None) -> None:
        """Click a button with the mouse."""
        button = self.button(text, parent)
        assert button.isEnabled(), f"button {text!r} is disabled"
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        QApplication.processEvents()

    def answer_next_dialog(self, answer: Callable[[QWidget], None], timeout_ms: int = 5000) -> list[str]:
        """When the next modal dialog opens, let `answer(dialog)` fill it in; returns its texts once seen."""
        seen: list[str] = []
        waited = [0]

        def poll() -> None:
            dialog = QApplication.activeModalWidget()
            if dialog is None:
                waited[0] += 20
                if waited[0] < timeout_ms:
                    QTimer.singleShot(20, poll)
                return
            seen.append(_dialog_text(dialog))
            answer(dialog)

        QTimer.singleShot(0, poll)
        return seen


def _dialog_text(dialog: QWidget) -> str:
    if isinstance(dialog, QMessageBox):
        return dialog.text()
    if isinstance(dialog, QInputDialog):
        return dialog.labelText()
    return dialog.windowTitle()


def type_and_accept(text: str) -> Callable[[QWidget], None]:
    """A dialog answer: type `text` into the input dialog's field and click OK."""

    def answer(dialog: QWidget) -> None:
        assert isinstance(dialog, QInputDialog), f"expected an input dialog, got {dialog!r}"
        field = dialog.findChild(QLineEdit)
        field.clear()
        QTest.keyClicks(field, text)
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)

    return answer


def accept(dialog: QWidget) -> None:
    """A dialog answer: press OK / Yes (Enter)."""
    if isinstance(dialog, QMessageBox):
        (dialog.button(QMessageBox.StandardButton.Yes) or dialog.defaultButton() or dialog.buttons()[0]).click()
    elif isinstance(dialog, QDialog):
        dialog.accept()


def overlay_colour_at(user: User, x: float, y: float, image: np.ndarray) -> bool:
    """True when the screen at (x, y) differs from the bare image there (an overlay is drawn)."""
    shown = np.array(user.pixel(x, y), float)
    return float(np.abs(shown - image[int(y), int(x)].astype(float)).max()) > 20


def write_moving_video(path: Path, frames: int = 12, size: tuple[int, int] = (240, 320)) -> None:
    """An H.264 clip of a red disc moving right over a generated background, 4 px a frame."""
    import av

    height, width = size
    background = sample_scene(7, size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = background.copy()
            cv2.circle(frame, (80 + 4 * index, height // 2), 40, (220, 30, 30), -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def disc_centre(index: int, size: tuple[int, int] = (240, 320)) -> tuple[float, float]:
    """(x, y) of the disc of `write_moving_video` on frame `index`."""
    return 80.0 + 4 * index, size[0] / 2


def choose(combo: Any, text: str) -> None:
    """Pick `text` in a combo box as a person does: open its list, move to the entry, press Enter."""
    index = combo.findText(text)
    assert index >= 0, f"{text!r} is not offered"
    combo.setFocus()
    combo.showPopup()
    view = combo.view()
    view.setCurrentIndex(combo.model().index(index, 0))
    QTest.keyClick(view, Qt.Key.Key_Return)
    QApplication.processEvents()
