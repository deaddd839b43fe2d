"""The prompt panel: model, prompts and sampling settings → one ``GenerationRequest``."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError, describe
from studio.core.requests import MAX_SIDE, GenerationRequest
from studio.core.settings import Settings
from studio.jobs.queue import Job
from studio.ui.viewmodels import LibraryViewModel

SCHEDULERS = ("Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras", "DDIM", "UniPC", "PNDM", "LMS")


class PromptPanel(QWidget):
    """Builds a request from its fields and hands it to ``submit``; errors show inline."""

    submitted = Signal(object)  # the Job that was queued

    def __init__(
        self,
        library: LibraryViewModel,
        settings: Settings,
        submit: Callable[[GenerationRequest], Job],
        image_kinds: Callable[[], set[str]] = lambda: {"diffusers", "sd-checkpoint"},
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self._submit = submit
        self._image_kinds = image_kinds

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model.lineEdit().setPlaceholderText("Scanning models…")
        self.model.setToolTip("A model from your library, or the path of a model folder or file.")
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(12)
        self.refresh = QToolButton()
        self.refresh.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.refresh.setToolTip("Scan the model folders again")
        self.refresh.clicked.connect(library.refresh)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.refresh)

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the image: a red fox in the snow, watercolour…")
        self.prompt.setTabChangesFocus(True)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("What to avoid (optional)")
        self.negative.setTabChangesFocus(True)
        for edit, lines in ((self.prompt, 5), (self.negative, 2)):
            edit.setFixedHeight(edit.fontMetrics().lineSpacing() * lines + 12)

        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("Random")
        self.steps = _spin(1, 1000, 20)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 50.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(7.0)
        self.width_box = _spin(8, MAX_SIDE, 512, step=64, suffix=" px")
        self.height_box = _spin(8, MAX_SIDE, 512, step=64, suffix=" px")
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_box, 1)
        size_row.addWidget(QLabel("×"), 0)
        size_row.addWidget(self.height_box, 1)
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULERS)
        self.batch = _spin(1, 64, 1)

        self.generate = QPushButton("Generate")
        self.generate.setDefault(True)
        self.generate.setToolTip("Queue this request (Ctrl+Return)")
        self.generate.clicked.connect(self.submit)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.feedback.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.feedback.setObjectName("promptFeedback")
        self.feedback_icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.feedback_icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size)
        )
        self.feedback_icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.feedback_icon.hide()
        feedback_row = QHBoxLayout()
        feedback_row.addWidget(self.feedback_icon)
        feedback_row.addWidget(self.feedback, 1)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", model_row)
        form.addRow("Prompt", self.prompt)
        form.addRow("Negative", self.negative)
        form.addRow("Seed", self.seed)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Size", size_row)
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Batch", self.batch)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addLayout(form)
        inner_layout.addWidget(self.generate)
        inner_layout.addLayout(feedback_row)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        library.changed.connect(self._models_changed)
        library.failed.connect(lambda text: self.show_error(f"Scanning models failed: {text}"))
        self._models_changed()

    # -- the request -------------------------------------------------------------------
    def request(self) -> GenerationRequest:
        seed = self.seed.value()
        return GenerationRequest(
            model=self.model_reference(),
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative.toPlainText().strip(),
            seed=None if seed < 0 else seed,
            steps=self.steps.value(),
            guidance=round(self.guidance.value(), 2),
            width=self.width_box.value(),
            height=self.height_box.value(),
            scheduler=self.scheduler.currentText(),
            batch=self.batch.value(),
            backend=self.settings.backend,
            device=self.settings.device,
        )

    def model_reference(self) -> str:
        """The chosen model's path, or the typed text (a library name or a path)."""
        text = self.model.currentText().strip()
        index = self.model.findText(text)
        data = self.model.itemData(index) if index >= 0 else None
        return str(data) if data else text

    def submit(self) -> Job | None:
        try:
            job = self._submit(self.request())
        except StudioError as exc:
            self.show_error(exc.user_text())
            return None
        except Exception as exc:  # never let a click take the window down
            self.show_error(describe(exc))
            return None
        self._set_feedback(f"Queued as job {job.id}.", error=False)
        self.submitted.emit(job)
        return job

    def show_error(self, text: str) -> None:
        self._set_feedback(text, error=True)

    def _set_feedback(self, text: str, error: bool) -> None:
        self.feedback.setText(text)
        self.feedback.setProperty("error", error)
        self.feedback_icon.setVisible(error)

    def _models_changed(self) -> None:
        typed = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        kinds = self._image_kinds()
        entries = [e for e in self.library.entries if e.kind in kinds]
        for entry in entries:
            self.model.addItem(entry.name, entry.path)
            self.model.setItemData(self.model.count() - 1, f"{entry.kind} · {entry.path}", Qt.ItemDataRole.ToolTipRole)
        self.model.blockSignals(False)
        if typed:
            self.model.setEditText(typed)
        elif self.settings.default_model and self.model.findText(self.settings.default_model) >= 0:
            self.model.setCurrentIndex(self.model.findText(self.settings.default_model))
        elif entries:
            self.model.setCurrentIndex(0)
        if not self.library.scanning:
            self.model.lineEdit().setPlaceholderText(
                "Type a model path" if not entries else "Choose a model or type a path"
            )


def _spin(low: int, high: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    return box
