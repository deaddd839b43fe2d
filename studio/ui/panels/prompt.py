"""The prompt panel: model, prompts and sampling settings → one ``GenerationRequest``.

The fields live in a :class:`~studio.ui.request_model.PromptViewModel` (one request-shaped state);
the widgets are bound to it, take their ranges and first values from the request definition, and
"Use these settings" sets the view-model from a request in one step.
The mode (txt2img / img2img / inpaint / outpaint) follows what the user does on the canvas; the
init image and the mask come from the canvas, written as PNG files when the request is made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import BadInput, StudioError, describe
from studio.core.library import ModelEntry, generation_defaults
from studio.core.requests import MAX_SEED, MAX_SIDE, SCHEDULER_NAMES, GenerationRequest, LoraRef
from studio.core.settings import Settings
from studio.jobs.queue import Job
from studio.ui.canvas_model import MODES, CanvasViewModel
from studio.ui.panels.power_tools import CANVAS_IMAGE, PowerTools, with_canvas_image
from studio.ui.request_model import PromptViewModel, bind, seed_from_widget, seed_to_widget, set_range
from studio.ui.viewmodels import LibraryViewModel

SCHEDULERS = SCHEDULER_NAMES
SIZE_PRESETS = (
    ("512 × 512", 512, 512), ("768 × 768", 768, 768), ("1024 × 1024", 1024, 1024),
    ("512 × 768 portrait", 512, 768), ("768 × 512 landscape", 768, 512),
    ("832 × 1216 portrait", 832, 1216), ("1216 × 832 landscape", 1216, 832),
)
CUSTOM = "Custom"
FEEDBACK_MS = 6_000  # how long news under Generate stays ("Queued as job 4.")
PREFERRED_WIDTH = 360  # the dock's width in the default layout
LORA_KIND = "lora"  # the library's kind for LoRA files (no manifest declares one yet)
MODE_TIPS = {
    "txt2img": "Text to image: a new picture from the prompt.",
    "img2img": "Image to image: rework the canvas image; Strength says how much.",
    "inpaint": "Inpaint: repaint only the masked part of the canvas image.",
    "outpaint": "Outpaint: fill the area added with Extend (it is masked).",
}


def size_problem(width: int, height: int) -> str:
    """Why ``width`` × ``height`` cannot be generated, or ``""``."""
    for name, side in (("Width", width), ("Height", height)):
        if side <= 0 or side % 8 or side > MAX_SIDE:
            return f"{name} {side} is not usable: use a multiple of 8 between 8 and {MAX_SIDE}."
    return ""


def round8(side: int) -> int:
    return max(8, min(MAX_SIDE, round(side / 8) * 8))


class PromptPanel(QWidget):
    """Builds a request from its fields and hands it to ``submit``; errors show inline."""

    submitted = Signal(object)  # the Job that was queued
    loras_edited = Signal()  # a LoRA weight was changed in the table

    def __init__(
        self,
        library: LibraryViewModel,
        settings: Settings,
        submit: Callable[[GenerationRequest], Job],
        image_kinds: Callable[[], set[str]],
        parent: QWidget | None = None,
    ) -> None:
        """``image_kinds()``: the model kinds the plugins can make images with (their manifests')."""
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self._submit = submit
        self._image_kinds = image_kinds
        self.view_model = PromptViewModel(self)
        vm = self.view_model

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model.lineEdit().setPlaceholderText("Scanning models…")
        self.model.setToolTip("A model from your library, or the path of a model folder or file.")
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(12)
        self.model.activated.connect(self.apply_model_defaults)
        self.model.currentTextChanged.connect(self._show_settings_for_current)
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
        for edit, lines in ((self.prompt, 4), (self.negative, 2)):
            edit.setFixedHeight(edit.fontMetrics().lineSpacing() * lines + 12)
        self.prompt_weighting = QCheckBox("Read weights: (word:1.3) [word] BREAK")
        self.prompt_weighting.setToolTip("AUTOMATIC1111's prompt syntax, and prompts over 77 tokens read whole. "
                                         "Off: the text goes to the model as written.")

        self.mode = QComboBox()
        self.mode.addItems(MODES)
        for index, key in enumerate(MODES):
            self.mode.setItemData(index, MODE_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.mode.setToolTip(
            "Follows the canvas: drop an image for img2img, paint a mask to inpaint, extend to outpaint."
        )
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.init_label = QLabel()
        self.init_label.setWordWrap(True)
        self.strength = QDoubleSpinBox()
        set_range(self.strength, GenerationRequest, "strength")
        self.strength.setSingleStep(0.05)
        self.strength.setToolTip("How much the canvas image changes: 0 keeps it, 1 repaints it entirely.")

        self.seed = QDoubleSpinBox()  # a double holds every 32-bit seed exactly
        self.seed.setDecimals(0)
        self.seed.setRange(-1, MAX_SEED)  # -1 shows "Random": the view-model's seed is then None
        self.seed.setSpecialValueText("Random")
        self.seed.setToolTip("Random draws a new seed for every job (it is recorded with the image).")
        self.random_seed = QToolButton()
        self.random_seed.setText("Random")
        self.random_seed.setToolTip("Use a new random seed for every job")
        self.random_seed.clicked.connect(lambda: vm.set("seed", None))
        self.reuse_seed = QToolButton()
        self.reuse_seed.setText("Reuse last")
        self.reuse_seed.setToolTip("Fix the seed of the last image generated")
        self.reuse_seed.setEnabled(False)
        self.reuse_seed.clicked.connect(self._reuse_last_seed)
        self.last_seed: int | None = None
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        seed_row.addWidget(self.reuse_seed)
        self.steps = QSpinBox()
        set_range(self.steps, GenerationRequest, "steps")
        self.guidance = QDoubleSpinBox()
        set_range(self.guidance, GenerationRequest, "guidance")
        self.guidance.setSingleStep(0.5)
        self.width_box = _side_box()
        self.height_box = _side_box()
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_box, 1)
        size_row.addWidget(QLabel("×"), 0)
        size_row.addWidget(self.height_box, 1)
        self.size_preset = QComboBox()
        for text, _, _ in SIZE_PRESETS:
            self.size_preset.addItem(text)
        self.size_preset.addItem(CUSTOM)
        self.size_preset.setToolTip("Common sizes; SD 1.x likes 512, SDXL 1024")
        self.size_preset.activated.connect(self._preset_chosen)
        self.size_note = QLabel()
        self.size_note.setObjectName("sizeNote")
        self.size_note.setWordWrap(True)
        self.size_note.hide()
        for box in (self.width_box, self.height_box):
            box.setKeyboardTracking(True)
            box.valueChanged.connect(self._size_changed)
        size_box = QVBoxLayout()
        size_box.setContentsMargins(0, 0, 0, 0)
        size_box.addWidget(self.size_preset)
        size_box.addLayout(size_row)
        size_box.addWidget(self.size_note)
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULERS)
        self.batch = QSpinBox()
        set_range(self.batch, GenerationRequest, "batch")

        self.loras = QTableWidget(0, 2)
        self.loras.setHorizontalHeaderLabels(["LoRA", "Weight"])
        self.loras.verticalHeader().hide()
        self.loras.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.loras.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.loras.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.loras.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.loras.setFixedHeight(self.loras.fontMetrics().lineSpacing() * 6)
        self.add_lora_button = QToolButton()
        self.add_lora_button.setText("Add LoRA")
        self.add_lora_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.lora_menu = QMenu(self.add_lora_button)
        self.lora_menu.aboutToShow.connect(self._fill_lora_menu)
        self.add_lora_button.setMenu(self.lora_menu)
        self.remove_lora_button = QToolButton()
        self.remove_lora_button.setText("Remove")
        self.remove_lora_button.clicked.connect(self._remove_selected_lora)
        lora_buttons = QHBoxLayout()
        lora_buttons.addWidget(self.add_lora_button)
        lora_buttons.addWidget(self.remove_lora_button)
        lora_buttons.addStretch(1)
        lora_box = QVBoxLayout()
        lora_box.setContentsMargins(0, 0, 0, 0)
        lora_box.addWidget(self.loras)
        lora_box.addLayout(lora_buttons)

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
        self.feedback_timer = QTimer(self, singleShot=True, interval=FEEDBACK_MS)
        self.feedback_timer.timeout.connect(self.clear_feedback)
        feedback_row = QHBoxLayout()
        feedback_row.addWidget(self.feedback_icon)
        feedback_row.addWidget(self.feedback, 1)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", model_row)
        form.addRow("Mode", self.mode)
        form.addRow("", self.init_label)
        form.addRow("Strength", self.strength)
        form.addRow("Prompt", self.prompt)
        form.addRow("Negative", self.negative)
        form.addRow("", self.prompt_weighting)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Size", size_box)
        self.size_from_canvas = QLabel()
        self.size_from_canvas.setWordWrap(True)
        form.addRow("Size", self.size_from_canvas)
        self._form, self._size_box = form, size_box
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Batch", self.batch)
        form.addRow("LoRAs", lora_box)
        # what a model may say it ignores (ModelEntry.details["ignores"]) → the rows that go for it
        self._rows_by_setting: dict[str, tuple[Any, ...]] = {
            "prompt": (self.prompt, self.prompt_weighting), "negative_prompt": (self.negative,),
            "steps": (self.steps,), "guidance": (self.guidance,), "scheduler": (self.scheduler,),
            "loras": (lora_box,),
        }
        self.ignored: frozenset[str] = frozenset()
        self.power_tools = PowerTools(vm)  # hires fix, ControlNet, refiner: collapsed until wanted
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addLayout(form)
        inner_layout.addWidget(self.power_tools)
        inner_layout.addStretch(1)
        # the fields scroll up and down, never sideways (the dock is kept at least as wide as they need)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(inner)
        # Generate and what it says stay pinned under the fields, whatever the dock's height
        self.action_bar = QWidget(objectName="promptActions")
        action_layout = QVBoxLayout(self.action_bar)
        action_layout.setContentsMargins(9, 4, 9, 6)
        action_layout.addWidget(self.generate)
        action_layout.addLayout(feedback_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.action_bar)
        self._fit_width()

        # the widgets show the view-model (first values: the request's own defaults) and edit it
        bind(vm, "model", self.model, read=self._typed_model, write=self._choose_model,
             signal=self.model.currentTextChanged)
        bind(vm, "prompt", self.prompt, "plainText")
        bind(vm, "negative_prompt", self.negative, "plainText")
        bind(vm, "prompt_weighting", self.prompt_weighting, "checked")
        bind(vm, "seed", self.seed, to_widget=seed_to_widget, from_widget=seed_from_widget)
        for name, box in (("steps", self.steps), ("guidance", self.guidance), ("width", self.width_box),
                          ("height", self.height_box), ("batch", self.batch), ("strength", self.strength)):
            bind(vm, name, box)
        bind(vm, "scheduler", self.scheduler, "currentText")
        bind(vm, "loras", self.loras, read=self._table_loras, write=self._show_loras, signal=self.loras_edited)

        library.changed.connect(self._models_changed)
        library.failed.connect(lambda text: self.show_error(f"Scanning models failed: {text}"))
        self._models_changed()
        self.canvas: CanvasViewModel | None = None
        self._sync_preset()
        self._mode_changed(self.mode.currentText())

    # -- layout ------------------------------------------------------------------------
    def _fit_width(self) -> None:
        """Never narrower than the fields need (plus a vertical scroll bar): a squeezed dock would
        hide "Reuse last" and the LoRA weights behind a sideways scroll."""
        inner = self.scroll.widget()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.setMinimumWidth(inner.minimumSizeHint().width() + bar + 2)

    def sizeHint(self) -> QSize:
        return QSize(max(PREFERRED_WIDTH, self.minimumWidth()), super().sizeHint().height())

    # -- the request -------------------------------------------------------------------
    def request(self) -> GenerationRequest:
        """The request the fields describe; for img2img/inpaint/outpaint the canvas image (and
        mask) are written to ``STUDIO_HOME/cache`` first. Raises :class:`BadInput` when the
        canvas cannot give what the mode needs."""
        state = self.view_model.state
        mode = self.mode.currentText()
        width, height = state.width, state.height
        init = mask = None
        if mode != "txt2img":
            canvas = self.canvas
            if canvas is None or not canvas.has_image():
                raise BadInput(
                    f"{mode} needs an image on the canvas.",
                    "Generate one first, or drop or paste an image onto the canvas.",
                )
            width, height = round8(canvas.size().width()), round8(canvas.size().height())
            init, mask = canvas.write_request_files(with_mask=mode in ("inpaint", "outpaint"))
        controls = state.controls
        if any(control.image == CANVAS_IMAGE for control in controls):
            controls = with_canvas_image(controls, init or self._canvas_control_image())
        ignored = self.ignored
        return self.view_model.request(
            model=state.model.strip(),
            prompt="" if "prompt" in ignored else state.prompt.strip(),
            negative_prompt="" if "negative_prompt" in ignored else state.negative_prompt.strip(),
            loras=() if "loras" in ignored else state.loras,
            width=width,
            height=height,
            init_image=init,
            mask=mask,
            controls=controls,
            refiner=state.refiner.strip(),
            backend=self.settings.backend,
            device=self.settings.device,
        )

    def _canvas_control_image(self) -> str:
        """The canvas picture as a file, for a control that uses it."""
        if self.canvas is None or not self.canvas.has_image():
            raise BadInput("A control uses the canvas image, but the canvas is empty.",
                           "Generate, drop or paste an image first, or give the control an image file.")
        return self.canvas.write_request_files(with_mask=False)[0]

    def model_reference(self) -> str:
        """The chosen model's path, or the typed text (a library name or a path)."""
        return self.view_model.state.model.strip()

    def _typed_model(self) -> str:
        """The model combo's choice as a reference: an entry's path, else the text typed."""
        text = self.model.currentText()
        index = self.model.findText(text)
        data = self.model.itemData(index) if index >= 0 and text else None
        return str(data) if data else text

    def submit(self) -> Job | None:
        try:
            request = self.request()
            request.validate()
            job = self._submit(request)
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
        """An error stays until the next attempt; news ("Queued as job 4.") goes after a while."""
        self.feedback.setText(text)
        self.feedback.setProperty("error", error)
        self.feedback_icon.setVisible(error)
        if text and not error:
            self.feedback_timer.start()
        else:
            self.feedback_timer.stop()

    def clear_feedback(self) -> None:
        self._set_feedback("", error=False)

    # -- the canvas ----------------------------------------------------------------------
    def set_canvas(self, canvas: CanvasViewModel) -> None:
        """Take the init image and the mask from ``canvas``; the mode follows its edits."""
        self.canvas = canvas
        canvas.mode_hint.connect(self.set_mode)
        canvas.document_changed.connect(self._canvas_changed)
        self._canvas_changed()

    def _canvas_changed(self) -> None:
        self._mode_changed(self.mode.currentText())

    def set_mode(self, mode: str) -> None:
        if mode in MODES:
            self.mode.setCurrentText(mode)

    def _mode_changed(self, mode: str) -> None:
        from_canvas = mode != "txt2img"
        self.strength.setEnabled(from_canvas)
        if hasattr(self, "_form"):  # the size follows the canvas image in the modes that start from it
            self._form.setRowVisible(self._size_box, not from_canvas)
            self._form.setRowVisible(self.size_from_canvas, from_canvas)
        canvas = getattr(self, "canvas", None)
        self.init_label.setText(MODE_TIPS[mode])
        if hasattr(self, "_form"):  # txt2img needs no explanation: its rows go to the fields
            self._form.setRowVisible(self.init_label, from_canvas)
            self._form.setRowVisible(self.strength, from_canvas)
        if not from_canvas:
            return
        if canvas is None or not canvas.has_image():
            self.size_from_canvas.setText("The canvas is empty: generate, drop or paste an image first.")
        else:
            size = canvas.size()
            w, h = round8(size.width()), round8(size.height())
            note = "" if (w, h) == (size.width(), size.height()) else f" (made at {w} × {h}: multiples of 8)"
            self.size_from_canvas.setText(f"{size.width()} × {size.height()}, the canvas image{note}")

    # -- seed, size, LoRAs -----------------------------------------------------------------
    def note_finished(self, job: Job) -> None:
        """Remember the seed of a finished generation for "Reuse last" (the queue resolved it)."""
        seed = getattr(job.request, "seed", None)
        if isinstance(job.request, GenerationRequest) and seed is not None:
            self.last_seed = seed
            self.reuse_seed.setEnabled(True)
            self.reuse_seed.setToolTip(f"Fix the seed of the last image generated ({seed})")

    def _reuse_last_seed(self) -> None:
        if self.last_seed is not None:
            self.view_model.set("seed", self.last_seed)

    def _preset_chosen(self, index: int) -> None:
        if 0 <= index < len(SIZE_PRESETS):
            _, width, height = SIZE_PRESETS[index]
            self.width_box.setValue(width)
            self.height_box.setValue(height)

    def _size_changed(self, _value: int = 0) -> None:
        self._sync_preset()
        problem = size_problem(self.width_box.value(), self.height_box.value())
        self.size_note.setText(problem)
        self.size_note.setVisible(bool(problem))

    def _sync_preset(self) -> None:
        size = (self.width_box.value(), self.height_box.value())
        index = next((i for i, (_, w, h) in enumerate(SIZE_PRESETS) if (w, h) == size), len(SIZE_PRESETS))
        self.size_preset.setCurrentIndex(index)

    def add_lora(self, path: str, weight: float = 1.0) -> None:
        """Add a LoRA file to the stack (or set its weight if it is already there)."""
        loras = [lora for lora in self.view_model.state.loras if lora.path != path]
        at = next((i for i, lora in enumerate(self.view_model.state.loras) if lora.path == path), len(loras))
        loras.insert(at, LoraRef(path, weight))
        self.view_model.set("loras", tuple(loras))

    def lora_refs(self) -> list[LoraRef]:
        return list(self.view_model.state.loras)

    def clear_loras(self) -> None:
        self.view_model.set("loras", ())

    def _remove_selected_lora(self) -> None:
        rows = {index.row() for index in self.loras.selectedIndexes()}
        loras = list(self.view_model.state.loras)
        rows = rows or ({len(loras) - 1} if loras else set())
        self.view_model.set("loras", tuple(lora for row, lora in enumerate(loras) if row not in rows))

    # the LoRA table shows the view-model's stack; its weight boxes edit it
    def _table_loras(self) -> tuple[LoraRef, ...]:
        paths = (str(self.loras.item(row, 0).data(Qt.ItemDataRole.UserRole)) for row in range(self.loras.rowCount()))
        return tuple(LoraRef(path, round(self._weight_box(row).value(), 2)) for row, path in enumerate(paths))

    def _show_loras(self, loras: tuple[LoraRef, ...]) -> None:
        self.loras.setRowCount(0)
        for row, lora in enumerate(loras):
            self.loras.insertRow(row)
            item = QTableWidgetItem(Path(lora.path).stem)
            item.setData(Qt.ItemDataRole.UserRole, lora.path)
            item.setToolTip(lora.path)
            self.loras.setItem(row, 0, item)
            weight_box = QDoubleSpinBox()
            weight_box.setRange(-4.0, 4.0)
            weight_box.setSingleStep(0.05)
            weight_box.setValue(lora.weight)
            weight_box.setFrame(False)
            weight_box.valueChanged.connect(self.loras_edited)
            self.loras.setCellWidget(row, 1, weight_box)

    def _weight_box(self, row: int) -> QDoubleSpinBox:
        box = self.loras.cellWidget(row, 1)
        assert isinstance(box, QDoubleSpinBox)
        return box

    def _fill_lora_menu(self) -> None:
        self.lora_menu.clear()
        entries = [e for e in self.library.entries if e.kind == LORA_KIND]
        for entry in entries:
            action = self.lora_menu.addAction(entry.name)
            action.setToolTip(entry.path)
            action.triggered.connect(lambda _=False, p=entry.path: self.add_lora(p))
        if not entries:
            self.lora_menu.addAction("No LoRAs in the model folders").setEnabled(False)
        self.lora_menu.addSeparator()
        self.lora_menu.addAction("From a file…", self._browse_lora)

    def _browse_lora(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a LoRA", "", "LoRA files (*.safetensors)")
        if path:
            self.add_lora(path)

    # -- filling the fields ----------------------------------------------------------------
    def apply_request(self, request: GenerationRequest) -> None:
        """"Use these settings": every field takes ``request``'s value (one view-model update)."""
        self.view_model.set_request(request)
        if not request.init_image:
            self.set_mode("txt2img")
        self._set_feedback("Settings filled in.", error=False)

    def apply_fields(self, fields: dict[str, Any], source: str = "") -> None:
        """Fill the fields found in ``fields`` (see :mod:`studio.ui.recall`); others stay."""
        notes = []
        fields = dict(fields)
        name = str(fields.pop("model_name", "") or "")
        if not fields.get("model") and name:
            index = self.model.findText(name)
            if index >= 0:
                fields["model"] = str(self.model.itemData(index) or name)
            else:
                notes.append(f"its model '{name}' is not in your library, so the model was kept")
        if "seed" in fields and fields["seed"] is not None:
            fields["seed"] = max(-1, min(MAX_SEED, int(fields["seed"])))
        if fields.get("scheduler") not in (None, *SCHEDULERS):
            fields.pop("scheduler")
        self.view_model.update(fields)
        if "init_image" in fields and not fields["init_image"]:
            self.set_mode("txt2img")
        text = f"Settings recalled from {source}" if source else "Settings filled in"
        self._set_feedback(text + (f"; {'; '.join(notes)}." if notes else "."), error=False)

    def _choose_model(self, reference: str) -> None:
        for index in range(self.model.count()):
            if str(self.model.itemData(index)) == reference or self.model.itemText(index) == reference:
                self.model.setCurrentIndex(index)
                return
        self.model.setEditText(reference)

    def _index_of(self, reference: str) -> int:
        """The combo row of a model given by its name or its path (-1: none)."""
        wanted = Path(reference).expanduser()
        for index in range(self.model.count()):
            path = str(self.model.itemData(index) or "")
            if self.model.itemText(index) == reference or path == reference:
                return index
            if path and wanted.is_absolute() and Path(path).resolve() == wanted.resolve():
                return index
        return -1

    def _models_changed(self) -> None:
        typed = self.view_model.state.model
        self.model.blockSignals(True)
        self.model.clear()
        kinds = self._image_kinds()
        entries = [e for e in self.library.entries if e.kind in kinds]
        for entry in entries:
            self.model.addItem(entry.name, entry.path)
            self.model.setItemData(self.model.count() - 1, f"{entry.kind} · {entry.path}", Qt.ItemDataRole.ToolTipRole)
        self.model.setCurrentIndex(-1)  # the first item added became current unseen: choosing below tells the request
        self.model.blockSignals(False)
        if typed:
            self._choose_model(typed)
        elif self.settings.default_model and self._index_of(self.settings.default_model) >= 0:
            self.model.setCurrentIndex(self._index_of(self.settings.default_model))  # by name or by path
            self.apply_model_defaults()
        elif entries:
            self.model.setCurrentIndex(0)
            self.apply_model_defaults()
        if not self.library.scanning:
            self.model.lineEdit().setPlaceholderText(
                "Type a model path" if not entries else "Choose a model or type a path"
            )
        self._show_settings_for_current()

    def apply_model_defaults(self, _index: int = -1) -> None:
        """Size, steps, guidance and scheduler that suit the chosen model (e.g. 64×64 for demo)."""
        entry = self._current_entry()
        if entry is None:
            return
        self.view_model.update(generation_defaults(entry))

    def _current_entry(self) -> ModelEntry | None:
        """The library entry chosen in the model box (None for a typed path or name)."""
        path = str(self.model.currentData() or "") if self.model.findText(self.model.currentText()) >= 0 else ""
        return next((e for e in self.library.entries if e.path == path), None) if path else None

    def _show_settings_for_current(self, _text: str = "") -> None:
        self.show_settings_for(self._current_entry())

    def show_settings_for(self, entry: ModelEntry | None) -> None:
        """Hide the fields the chosen model ignores (a VAE or GAN draws from a seed: no prompt, steps,
        guidance, scheduler or LoRAs); their text stays for the next model that uses them, but is
        not sent to this one."""
        ignores = (entry.details.get("ignores") if entry is not None else None) or ()
        self.ignored = frozenset(str(name) for name in ignores if str(name) in self._rows_by_setting)
        for name, parts in self._rows_by_setting.items():
            for part in parts:
                self._form.setRowVisible(part, name not in self.ignored)


def _side_box() -> QSpinBox:
    """Width or height: multiples of 8 up to the request's ``MAX_SIDE`` (checked on each edit)."""
    box = QSpinBox()
    box.setRange(8, MAX_SIDE)
    box.setSingleStep(64)
    box.setSuffix(" px")
    return box
