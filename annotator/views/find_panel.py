"""Find panel: find a phrase, picked labels or exemplar boxes on the image on screen (or from the frame
on screen through the whole video), or segment everything, then review the proposals (threshold,
accept, reject) with the ReviewController."""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from annotator.document.model import Proposal
from annotator.views.canvas import Tool
from annotator.views.review import ReviewController
from annotator.views.review_video import run_find_video, why_not_video

Index = QModelIndex | QPersistentModelIndex
ProposalIdRole = Qt.ItemDataRole.UserRole + 1


class ProposalListModel(QAbstractListModel):
    """Rows = the proposals shown on the canvas (above the threshold), best first; read from the
    controller on every change it announces, never copied."""

    def __init__(self, review: ReviewController) -> None:
        super().__init__()
        self.review = review
        self._rows: list[Proposal] = []  # the controller's `shown()`, re-read on `shown_changed`
        self._frames: Counter[int] = Counter()  # group id -> frames its instance spans (proposals of the group)
        review.shown_changed.connect(self.reload)

    def reload(self) -> None:
        """Re-read the shown proposals (they, the threshold or the image changed)."""
        rows = self.review.shown()
        project, item = self.review.project, self.review.window.session.item
        frames: Counter[int] = Counter()
        if project is not None and item is not None and any(p.group_id is not None for p in rows):
            frames = Counter(p.group_id for p in project.proposals(item.id) if p.group_id is not None)
        if [p.id for p in rows] != [p.id for p in self._rows] or frames != self._frames:
            self.beginResetModel()
            self._rows, self._frames = rows, frames
            self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        """Number of proposals shown."""
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """'0.93  dog  (812 px)' (score, phrase or 'region', area; for an instance tracked through the
        video, '· 42 frames': how many frames it spans), and the proposal id."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        proposal = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            text = f"{proposal.score:.2f}  {proposal.phrase or 'region'}  ({proposal.mask.area} px)"
            if proposal.group_id is not None:
                count = self._frames[proposal.group_id]
                text += f"  · {count} frame{'s' if count != 1 else ''}"
            return text
        if role == ProposalIdRole:
            return proposal.id
        return None

    def proposal_at(self, row: int) -> Proposal | None:
        """The proposal on a row, or None."""
        return self._rows[row] if 0 <= row < len(self._rows) else None


class FindPanel(QWidget):
    """Phrase, labels, exemplar boxes, Find and Everything; then the proposals with their scores."""

    def __init__(self, review: ReviewController) -> None:
        super().__init__()
        self.review = review
        self.phrase = QLineEdit()
        self.phrase.setPlaceholderText("a phrase, e.g. yellow school bus")
        self.phrase.returnPressed.connect(self.find)
        self.labels = QListWidget()
        self.labels.setMaximumHeight(90)
        self.labels.setToolTip("Tick labels to find each of them as a phrase; accepted objects get that label")
        self.positive_box = QPushButton("+ Box")
        self.negative_box = QPushButton("− Box")
        for button, positive in ((self.positive_box, True), (self.negative_box, False)):
            button.setCheckable(True)
            button.clicked.connect(lambda _checked=False, p=positive: self._draw_exemplars(p))
        self.positive_box.setToolTip("Drag boxes on instances of what to find (Shift or right drag: not this)")
        self.negative_box.setToolTip("Drag boxes on things that are not what to find")
        self.clear_boxes = QPushButton("Clear Boxes")
        self.clear_boxes.clicked.connect(review.clear_exemplars)
        self.find_button = QPushButton("Find")
        self.find_button.clicked.connect(self.find)
        self.video_button = QPushButton("Through the Video")
        self.video_button.clicked.connect(self.find_through_video)
        self.density = QSpinBox()
        self.density.setRange(4, 64)
        self.density.setValue(32)
        self.density.setToolTip("Points per side of the grid that Everything samples (denser: more, smaller regions)")
        self.everything_button = QPushButton("Everything")
        self.everything_button.clicked.connect(self.everything)
        self.cancel_button = QPushButton("Cancel Run")
        self.cancel_button.clicked.connect(review.cancel)
        self.progress = QProgressBar()
        self.why = QLabel("")
        self.why.setWordWrap(True)
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setToolTip("Hide proposals scoring below this")
        self.threshold.valueChanged.connect(lambda value: review.set_threshold(value / 100.0))
        self.threshold_label = QLabel("")
        self.model = ProposalListModel(review)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self.accept_button = QPushButton("Accept")
        self.reject_button = QPushButton("Reject")
        self.accept_all_button = QPushButton("Accept All")
        self.reject_rest_button = QPushButton("Reject Rest")
        self.accept_button.clicked.connect(lambda: review.accept(self.selected_ids()))
        self.reject_button.clicked.connect(lambda: review.reject(self.selected_ids()))
        self.accept_all_button.clicked.connect(review.accept_shown)
        self.reject_rest_button.clicked.connect(review.reject_rest)
        self.accept_all_button.setToolTip("Accept every proposal shown (above the threshold) as objects")
        self.reject_rest_button.setToolTip("Reject every proposal still waiting here, hidden ones too")
        self._layout()
        review.running_changed.connect(self._running_changed)
        review.progressed.connect(self._progressed)
        review.shown_changed.connect(self._update_counts)
        review.shown_changed.connect(self.update_offers)  # also after a change of item: a video or not
        self._running_changed(False)
        self.update_offers()

    def _layout(self) -> None:
        find = QGroupBox("Search")  # the dock is titled Find already
        form = QFormLayout(find)
        form.addRow("Phrase", self.phrase)
        form.addRow("Labels", self.labels)
        boxes = QHBoxLayout()
        for button in (self.positive_box, self.negative_box, self.clear_boxes):
            boxes.addWidget(button)
        form.addRow("Exemplars", boxes)
        find_row = QHBoxLayout()
        find_row.addWidget(self.find_button, 1)
        find_row.addWidget(self.video_button, 1)
        form.addRow(find_row)
        everything = QHBoxLayout()
        everything.addWidget(QLabel("Grid"))
        everything.addWidget(self.density)
        everything.addWidget(self.everything_button)
        form.addRow(everything)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        form.addRow(running)
        form.addRow(self.why)
        review = QGroupBox("Proposals")
        column = QVBoxLayout(review)
        slider = QHBoxLayout()
        slider.addWidget(QLabel("Score ≥"))
        slider.addWidget(self.threshold, 1)
        column.addLayout(slider)
        column.addWidget(self.threshold_label)
        column.addWidget(self.list, 1)
        one = QHBoxLayout()
        one.addWidget(self.accept_button)
        one.addWidget(self.reject_button)
        many = QHBoxLayout()
        many.addWidget(self.accept_all_button)
        many.addWidget(self.reject_rest_button)
        column.addLayout(one)
        column.addLayout(many)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(find)
        layout.addWidget(review, 1)

    # -- what the engine offers --------------------------------------------------------------------
    def update_offers(self) -> None:
        """Offer Find and Everything only where the loaded engine has them, and say why not."""
        find_reason, everything_reason = self.review.why_not("find"), self.review.why_not("everything")
        idle = not self.review.running
        for widget in (self.find_button, self.phrase, self.labels, self.positive_box, self.negative_box):
            widget.setEnabled(idle and not find_reason)
        self.find_button.setToolTip(find_reason or "Find every instance of the phrase, labels or exemplars here")
        video_reason = why_not_video(self.review)
        self.video_button.setEnabled(idle and not video_reason)
        self.video_button.setToolTip(
            video_reason or "Find them on this frame and track every instance through the whole video, both ways"
        )
        self.everything_button.setEnabled(idle and not everything_reason)
        self.density.setEnabled(idle and not everything_reason)
        self.everything_button.setToolTip(everything_reason or "Propose every object region of the image")
        reasons = [r for r in (find_reason, everything_reason) if r]
        self.why.setText("; ".join(dict.fromkeys(reasons)))

    def set_labels(self, labels: list[Any]) -> None:
        """Offer the project's labels as phrases (kept ticked by id across updates)."""
        ticked = set(self.ticked_labels())
        self.labels.clear()
        for label in labels:
            entry = QListWidgetItem(label.name)
            entry.setData(Qt.ItemDataRole.UserRole, label.id)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(Qt.CheckState.Checked if label.id in ticked else Qt.CheckState.Unchecked)
            self.labels.addItem(entry)

    def ticked_labels(self) -> list[int]:
        """Ids of the labels ticked."""
        entries = (self.labels.item(row) for row in range(self.labels.count()))
        return [int(e.data(Qt.ItemDataRole.UserRole)) for e in entries if e.checkState() == Qt.CheckState.Checked]

    # -- actions -----------------------------------------------------------------------------------
    def _draw_exemplars(self, positive: bool) -> None:
        canvas = self.review.window.canvas
        on = (self.positive_box if positive else self.negative_box).isChecked()
        (self.negative_box if positive else self.positive_box).setChecked(False)
        canvas.set_tool(Tool.EXEMPLAR if on else Tool.POINT)
        canvas._exemplar_positive = positive  # a plain left drag then draws this kind
        if not on:
            self.review.window.actions["tool_point"].setChecked(True)

    def phrases(self) -> list[tuple[str, int | None]]:
        """(phrase, label id) for the typed phrase (its label when one has that name) and each ticked label."""
        project = self.review.project
        phrases: list[tuple[str, int | None]] = []
        text = self.phrase.text().strip()
        if text:
            label = project.label_by_name(text) if project else None
            phrases.append((text, label.id if label else None))
        if project is not None:
            phrases += [(project.label(i).name, i) for i in self.ticked_labels()]
        return phrases

    def find(self) -> None:
        """Run Find with the phrase, the ticked labels and the exemplar boxes."""
        self.review.run_find(self.phrases(), list(self.review.exemplars))

    def find_through_video(self) -> None:
        """Run Find from the frame on screen through the whole video (groups of proposals)."""
        run_find_video(self.review, self.phrases(), list(self.review.exemplars))

    def everything(self) -> None:
        """Run Everything with the chosen grid density."""
        self.review.run_everything(self.density.value())

    def selected_ids(self) -> list[int]:
        """Ids of the proposals selected in the list (else the highlighted one)."""
        rows = sorted(index.row() for index in self.list.selectionModel().selectedRows())
        ids = [p.id for p in (self.model.proposal_at(row) for row in rows) if p is not None]
        if not ids and self.review.highlighted is not None:
            ids = [self.review.highlighted]
        return ids

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        proposal = self.model.proposal_at(current.row()) if current.isValid() else None
        wanted = None if proposal is None else proposal.id
        if wanted != self.review.highlighted:
            self.review.highlight(wanted)

    def _running_changed(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        self.update_offers()

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)  # total 0: a busy bar until the engine reports
        self.progress.setValue(done)

    def _update_counts(self) -> None:
        shown, here = len(self.review.shown()), len(self.review.here())
        threshold = self.review.threshold
        self.threshold_label.setText(f"{shown} of {here} shown (score ≥ {threshold:.2f})" if here else "none here")
        for button in (self.accept_all_button, self.accept_button, self.reject_button):
            button.setEnabled(shown > 0)
        self.reject_rest_button.setEnabled(here > 0)
