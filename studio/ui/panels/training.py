"""The Training monitor dock: a run's loss and learning-rate curves, figures, samples, log and controls.

Besides the loss, every part of it a run logs (a ``loss_<name>`` metric: a GAN's generator and
discriminator, a VAE's reconstruction and KL) is drawn in the Loss plot as its own curve, named
``<name>`` in the legend.

Bound to a :class:`~studio.ui.training_model.TrainingViewModel`. The plots (pyqtgraph) are built the
first time the dock is shown: importing pyqtgraph costs a third of a second the window's first paint
does not pay. Curves are redrawn when the view-model says they changed (at most four times a
second) and only while the dock is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.jobs.queue import Job
from studio.ui.panels.empty import EmptyState
from studio.ui.training_model import TrainingViewModel
from studio.ui.training_runs import ema, format_duration, format_memory, format_rate

LOSS_PEN = (120, 160, 220)
EMA_PEN = (230, 120, 40)
COMPARE_PEN = (90, 190, 110)
LR_PEN = (170, 110, 210)
LEGEND_TWO_COLUMNS_PX = 320  # a Loss plot at least this wide lists its legend in two columns
PART_PENS = ((215, 60, 90), (30, 165, 160), (200, 160, 30), (120, 120, 120), (140, 90, 50), (90, 110, 240))


class SampleView(QWidget):
    """A picture scaled to fit, centred, sharp pixels kept sharp (small samples are upscaled)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.setMinimumSize(80, 80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(200, 200)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self.image is None or self.image.isNull():
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Samples appear here\nevery N steps")
            return
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                        size.width(), size.height())
        upscale = size.width() >= 2 * self.image.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not upscale)
        painter.drawImage(target, self.image)


class _CurrentPageStack(QStackedWidget):
    """A stack as large as its current page (Qt's asks for its largest page: the empty state would
    be as wide as the monitor's figures)."""

    def sizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.sizeHint() if current is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.minimumSizeHint() if current is not None else super().minimumSizeHint()


