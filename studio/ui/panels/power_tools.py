"""The prompt dock's power tools: high resolution (hires fix), ControlNet and the SDXL refiner.

Three sections, collapsed by default so the dock stays simple; each widget is bound to the prompt
panel's :class:`~studio.ui.request_model.PromptViewModel` (``hires_scale``, ``hires_strength``,
``upscaler``, ``controls``, ``refiner``, ``refiner_at``), so the request the panel builds carries
them and "Use these settings" shows them again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.requests import CONTROL_PREPROCESSORS, MAX_CONTROL_WEIGHT, ControlRef, GenerationRequest
from studio.ui.request_model import PromptViewModel, bind, set_range

#: A control's image when it is the canvas picture: the panel writes the canvas to a file at request time.
CANVAS_IMAGE = "<canvas>"
LANCZOS = "lanczos"
HIRES_PRESETS = (("Off", 1.0), ("1.5×", 1.5), ("2×", 2.0))
CUSTOM = "Custom"
TITLES = {"hires": "High resolution", "controls": "ControlNet", "refiner": "Refiner (SDXL)"}
PREPROCESS_NAMES = {"": "None", "canny": "Canny edges"}
UPSCALER_FILTER = "Upscaler models (*.safetensors *.pth)"
CONTROLNET_FILTER = "ControlNet files (*.safetensors)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"


class Section(QWidget):
    """A titled section whose body shows only when its header is clicked (collapsed at first)."""

    def __init__(self, title: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QToolButton(text=title, checkable=True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.ArrowType.RightArrow)
        self.header.setAutoRaise(True)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.toggled.connect(self.set_expanded)
        self.body = body
        body.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(body)

    def set_expanded(self, expanded: bool) -> None:
        self.header.setChecked(expanded)
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)

    def is_expanded(self) -> bool:
        return self.header.isChecked()


def _fraction_box(low: float = 0.0, high: float = 1.0) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(0.05)
    return box


def _compact_form() -> QFormLayout:
    form = QFormLayout()
    form.setContentsMargins(12, 0, 0, 4)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


class HiresBox(QWidget):
    """Hires scale (off / 1.5× / 2× / custom), its strength and the upscaler (Lanczos or a model file)."""

    edited = Signal()  # the scale or the upscaler was changed by the user

    def __init__(self, vm: PromptViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale = QComboBox()
        for text, value in HIRES_PRESETS:
            self.scale.addItem(text, value)
        self.scale.addItem(CUSTOM)
        self.scale.setToolTip("Generate at the model's size, upscale this much, then rework at the large size.")
        self.custom_scale = QDoubleSpinBox()
        low, high = 1.0, GenerationRequest.__dataclass_fields__["hires_scale"].metadata["range"][1]
        self.custom_scale.setRange(low, high)
        self.custom_scale.setSingleStep(0.25)
        self.custom_scale.setSuffix(" ×")
        self.custom_scale.hide()
        scale_row = QHBoxLayout()
        scale_row.addWidget(self.scale, 1)
        scale_row.addWidget(self.custom_scale, 1)
        self.strength = QDoubleSpinBox()
        set_range(self.strength, GenerationRequest, "hires_strength")
        self.strength.setSingleStep(0.05)
        self.strength.setToolTip("How much the second pass changes the upscaled picture.")
        self.upscaler = QComboBox()
        self.upscaler.addItem("Lanczos", LANCZOS)
        self.upscaler.setToolTip("Lanczos resampling, or an ESRGAN-family model file (.safetensors/.pth).")
        self.upscaler_file = QToolButton(text="File…")
        self.upscaler_file.setToolTip("Use an upscaler model file")
        self.upscaler_file.clicked.connect(self._browse_upscaler)
        upscaler_row = QHBoxLayout()
        upscaler_row.addWidget(self.upscaler, 1)
        upscaler_row.addWidget(self.upscaler_file)
        form = _compact_form()
        form.addRow("Scale", scale_row)
        form.addRow("Strength", self.strength)
        form.addRow("Upscaler", upscaler_row)
        self.setLayout(form)

        self.scale.activated.connect(self._scale_chosen)
        self.custom_scale.valueChanged.connect(lambda _v: self.edited.emit())
        self.upscaler.activated.connect(lambda _i: self.edited.emit())
        bind(vm, "hires_scale", self.scale, read=self.scale_value, write=self.show_scale, signal=self.edited)
        bind(vm, "hires_strength", self.strength)
        bind(vm, "upscaler", self.upscaler, read=lambda: str(self.upscaler.currentData()),
             write=self.show_upscaler, signal=self.edited)
        vm.changed.connect(lambda name: name == "hires_scale" and self._enable())
        self._enable()

    def scale_value(self) -> float:
        """The scale the widgets say: a preset's, or the custom box's."""
        data = self.scale.currentData()
        return float(data) if data is not None else round(self.custom_scale.value(), 2)

    def show_scale(self, value: float) -> None:
        index = next((i for i, (_, v) in enumerate(HIRES_PRESETS) if v == value), -1)
        if value <= 1 and index < 0:
            index = 0  # 0 and 1 both mean off
        custom = index < 0
        self.scale.setCurrentIndex(self.scale.count() - 1 if custom else index)
        self.custom_scale.setVisible(custom)
        if custom:
            self.custom_scale.blockSignals(True)
            self.custom_scale.setValue(value)
            self.custom_scale.blockSignals(False)

    def _scale_chosen(self, index: int) -> None:
        custom = self.scale.itemData(index) is None
        if custom and self.custom_scale.value() <= 1.0:
            self.custom_scale.blockSignals(True)
            self.custom_scale.setValue(3.0)
            self.custom_scale.blockSignals(False)
        self.custom_scale.setVisible(custom)
        self.edited.emit()

    def show_upscaler(self, value: str) -> None:
        index = self.upscaler.findData(value or LANCZOS)
        if index < 0:
            self.upscaler.addItem(Path(value).name, value)
            index = self.upscaler.count() - 1
            self.upscaler.setItemData(index, value, Qt.ItemDataRole.ToolTipRole)
        self.upscaler.setCurrentIndex(index)

    def set_upscaler_file(self, path: str) -> None:
        self.show_upscaler(path)
        self.edited.emit()

    def _browse_upscaler(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an upscaler model", "", UPSCALER_FILTER)
        if path:
            self.set_upscaler_file(path)

    def _enable(self) -> None:
        on = self.scale_value() > 1
        self.strength.setEnabled(on)
        self.upscaler.setEnabled(on)
        self.upscaler_file.setEnabled(on)


class ControlRow(QFrame):
    """One control: its net and image, weight, start, end and preprocessor, and a Remove button."""

    edited = Signal()
    remove_requested = Signal(object)  # this row

    def __init__(self, control: ControlRef, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.model_path = control.model
        self.name = QLabel(Path(control.model).name or control.model)
        self.name.setToolTip(control.model)
        self.remove = QToolButton(text="Remove")
        self.remove.setToolTip("Remove this control")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self.image = QComboBox()
        self.image.addItem("The canvas image", CANVAS_IMAGE)
        self.image.setToolTip("The picture that steers the composition")
        self.image.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.image.setMinimumContentsLength(8)
        self.image_file = QToolButton(text="File…")
        self.image_file.setToolTip("Use an image file as the control image")
        self.image_file.clicked.connect(self._browse_image)
        self.weight = _fraction_box(0.0, MAX_CONTROL_WEIGHT)
        self.weight.setToolTip("How strongly the control steers (0: not at all)")
        self.start = _fraction_box()
        self.start.setToolTip("The fraction of the steps the control starts at")
        self.end = _fraction_box()
        self.end.setToolTip("The fraction of the steps the control stops at")
        self.preprocess = QComboBox()
        for key in CONTROL_PREPROCESSORS:
            self.preprocess.addItem(PREPROCESS_NAMES.get(key, key), key)
        self.preprocess.setToolTip("Prepare the control image: as it is, or its Canny edges")
        self.show_control(control)

        top = QHBoxLayout()
        top.addWidget(self.name, 1)
        top.addWidget(self.remove)
        image_row = QHBoxLayout()
        image_row.addWidget(self.image, 1)
        image_row.addWidget(self.image_file)
        numbers = QHBoxLayout()
        for text, box in (("Weight", self.weight), ("From", self.start), ("To", self.end)):
            numbers.addWidget(QLabel(text))
            numbers.addWidget(box, 1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Image", image_row)
        form.addRow("Prepare", self.preprocess)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addLayout(numbers)
        for box in (self.weight, self.start, self.end):
            box.valueChanged.connect(lambda _v: self.edited.emit())
        for combo in (self.image, self.preprocess):
            combo.activated.connect(lambda _i: self.edited.emit())

    def control(self) -> ControlRef:
        return ControlRef(model=self.model_path, image=str(self.image.currentData()),
                          weight=round(self.weight.value(), 2), start=round(self.start.value(), 2),
                          end=round(self.end.value(), 2), preprocess=str(self.preprocess.currentData()))

    def show_control(self, control: ControlRef) -> None:
        self._show_image(control.image)
        self.weight.setValue(control.weight)
        self.start.setValue(control.start)
        self.end.setValue(control.end)
        self.preprocess.setCurrentIndex(max(0, self.preprocess.findData(control.preprocess)))

    def _show_image(self, image: str) -> None:
        index = self.image.findData(image)
        if index < 0:
            self.image.addItem(Path(image).name, image)
            index = self.image.count() - 1
            self.image.setItemData(index, image, Qt.ItemDataRole.ToolTipRole)
        self.image.setCurrentIndex(index)

    def set_image_file(self, path: str) -> None:
        self._show_image(path)
        self.edited.emit()

    def _browse_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a control image", "", IMAGE_FILTER)
        if path:
            self.set_image_file(path)


class ControlsBox(QWidget):
    """The list of controls: Add… (a ControlNet folder or file; the canvas image at first), each row's settings."""

    edited = Signal()

    def __init__(self, vm: PromptViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.rows: list[ControlRow] = []
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("No controls: add a ControlNet or T2I-Adapter to steer the composition.")
        self.empty.setWordWrap(True)
        self.add_button = QToolButton(text="Add…")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        menu.addAction("ControlNet folder…", self._browse_folder)
        menu.addAction("ControlNet file…", self._browse_file)
        self.add_button.setMenu(menu)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 0, 0, 4)
        layout.addWidget(self.empty)
        layout.addLayout(self.rows_layout)
        layout.addLayout(buttons)
        bind(vm, "controls", self, read=self.controls, write=self.show_controls, signal=self.edited)

    def controls(self) -> tuple[ControlRef, ...]:
        return tuple(row.control() for row in self.rows)

    def show_controls(self, controls: tuple[ControlRef, ...]) -> None:
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for control in controls:
            row = ControlRow(control)
            row.edited.connect(self.edited)
            row.remove_requested.connect(self.remove_row)
            self.rows_layout.addWidget(row)
            self.rows.append(row)
        self.empty.setVisible(not self.rows)

    def add_control(self, model: str, image: str = CANVAS_IMAGE) -> None:
        """Add a control steered by ``model`` (the canvas image unless ``image`` is given)."""
        self.vm.set("controls", (*self.vm.state.controls, ControlRef(model=model, image=image)))

    def remove_row(self, row: ControlRow) -> None:
        index = self.rows.index(row)
        controls = self.vm.state.controls
        self.vm.set("controls", controls[:index] + controls[index + 1:])

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a ControlNet folder")
        if path:
            self.add_control(path)

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a ControlNet file", "", CONTROLNET_FILTER)
        if path:
            self.add_control(path)


