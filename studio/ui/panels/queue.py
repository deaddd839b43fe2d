"""The queue panel: a live table of jobs with progress bars; Pause, Resume, Cancel and Run again.

The jobs other processes run (``studio train …`` in a terminal) are rows here too: the window
polls the queue database for them, and the same buttons pause, resume or cancel them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QMenu,
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


def resumes_from_checkpoint(job: Job) -> bool:
    """A training job re-queued continues from its run folder's checkpoints ("Resume")."""
    return job.request.kind == "train"


def can_pause(job: Job | None) -> bool:
    return job is not None and job.state is JobState.RUNNING


def can_resume(job: Job | None) -> bool:
    """A paused job, or an ended training job (it continues from its checkpoints)."""
    if job is None:
        return False
    return job.state is JobState.PAUSED or (job.state in REQUEUEABLE and resumes_from_checkpoint(job))


def can_cancel(job: Job | None) -> bool:
    return job is not None and not job.state.finished


def can_run_again(job: Job | None) -> bool:
    return job is not None and job.state in REQUEUEABLE and not resumes_from_checkpoint(job)


ENDED = (JobState.FAILED.value, JobState.CANCELLED.value, JobState.INTERRUPTED.value)


def progress_bar(option: QStyleOptionViewItem, step: int, total: int, state: str) -> QStyleOptionProgressBar | None:
    """The bar a job's Progress cell shows; None for a job that ended early (the cell then shows
    where it stopped as plain text, and the State column says why: no word drawn over a bar)."""
    if state in ENDED:
        return None
    done = state == JobState.DONE.value
    bar = QStyleOptionProgressBar()
    bar.rect = option.rect.adjusted(2, 3, -2, -3)
    bar.state = option.state | QStyle.StateFlag.State_Horizontal
    bar.minimum, bar.maximum = 0, max(total, 1)
    bar.progress = max(total, 1) if done else min(step, max(total, 1))
    bar.text = f"{step}/{total}" if total and not done else ""
    bar.textVisible = bool(bar.text)  # "done" needs no words: the bar is full and State says it
    if state == JobState.PAUSED.value:  # greyed where it stopped (the State column says "paused")
        bar.state &= ~QStyle.StateFlag.State_Enabled
    bar.palette = option.palette
    return bar


class ProgressDelegate(QStyledItemDelegate):
    """Draws a job's progress as the platform's progress bar."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        value = index.data(ProgressRole)
        if not value:
            return
        bar = progress_bar(option, *value)
        if bar is None:
            super().paint(painter, option, index)  # "3/20", elided to the cell like any text
            return
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class QueuePanel(QWidget):
    """Binds to a :class:`QueueModel`; ``cancel``/``requeue``/``pause``/``resume`` take a job id.
    ``use_settings`` is emitted with a job whose request the user wants in its panel."""

    use_settings = Signal(object)  # Job

    def __init__(
        self,
        model: QueueModel,
        cancel: Callable[[int], None],
        requeue: Callable[[int], None],
        pause: Callable[[int], None] | None = None,
        resume: Callable[[int], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._cancel, self._requeue = cancel, requeue
        self._pause, self._resume = pause, resume
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
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Hold the running job at its next step; Resume continues it.")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the paused job (or an ended training run, from its checkpoints).")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the selected job (a running job stops at its next step).")
        self.requeue_button = QPushButton("Run again")
        self.requeue_button.setToolTip("Queue the selected failed, cancelled or interrupted job again.")
        self.pause_button.clicked.connect(self.pause_selected)
        self.resume_button.clicked.connect(self.resume_selected)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.requeue_button.clicked.connect(self.requeue_selected)
        self.pause_button.setVisible(pause is not None)
        self.resume_button.setVisible(resume is not None)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.pause_button, self.resume_button, self.cancel_button, self.requeue_button):
            buttons.addWidget(button)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.empty = EmptyState(
            "No jobs yet",
            "Every job you start is listed here with its progress, and so are the jobs you start in a "
            "terminal (studio train …). Running jobs can be paused; failed, cancelled and interrupted "
            "jobs stay here and can be run again.",
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
        if can_cancel(job):
            self._cancel(job.id)  # type: ignore[union-attr]

    def requeue_selected(self) -> None:
        """Queue the selected ended job again (a training job resumes from its checkpoints)."""
        job = self.selected_job()
        if job is not None and job.state in REQUEUEABLE:
            self._requeue(job.id)

    def pause_selected(self) -> None:
        job = self.selected_job()
        if can_pause(job) and self._pause is not None:
            self._pause(job.id)  # type: ignore[union-attr]

    def resume_selected(self) -> None:
        job = self.selected_job()
        if job is None or not can_resume(job):
            return
        if job.state is JobState.PAUSED:
            if self._resume is not None:
                self._resume(job.id)
        else:
            self._requeue(job.id)

    def _update_buttons(self, *_args: object) -> None:
        job = self.selected_job()
        self.pause_button.setEnabled(can_pause(job))
        self.resume_button.setEnabled(can_resume(job))
        self.cancel_button.setEnabled(can_cancel(job))
        self.requeue_button.setEnabled(can_run_again(job))

    def context_menu(self, job: Job | None) -> QMenu:
        """The actions for ``job`` (the row under the pointer), enabled by its state."""
        menu = QMenu(self)
        for text, slot, enabled in (
            ("Pause", self.pause_selected, can_pause(job) and self._pause is not None),
            ("Resume", self.resume_selected, can_resume(job)),
            ("Cancel", self.cancel_selected, can_cancel(job)),
            ("Run again", self.requeue_selected, can_run_again(job)),
        ):
            menu.addAction(text, slot).setEnabled(enabled)
        menu.addSeparator()
        use = menu.addAction("Use these settings", lambda: job is not None and self.use_settings.emit(job))
        use.setEnabled(job is not None and job.request.kind in ("generate", "text"))
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid():
            self.table.selectRow(index.row())
        menu = self.context_menu(self.selected_job() if index.isValid() else None)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _update_empty(self, *_args: object) -> None:
        self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)

    def _scroll_to_new(self, _parent: QModelIndex, _first: int, last: int) -> None:
        self.table.scrollTo(self.model.index(last, 0))
