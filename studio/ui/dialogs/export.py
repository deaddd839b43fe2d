"""Export images: format, quality, resize, file names, invisible and visible watermarks (with a live
preview of the visible mark), metadata; the export runs as a job with progress and cancel.

The dialog builds one :class:`~studio.core.requests.ExportRequest` and submits it to the session's
runner; the export package does the work on the worker. The preview uses the same
``visible.apply_visible`` the export uses, on a downscaled copy of the first image.

Gallery hook: :func:`gallery_selection` asks the gallery dock's widget for ``selected_paths()``
(a list of image files); without one the dialog starts from files the user picks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from studio.core.errors import StudioError, describe
from studio.core.requests import ExportRequest
from studio.jobs.queue import Job
from studio.ui.bridge import JobWatch
from studio.ui.qsettings import ui_settings
from studio.ui.tasks import run_in_background

PREVIEW_SIDE = 420
ANCHORS = ("top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp);;All files (*)"


def gallery_selection(window: QWidget) -> list[str]:
    """The gallery's selected image files, if the gallery widget offers ``selected_paths()``."""
    docks = getattr(window, "docks", {})
    widget = docks["gallery"].widget() if "gallery" in docks else None
    for candidate in (getattr(window, "gallery_panel", None), widget):
        method = getattr(candidate, "selected_paths", None)
        if callable(method):
            try:
                return [str(p) for p in method()]
            except Exception:  # a gallery still loading: fall back to choosing files
                return []
    return []


def _default_folder() -> Path:
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()