class TrainingMonitor(QWidget):
    """The dock's widget. ``pause``/``resume``/``cancel``/``requeue`` take a job id; ``use_lora``
    takes a LoRA file; ``fine_tune`` opens the dialog that starts a run."""

    def __init__(
        self,
        model: TrainingViewModel,
        pause: Callable[[int], None],
        resume: Callable[[int], None],
        cancel: Callable[[int], None],
        requeue: Callable[[int], Job | None],
        use_lora: Callable[[str], None],
        fine_tune: Callable[[], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._pause, self._resume, self._cancel, self._requeue = pause, resume, cancel, requeue
        self._use_lora, self._fine_tune = use_lora, fine_tune
        self.loss_plot: Any = None  # pyqtgraph PlotWidgets, built when first shown
        self.lr_plot: Any = None
        self.loss_curve: Any = None
        self.ema_curve: Any = None
        self.compare_curve: Any = None
        self.lr_curve: Any = None
        self.part_curves: dict[str, Any] = {}  # loss part name → its curve in the Loss plot

        # top bar: which run, compare with, start one
        self.runs_box = QComboBox()
        self.runs_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.runs_box.setMinimumContentsLength(14)  # the dock fits a 1024 px window
        self.runs_box.setToolTip("Training runs (folders under STUDIO_HOME/runs): choose one to see it")
        self.runs_box.activated.connect(self._run_chosen)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("Look for runs again")
        self.refresh_button.clicked.connect(model.refresh_runs)
        self.compare_box = QComboBox()
        self.compare_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_box.setMinimumContentsLength(8)
        self.compare_box.setToolTip("Overlay another run's loss curve")
        self.compare_box.activated.connect(self._compare_chosen)
        self.fine_tune_button = QPushButton("Fine-tune (LoRA)…")
        self.fine_tune_button.clicked.connect(lambda: self._fine_tune())
        top = QGridLayout()  # two rows: the dock stays usable beside the queue in a 1024 px window
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Run"), 0, 0)
        top.addWidget(self.runs_box, 0, 1)
        top.addWidget(self.refresh_button, 0, 2)
        top.addWidget(self.fine_tune_button, 0, 3)
        top.addWidget(QLabel("Compare with"), 1, 0)
        top.addWidget(self.compare_box, 1, 1)
        top.setColumnStretch(1, 1)

        # figures and controls
        self.state_label = QLabel("No run")
        font = self.state_label.font()
        font.setBold(True)
        self.state_label.setFont(font)
        self.state_label.setWordWrap(True)  # "lora-my-product-shots: interrupted" in a narrow column
        self.step_label = QLabel("—")
        self.epoch_label = QLabel("—")
        self.loss_label = QLabel("—")
        self.speed_label = QLabel("—")
        self.lr_label = QLabel("—")
        self.eta_label = QLabel("—")
        self.memory_label = QLabel("—")
        figures = QFormLayout()
        figures.setContentsMargins(0, 0, 0, 0)
        figures.setVerticalSpacing(2)
        for title, label in (("Step", self.step_label), ("Epoch", self.epoch_label), ("Loss", self.loss_label),
                             ("Learning rate", self.lr_label),
                             ("Speed", self.speed_label), ("ETA", self.eta_label), ("Memory", self.memory_label)):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            figures.addRow(title, label)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._pause_clicked)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self._resume_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        self.resume_run_button = QPushButton("Resume run")
        self.resume_run_button.setToolTip("Queue this run again: it continues from its last checkpoint")
        self.resume_run_button.clicked.connect(self._resume_run_clicked)
        self.use_button = QPushButton("Use in prompt panel")
        self.use_button.setToolTip("Add the LoRA this run wrote to the prompt panel's LoRAs")
        self.use_button.clicked.connect(self._use_clicked)
        buttons = QGridLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.pause_button, 0, 0)
        buttons.addWidget(self.resume_button, 0, 1)
        buttons.addWidget(self.cancel_button, 1, 0)
        buttons.addWidget(self.resume_run_button, 1, 1)
        buttons.addWidget(self.use_button, 2, 0, 1, 2)
        info = QWidget()
        info_layout = QVBoxLayout(info)
        info_layout.setContentsMargins(0, 0, 0, 0)
        info_layout.addWidget(self.state_label)
        info_layout.addLayout(figures)
        info_layout.addStretch(1)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(1000)
        self.log_view.setPlaceholderText("The run's log: checkpoints, samples, resumes, skipped files")
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.log_view.setMinimumHeight(40)
        info_scroll = QScrollArea()  # a short dock scrolls the figures instead of growing the window
        info_scroll.setWidget(info)
        info_scroll.setWidgetResizable(True)
        info_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        info_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        info_scroll.setMinimumHeight(60)
        info_split = QSplitter(Qt.Orientation.Vertical)
        info_split.addWidget(info_scroll)
        info_split.addWidget(self.log_view)
        info_split.setChildrenCollapsible(False)
        info_split.setStretchFactor(0, 0)  # the figures keep their height; the log takes what is left
        info_split.setStretchFactor(1, 1)
        info_split.setSizes([info.sizeHint().height(), 60])
        left = QWidget()  # the buttons stay in sight however short the dock is
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(buttons)
        left_layout.addWidget(info_split, 1)

        # plots (filled in when first shown)
        self.plots = QSplitter(Qt.Orientation.Vertical)  # loss above learning rate: a narrow dock fits
        self.plots.setChildrenCollapsible(False)
        self.plot_placeholder = QLabel("Loss and learning-rate curves appear here.")
        self.plot_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_placeholder.setWordWrap(True)
        self.plot_placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.plots.addWidget(self.plot_placeholder)

        # samples
        self.sample_view = SampleView()
        self.sample_label = QLabel("No sample yet")
        self.sample_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample_label.setWordWrap(True)  # "Step 1200 · 3 min ago" wraps in a narrow dock
        self.earlier_button = QToolButton()
        self.earlier_button.setText("◀")
        self.earlier_button.setToolTip("An earlier sample")
        self.earlier_button.clicked.connect(lambda: model.show_sample(-1))
        self.later_button = QToolButton()
        self.later_button.setText("▶")
        self.later_button.setToolTip("A later sample")
        self.later_button.clicked.connect(lambda: model.show_sample(+1))
        nav = QHBoxLayout()
        nav.addWidget(self.earlier_button)
        nav.addWidget(self.sample_label, 1)
        nav.addWidget(self.later_button)
        samples = QWidget()
        samples_layout = QVBoxLayout(samples)
        samples_layout.setContentsMargins(0, 0, 0, 0)
        samples_layout.addWidget(self.sample_view, 1)
        samples_layout.addLayout(nav)

        self.body = QSplitter(Qt.Orientation.Horizontal)
        self.body.addWidget(left)
        self.body.addWidget(self.plots)
        self.body.addWidget(samples)
        self.body.setStretchFactor(0, 0)
        self.body.setStretchFactor(1, 3)
        self.body.setStretchFactor(2, 1)
        self.body.setSizes([250, 560, 330])
        self.body.setChildrenCollapsible(False)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(4, 4, 4, 4)
        content_layout.addLayout(top)
        content_layout.addWidget(self.body, 1)

        # no run yet: say what will appear, and how to start one
        self.empty = EmptyState(
            "No training run",
            "Fine-tune a model on your own images: its loss curve, sample images and log will appear "
            "here while it runs, and finished runs can be opened again.",
        )
        self.empty_fine_tune = QPushButton("Fine-tune (LoRA)…")
        self.empty_fine_tune.clicked.connect(lambda: self._fine_tune())
        empty_row = QHBoxLayout()
        empty_row.addStretch(1)
        empty_row.addWidget(self.empty_fine_tune)
        empty_row.addStretch(1)
        empty_page = QWidget()
        empty_layout = QVBoxLayout(empty_page)
        empty_layout.addWidget(self.empty, 1)
        empty_layout.addLayout(empty_row)
        empty_layout.addStretch(1)
        self.stack = _CurrentPageStack()
        self.stack.addWidget(empty_page)
        self.stack.addWidget(content)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        model.run_changed.connect(self._run_changed)
        model.curves_changed.connect(self._draw_curves)
        model.compare_changed.connect(self._draw_compare)
        model.stats_changed.connect(self._show_stats)
        model.sample_changed.connect(self._show_sample)
        model.log_added.connect(self.log_view.appendPlainText)
        model.job_changed.connect(self._update_buttons)
        model.runs_changed.connect(self._fill_runs)
        self._fill_runs()
        self._update_buttons()

    # -- plots ---------------------------------------------------------------------------------
    @property
    def has_plots(self) -> bool:
        return self.loss_plot is not None

    def _show_page(self) -> None:
        showing = bool(self.model.run_dir or self.model.runs)
        self.stack.setCurrentWidget(self.content if showing else self.stack.widget(0))
        self.stack.updateGeometry()  # its size follows the page shown
        if showing and self.isVisible():
            self.ensure_plots()

    def ensure_plots(self) -> None:
        """Build the pyqtgraph plots (first import of pyqtgraph: ~0.3 s, once)."""
        if self.loss_plot is not None:
            return
        import pyqtgraph as pg

        before = set(QApplication.topLevelWidgets())
        pg.setConfigOptions(antialias=False, background=self.palette().color(QPalette.ColorRole.Base),
                            foreground=self.palette().color(QPalette.ColorRole.Text))
        self.loss_plot = pg.PlotWidget(title="Loss")
        # rows close together; two columns once the plot is wide enough (_fit_legend)
        self.loss_plot.addLegend(offset=(-8, 8), labelTextSize="8pt", verSpacing=-6)
        self.loss_plot.installEventFilter(self)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.25)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(LOSS_PEN, width=1), name="loss")
        self.ema_curve = self.loss_plot.plot([], [], pen=pg.mkPen(EMA_PEN, width=2), name="smoothed (EMA)")
        self.compare_curve = self.loss_plot.plot([], [], pen=pg.mkPen(COMPARE_PEN, width=2,
                                                                      style=Qt.PenStyle.DashLine))
        self.lr_plot = pg.PlotWidget(title="Learning rate")
        self.lr_plot.showGrid(x=True, y=True, alpha=0.25)
        self.lr_plot.setLabel("bottom", "step")
        self.lr_plot.getAxis("left").enableAutoSIPrefix(False)
        self.lr_curve = self.lr_plot.plot([], [], pen=pg.mkPen(LR_PEN, width=2))
        for plot in (self.loss_plot, self.lr_plot):
            plot.setMouseEnabled(x=True, y=False)
            plot.setMinimumSize(160, 80)
            plot.getPlotItem().setMenuEnabled(False)
        # pyqtgraph's context menus are parentless popups: owned here, they go with the dock
        for widget in QApplication.topLevelWidgets():
            if widget not in before and isinstance(widget, QMenu):
                widget.setParent(self, widget.windowFlags())
        self.plot_placeholder.hide()
        self.plot_placeholder.setParent(None)
        self.plot_placeholder.deleteLater()
        self.plots.addWidget(self.loss_plot)
        self.plots.addWidget(self.lr_plot)
        self.plots.setStretchFactor(0, 3)
        self.plots.setStretchFactor(1, 1)
        self.plots.setSizes([300, 100])
        self._draw_curves()
        self._draw_compare()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.loss_plot and event.type() == QEvent.Type.Resize:
            self._fit_legend()
        return super().eventFilter(watched, event)

    def _fit_legend(self) -> None:
        """Two legend columns in a wide Loss plot (a GAN's loss, EMA and two parts: two rows), one
        in a narrow one (two columns would be cut at the plot's left edge)."""
        legend = self.loss_plot.getPlotItem().legend
        if legend is not None:
            legend.setColumnCount(2 if self.loss_plot.width() >= LEGEND_TWO_COLUMNS_PX else 1)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.stack.currentWidget() is self.content:
            self.ensure_plots()
            self._draw_curves()

    def curve_points(self) -> dict[str, int]:
        """How many points each drawn curve has (what a person sees, for tests)."""
        if not self.has_plots:
            return {}
        return {name: len(curve.getData()[0] if curve.getData()[0] is not None else [])
                for name, curve in (("loss", self.loss_curve), ("ema", self.ema_curve),
                                    ("compare", self.compare_curve), ("lr", self.lr_curve))}

    def part_points(self) -> dict[str, tuple[list[float], list[float]]]:
        """Each loss part's drawn curve as (steps, values), by its legend name."""
        out = {}
        for name, curve in self.part_curves.items():
            xs, ys = curve.getData()
            out[name] = ([] if xs is None else [float(x) for x in xs], [] if ys is None else [float(y) for y in ys])
        return out

    def legend_names(self) -> list[str]:
        """The names in the Loss plot's legend, top to bottom."""
        legend = self.loss_plot.getPlotItem().legend if self.has_plots else None
        return [label.text for _sample, label in legend.items] if legend is not None else []

    def _draw_parts(self) -> None:
        """One curve per loss part of the run, in its own colour; the parts a run lacks go."""
        import pyqtgraph as pg

        parts = self.model.data.parts
        for name in [n for n in self.part_curves if n not in parts]:
            self.loss_plot.removeItem(self.part_curves.pop(name))  # from the legend too
        for index, (name, curve) in enumerate(parts.items()):
            item = self.part_curves.get(name)
            if item is None:
                colour = PART_PENS[index % len(PART_PENS)]
                item = self.part_curves[name] = self.loss_plot.plot([], [], pen=pg.mkPen(colour, width=2), name=name)
            item.setData(curve.steps, curve.values)

    def _draw_curves(self) -> None:
        if not self.has_plots or not self.isVisible():
            return
        data = self.model.data
        self.loss_curve.setData(data.steps, data.loss)
        self.ema_curve.setData(data.steps, ema(data.loss))
        self.lr_curve.setData(data.lr_steps, data.lr)
        self._draw_parts()
        loss = f"{data.loss[-1]:.4f} (smoothed {ema(data.loss)[-1]:.4f})" if data.loss else "—"
        parts = "\n".join(f"{name} {curve.values[-1]:.4g}" for name, curve in data.parts.items())
        self.loss_label.setText(f"{loss}\n{parts}" if parts else loss)
        self.lr_label.setText(f"{data.lr[-1]:.2e}" if data.lr else "—")
        if data.lr:  # from zero: a constant rate is a flat line at its value, not a line at "0"
            self.lr_plot.setYRange(0, max(data.lr) * 1.15 or 1e-6, padding=0)

    def _draw_compare(self) -> None:
        if not self.has_plots:
            return
        other = self.model.compare
        legend = self.loss_plot.getPlotItem().legend
        if legend is not None:
            legend.removeItem(self.compare_curve)
        if other is None:
            self.compare_curve.setData([], [])
            return
        self.compare_curve.setData(other.steps, ema(other.loss))
        if legend is not None:
            legend.addItem(self.compare_curve, f"{other.name} (EMA)")

    # -- run list ----------------------------------------------------------------------------------
    def _fill_runs(self) -> None:
        self._show_page()
        current = self.model.run_dir
        compare = self.model.compare.run_dir if self.model.compare is not None else ""
        for box, chosen, first in ((self.runs_box, current, "(no run chosen)"),
                                   (self.compare_box, compare, "(none)")):
            box.blockSignals(True)
            box.clear()
            box.addItem(first, "")
            for info in self.model.runs:
                if box is self.compare_box and info.run_dir == current:
                    continue
                box.addItem(info.label(), info.run_dir)
                box.setItemData(box.count() - 1, info.run_dir, Qt.ItemDataRole.ToolTipRole)
            index = box.findData(chosen) if chosen else 0
            box.setCurrentIndex(max(index, 0))
            box.blockSignals(False)

    def _run_chosen(self, index: int) -> None:
        run_dir = self.runs_box.itemData(index) or ""
        if run_dir != self.model.run_dir:
            self.model.open_run(run_dir) if run_dir else None

    def _compare_chosen(self, index: int) -> None:
        self.model.compare_with(self.compare_box.itemData(index) or "")

    def choose_run(self, run_dir: str) -> None:
        """Choose a run in the list as a person would."""
        index = self.runs_box.findData(run_dir)
        if index < 0:
            raise ValueError(f"{run_dir} is not in the run list")
        self.runs_box.setCurrentIndex(index)
        self.runs_box.activated.emit(index)

    def choose_compare(self, run_dir: str) -> None:
        index = self.compare_box.findData(run_dir)
        if index < 0:
            raise ValueError(f"{run_dir} is not in the compare list")
        self.compare_box.setCurrentIndex(index)
        self.compare_box.activated.emit(index)

    # -- redraws --------------------------------------------------------------------------------
    def _run_changed(self) -> None:
        self._show_page()
        self.log_view.setPlainText("\n".join(self.model.data.log))
        self.log_view.verticalScrollBar().setValue(self.log_view.verticalScrollBar().maximum())
        self._fill_runs()
        self._draw_curves()
        self._draw_compare()

    def _show_stats(self) -> None:
        m = self.model
        data, stats = m.data, m.data.stats
        if not data.run_dir:
            self.state_label.setText("No run — start one with Fine-tune (LoRA)…, or choose a run")
        else:
            state = m.state or ("reading…" if m.loading else "")
            self.state_label.setText(f"{data.name}: {state}" if state else data.name)
        step = f"{data.step} / {data.total}" if data.total else (str(data.step) if data.run_dir else "—")
        self.step_label.setText(step)
        self.epoch_label.setText(f"{stats['epoch']:.2f}" if "epoch" in stats else "—")
        self.speed_label.setText(format_rate(stats))
        running = m.job is not None and m.job.state.value in ("running", "paused")
        if running and "eta_s" in stats:
            eta = format_duration(stats["eta_s"])
            self.eta_label.setText(f"{eta} (paused)" if m.job.state.value == "paused" else eta)
        elif data.total and data.step >= data.total:
            self.eta_label.setText("finished")
        else:
            self.eta_label.setText("—")
        self.memory_label.setText(format_memory(stats))

    def _show_sample(self) -> None:
        step, image, index, count = self.model.current_sample()
        self.sample_view.set_image(image)
        if image is None:
            self.sample_label.setText("No sample yet")
        else:
            self.sample_label.setText(f"Step {step}" + (f"  ({index + 1} of {count})" if count > 1 else ""))
        self.earlier_button.setEnabled(count > 1 and index > 0)
        self.later_button.setEnabled(count > 1 and 0 <= index < count - 1)

    def _update_buttons(self) -> None:
        m = self.model
        self.pause_button.setEnabled(m.can_pause())
        self.resume_button.setEnabled(m.can_resume())
        self.cancel_button.setEnabled(m.can_cancel())
        self.resume_run_button.setEnabled(m.can_resume_run())
        self.use_button.setEnabled(bool(m.lora_path()))
        self._show_stats()

    # -- intents -------------------------------------------------------------------------------------
    def _pause_clicked(self) -> None:
        if self.model.job is not None:
            self._pause(self.model.job.id)

    def _resume_clicked(self) -> None:
        if self.model.job is not None:
            self._resume(self.model.job.id)

    def _cancel_clicked(self) -> None:
        if self.model.job is not None:
            self._cancel(self.model.job.id)

    def _resume_run_clicked(self) -> None:
        if self.model.job is None:
            return
        job = self._requeue(self.model.job.id)
        if job is not None:
            self.model.attach_job(job)

    def _use_clicked(self) -> None:
        if path := self.model.lora_path():
            self._use_lora(path)