class RefinerBox(QWidget):
    """An SDXL refiner folder and the fraction of the steps the base runs before handing over."""

    def __init__(self, vm: PromptViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = QLineEdit()
        self.path.setPlaceholderText("None: the base model finishes")
        self.path.setToolTip("An SDXL refiner model folder (plain text-to-image only)")
        self.browse = QToolButton(text="Folder…")
        self.browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)
        self.at = QDoubleSpinBox()
        set_range(self.at, GenerationRequest, "refiner_at")
        self.at.setSingleStep(0.05)
        self.at.setToolTip("The fraction of the steps the base model runs before the refiner takes over")
        form = _compact_form()
        form.addRow("Model", path_row)
        form.addRow("Hand-off", self.at)
        self.setLayout(form)
        bind(vm, "refiner", self.path, "text", from_widget=lambda text: str(text).strip())
        bind(vm, "refiner_at", self.at)
        vm.changed.connect(lambda name: name == "refiner" and self._enable())
        self._enable()

    def _enable(self) -> None:
        self.at.setEnabled(bool(self.path.text().strip()))

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an SDXL refiner folder")
        if path:
            self.path.setText(path)


class PowerTools(QWidget):
    """The three collapsed sections under the prompt panel's fields."""

    def __init__(self, vm: PromptViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hires = HiresBox(vm)
        self.controls = ControlsBox(vm)
        self.refiner = RefinerBox(vm)
        self.vm = vm
        self.sections = {key: Section(TITLES[key], body) for key, body in
                         (("hires", self.hires), ("controls", self.controls), ("refiner", self.refiner))}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for section in self.sections.values():
            layout.addWidget(section)
        vm.changed.connect(self._open_what_is_set)
        vm.changed.connect(self._show_summaries)
        self._show_summaries()

    def summaries(self) -> dict[str, str]:
        """What each tool does now, in a few words ("" when it is off): a collapsed section still says it."""
        state = self.vm.state
        return {
            "hires": f"{state.hires_scale:g}×" if state.hires_scale > 1 else "",
            "controls": str(len(state.controls)) if state.controls else "",
            "refiner": f"at {state.refiner_at:g}" if state.refiner else "",
        }

    def _show_summaries(self, _name: str = "") -> None:
        for key, summary in self.summaries().items():
            self.sections[key].header.setText(f"{TITLES[key]} · {summary}" if summary else TITLES[key])

    def expand_all(self, expanded: bool = True) -> None:
        for section in self.sections.values():
            section.set_expanded(expanded)

    def _open_what_is_set(self, name: str) -> None:
        """A recalled request that uses a tool opens its section."""
        key = {"hires_scale": "hires", "controls": "controls", "refiner": "refiner"}.get(name)
        if key is None:
            return
        if self.summaries()[key]:
            self.sections[key].set_expanded(True)


def with_canvas_image(controls: tuple[ControlRef, ...], canvas_file: str) -> tuple[ControlRef, ...]:
    """``controls`` with the canvas placeholder replaced by ``canvas_file`` (written by the panel)."""
    return tuple(dataclasses.replace(c, image=canvas_file) if c.image == CANVAS_IMAGE else c for c in controls)