def _to_qimage(image) -> QImage:
    rgba = image.convert("RGBA")
    return QImage(rgba.tobytes(), rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


def _load_preview(path: str):
    from studio.export.batch import load_source

    image = load_source(path)
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return image.convert("RGB")


class ExportDialog(QDialog):
    """Choose how to export ``images``; Export submits a job and shows its progress (Cancel stops it).

    ``preview_changed`` carries the marked preview each time it changes (a hook for the main canvas)."""

    preview_changed = Signal(QImage)

    def __init__(
        self,
        images: list[str],
        submit: Callable[[ExportRequest], Job],
        cancel: Callable[[int], None],
        bridge,
        out_dir: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export images")
        self.setObjectName("exportDialog")
        self._submit, self._cancel, self.bridge = submit, cancel, bridge
        self.job_id: int | None = None
        self._watch: JobWatch | None = None
        self.result_paths: list[str] = []
        self._base = None  # PIL preview of the first image
        self._logo = None

        self.files = QListWidget()
        self.files.setMaximumHeight(90)
        add = QPushButton("Add images…")
        add.clicked.connect(self._add_files)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)

        self.folder = QLineEdit(out_dir or str(ui_settings().value("export/folder", "") or _default_folder()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        self.format = QComboBox()
        self.format.addItems(["png", "jpeg", "webp"])
        self.quality = QSpinBox(minimum=1, maximum=100, value=92)
        self.lossless = QCheckBox("Lossless (WebP)")
        self.resize_side = QSpinBox(minimum=0, maximum=32768, value=0, singleStep=64, suffix=" px")
        self.resize_side.setSpecialValueText("original size")
        self.template = QLineEdit("{stem}")  # the source file's name; a name that exists gets -2, -3
        self.template.setToolTip("Placeholders: {n} {date} {time} {seed} {prompt} {stem}")
        self.conflict = QComboBox()
        self.conflict.addItem("Add a number to the name", "rename")
        self.conflict.addItem("Stop, write nothing", "error")
        self.conflict.addItem("Overwrite the existing file", "overwrite")
        self.invisible = QCheckBox("Invisible watermark (survives JPEG, resizing, cropping)")
        self.invisible.setChecked(True)
        self.owner = QSpinBox(minimum=0, maximum=65535, toolTip="Your studio/user id carried by the mark")
        self.strip = QCheckBox("Strip metadata (no parameters, no AI label, no C2PA)")

        self.mark_none = QRadioButton("None")
        self.mark_text = QRadioButton("Text")
        self.mark_logo = QRadioButton("Logo")
        self.mark_none.setChecked(True)
        self.text = QLineEdit("© Studio")
        self.logo_path = QLineEdit(placeholderText="Logo image (PNG with transparency works best)")
        logo_browse = QPushButton("…")
        logo_browse.clicked.connect(self._browse_logo)
        self.anchor = QComboBox()
        self.anchor.addItems(ANCHORS)
        self.anchor.setCurrentText("bottom-right")
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=60)
        self.scale = QSlider(Qt.Orientation.Horizontal, minimum=2, maximum=100, value=25)
        self.margin = QDoubleSpinBox(minimum=0.0, maximum=0.45, singleStep=0.01, value=0.03, decimals=2)
        self.tile = QCheckBox("Tile over the whole image")
        self.preview = QLabel(objectName="exportPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIDE, PREVIEW_SIDE * 3 // 4)
        self.preview.setText("Preview")

        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel(objectName="exportStatus", wordWrap=True)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel export", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.cancel_button.hide()
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.close_button.clicked.connect(self.reject)

        # layout
        files_box = QGroupBox("Images")
        fl = QVBoxLayout(files_box)
        fl.addWidget(self.files)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        fl.addLayout(row)
        out_box = QGroupBox("Output")
        of = QFormLayout(out_box)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        of.addRow("Folder", folder_row)
        fmt_row = QHBoxLayout()
        fmt_row.addWidget(self.format)
        fmt_row.addWidget(QLabel("Quality"))
        fmt_row.addWidget(self.quality)
        fmt_row.addWidget(self.lossless)
        of.addRow("Format", fmt_row)
        of.addRow("Resize (long side)", self.resize_side)
        of.addRow("File names", self.template)
        of.addRow("If a file exists", self.conflict)
        mark_box = QGroupBox("Marks and metadata")
        mf = QFormLayout(mark_box)
        owner_row = QHBoxLayout()
        owner_row.addWidget(self.invisible, 1)
        owner_row.addWidget(QLabel("Owner id"))
        owner_row.addWidget(self.owner)
        mf.addRow(owner_row)
        kind_row = QHBoxLayout()
        for w in (self.mark_none, self.mark_text, self.mark_logo):
            kind_row.addWidget(w)
        kind_row.addStretch(1)
        mf.addRow("Visible mark", kind_row)
        mf.addRow("Text", self.text)
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo_path, 1)
        logo_row.addWidget(logo_browse)
        mf.addRow("Logo", logo_row)
        mf.addRow("Position", self.anchor)
        mf.addRow("Opacity", self._with_value(self.opacity, "{} %"))
        mf.addRow("Scale", self._with_value(self.scale, "{} % of the width"))
        mf.addRow("Margin", self.margin)
        mf.addRow(self.tile)
        mf.addRow(self.strip)
        left = QVBoxLayout()
        left.addWidget(files_box)
        left.addWidget(out_box)
        left.addWidget(mark_box)
        right = QVBoxLayout()
        right.addWidget(QLabel("Preview of the visible mark"))
        right.addWidget(self.preview, 1)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self._preview_timer = QTimer(self, singleShot=True, interval=80)
        self._preview_timer.timeout.connect(self.update_preview)
        for signal in (self.text.textChanged, self.anchor.currentIndexChanged, self.opacity.valueChanged,
                       self.scale.valueChanged, self.margin.valueChanged, self.tile.toggled,
                       self.mark_none.toggled, self.mark_text.toggled, self.mark_logo.toggled,
                       self.logo_path.editingFinished):
            signal.connect(self._preview_timer.start)
        self.logo_path.editingFinished.connect(self._load_logo)
        self.format.currentTextChanged.connect(self._format_changed)
        self._format_changed(self.format.currentText())
        for path in images:
            self.files.addItem(path)
        self._load_base()

    @staticmethod
    def _with_value(slider: QSlider, text: str) -> QWidget:
        """A slider with its value written next to it."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        label = QLabel(text.format(slider.value()))
        label.setMinimumWidth(110)
        slider.valueChanged.connect(lambda v: label.setText(text.format(v)))
        row.addWidget(slider, 1)
        row.addWidget(label)
        return box

    # -- inputs ------------------------------------------------------------------------
    def images(self) -> list[str]:
        return [self.files.item(i).text() for i in range(self.files.count())]

    def _add_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to export", "", IMAGE_FILTER)
        for path in paths:
            self.files.addItem(path)
        if paths and self._base is None:
            self._load_base()

    def _remove_selected(self) -> None:
        for item in self.files.selectedItems():
            self.files.takeItem(self.files.row(item))

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _browse_logo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Logo", "", IMAGE_FILTER)
        if path:
            self.logo_path.setText(path)
            self.mark_logo.setChecked(True)
            self._load_logo()

    def _format_changed(self, fmt: str) -> None:
        self.quality.setEnabled(fmt in ("jpeg", "webp"))
        self.lossless.setEnabled(fmt == "webp")

    def _load_logo(self) -> None:
        path = self.logo_path.text().strip()
        self._logo = None
        if not path:
            return
        try:
            from studio.export.batch import load_source

            self._logo = load_source(path)
        except StudioError as exc:
            self.status.setText(exc.user_text())
        self._preview_timer.start()

    def _load_base(self) -> None:
        images = self.images()
        if not images:
            return

        def done(image) -> None:
            if not isValid(self.preview):  # the dialog was closed while the image loaded
                return
            self._base = image
            self.update_preview()

        def failed(exc: BaseException) -> None:
            if isValid(self.preview):
                self.preview.setText(f"No preview: {describe(exc)}")

        run_in_background(lambda: _load_preview(images[0]), done, failed)

    # -- the request -------------------------------------------------------------------
    def visible_kind(self) -> str:
        return "text" if self.mark_text.isChecked() else "logo" if self.mark_logo.isChecked() else "none"

    def request(self) -> ExportRequest:
        kind = self.visible_kind()
        fmt = self.format.currentText()
        return ExportRequest(
            images=tuple(self.images()),
            out_dir=self.folder.text().strip(),
            format=fmt,
            quality=self.quality.value(),
            lossless=self.lossless.isChecked() and fmt == "webp",
            resize=self.resize_side.value(),
            name_template=self.template.text().strip() or "{stem}",
            conflict=str(self.conflict.currentData()),
            watermark=self.invisible.isChecked(),
            watermark_owner=self.owner.value(),
            strip_metadata=self.strip.isChecked(),
            visible_text=self.text.text() if kind == "text" and self.text.text().strip() else None,
            visible_image=self.logo_path.text().strip() if kind == "logo" and self.logo_path.text().strip() else None,
            visible_anchor=self.anchor.currentText(),
            visible_opacity=self.opacity.value() / 100,
            visible_scale=self.scale.value() / 100,
            visible_margin=round(self.margin.value(), 3),
            visible_tile=self.tile.isChecked(),
        )

    def update_preview(self) -> None:
        """The first image, downscaled, with the visible mark exactly as export will place it."""
        if self._base is None:
            return
        from studio.export import batch, visible

        image = self._base
        try:
            mark = batch.visible_mark_of(self.request())
            if mark is not None and (mark.text or self._logo is not None):
                image = visible.apply_visible(image, mark, self._logo if self.visible_kind() == "logo" else None)
        except StudioError as exc:
            self.status.setText(exc.user_text())
        qimage = _to_qimage(image)
        pixmap = QPixmap.fromImage(qimage)
        if max(pixmap.width(), pixmap.height()) < PREVIEW_SIDE // 2:  # a 64 px picture: shown enlarged, crisp
            pixmap = pixmap.scaled(PREVIEW_SIDE // 2, PREVIEW_SIDE // 2, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.FastTransformation)
        self.preview.setPixmap(pixmap)
        self.preview_image = image
        self.preview_changed.emit(qimage)

    # -- the job -----------------------------------------------------------------------
    def start_export(self) -> bool:
        request = self.request()
        try:
            request.validate()
            if request.out_dir and not os.path.isdir(os.path.expanduser(request.out_dir)):
                raise StudioError(f"The folder '{request.out_dir}' does not exist.", "Choose another folder.")
            job = self._submit(request)
        except StudioError as exc:
            self.status.setText(exc.user_text())
            return False
        except Exception as exc:
            self.status.setText(describe(exc))
            return False
        self.job_id = job.id
        self._watch = self.bridge.watch(job.id)  # this job's events only, released when it ends
        self._watch.progress.connect(self._on_progress)
        self._watch.finished.connect(self._on_finished)
        self._watch.failed.connect(self._on_failed)
        self._watch.cancelled.connect(self._on_cancelled)
        ui_settings().setValue("export/folder", request.out_dir)
        self.progress.setRange(0, len(request.images))
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText("Exporting…")
        self.export_button.setEnabled(False)
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        return True

    def cancel_export(self) -> None:
        if self.job_id is not None:
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling… (the image being written is finished or left untouched)")
            self._cancel(self.job_id)  # a queued job is cancelled at once (and _on_cancelled runs now)

    def _ended(self) -> None:
        self.job_id = None
        self._watch = None  # the bridge releases it after the job's end
        self.export_button.setEnabled(True)
        self.cancel_button.hide()

    def _on_progress(self, step: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(step)
        if step >= 1 and message:
            self.status.setText(f"Exported {step} of {total}: {message}")

    def _on_finished(self, job: Job) -> None:
        self._ended()
        self.result_paths = [a.path for a in job.result.artifacts] if job.result else []
        self.progress.setValue(self.progress.maximum())
        folder = Path(self.result_paths[0]).parent if self.result_paths else self.folder.text()
        n = len(self.result_paths)
        self.status.setText(f"Exported {n} image{'s' if n != 1 else ''} to {folder}.")

    def _on_failed(self, job: Job) -> None:
        self._ended()
        self.status.setText(f"Export failed: {job.error}")

    def _on_cancelled(self, _job: Job) -> None:
        self._ended()
        self.status.setText("Export cancelled; the files already written are kept, nothing is half-written.")

    def done(self, result: int) -> None:
        if self._watch is not None:
            self._watch.release()  # the job may go on; this dialog stops following it
            self._watch = None
        super().done(result)
