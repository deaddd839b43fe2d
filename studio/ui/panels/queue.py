"""The queue panel: a live table of jobs with progress bars, Cancel and Re-queue."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.jobs.queue import Job, JobState
from studio.ui.panels.empty import EmptyState
from studio.ui.viewmodels import JobRole, ProgressRole, QueueModel

REQUEUEABLE = (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


class ProgressDelegate(QStyledItemDelegate):
    """Draws a job's progress as the platform's progress bar."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        value = index.data(ProgressRole)
        if not value:
            return
        step, total, state = value
        done = state == JobState.DONE.value
        ended = state in (JobState.FAILED.value, JobState.CANCELLED.value, JobState.INTERRUPTED.value)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.minimum, bar.maximum = 0, max(total, 1)
        bar.progress = max(total, 1) if done else min(step, max(total, 1))
        bar.text = str(state) if done or ended or not total else f"{step}/{total}"
        bar.textVisible = True
        bar.palette = option.palette
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class QueuePanel(QWidget):
    """Binds to a :class:`QueueModel`; ``cancel``/``requeue`` take a job id."""

    def __init__(
        self,
        model: QueueModel,
        cancel: Callable[[int], None],
        requeue: Callable[[int], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._cancel, self._requeue = cancel, requeue
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setItemDelegateForColumn(QueueModel.PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # Fixed widths, not ResizeToContents: that re-measures every row on every progress update.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        em = self.fontMetrics().horizontalAdvance("M")
        for column, width in ((0, 4), (1, 7), (3, 8), (QueueModel.PROGRESS_COLUMN, 9), (5, 18)):
            header.resizeSection(column, width * em)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the selected job (a running job stops at its next step).")
        self.requeue_button = QPushButton("Re-queue")
        self.requeue_button.setToolTip("Run the selected failed, cancelled or interrupted job again.")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.requeue_button.clicked.connect(self.requeue_selected)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.requeue_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.empty = EmptyState(
            "No jobs yet",
            "Every job you start is listed here with its progress. Failed, cancelled and "
            "interrupted jobs stay here and can be re-queued.",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        model.dataChanged.connect(self._update_buttons)
        model.rowsInserted.connect(self._scroll_to_new)
        model.modelReset.connect(self._update_buttons)
        model.rowsInserted.connect(self._update_empty)
        model.rowsRemoved.connect(self._update_empty)
        self._update_buttons()
        self._update_empty()

    def selected_job(self) -> Job | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(JobRole) if rows else None

    def select_job(self, job_id: int) -> None:
        row = self.model.row_of(job_id)
        if row >= 0:
            self.table.selectRow(row)

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is not None and not job.state.finished:
            self._cancel(job.id)

    def requeue_selected(self) -> None:
        job = self.selected_job()
        if job is not None and job.state in REQUEUEABLE:
            self._requeue(job.id)

    def _update_buttons(self, *_args: object) -> None:
        job = self.selected_job()
        self.cancel_button.setEnabled(job is not None and not job.state.finished)
        self.requeue_button.setEnabled(job is not None and job.state in REQUEUEABLE)

    def _update_empty(self, *_args: object) -> None:
        self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)

    def _scroll_to_new(self, _parent: QModelIndex, _first: int, last: int) -> None:
        self.table.scrollTo(self.model.index(last, 0))
