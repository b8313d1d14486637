"""MessageBanner: a problem shown over the canvas until the user dismisses it or moves on."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton


class MessageBanner(QFrame):
    """One line of warning text with a close button; hidden when there is nothing to say."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("MessageBanner")
        self.setStyleSheet(
            "#MessageBanner { background: #5a2a1e; border-bottom: 1px solid #a0462c; }"
            " QLabel { color: #ffe9e0; padding: 4px; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.history: list[str] = []
        self.hide()

    def show_message(self, text: str) -> None:
        """Show `text` (several problems in a row are listed, newest last, up to five)."""
        self.history.append(text)
        shown = [] if self.isHidden() else self.label.text().split("\n")
        self.label.setText("\n".join([*shown, text][-5:]))
        self.show()

    def text(self) -> str:
        """What the banner says now ('' when hidden)."""
        return "" if self.isHidden() else self.label.text()

    def dismiss(self) -> None:
        """Hide the banner (the user read it, or moved on)."""
        self.label.clear()
        self.hide()
