"""The Fine-tune (LoRA) dialog: base model, data set (thumbnails with editable captions), settings.

Start builds the same :class:`TrainRequest` ``studio train lora`` builds from the same flags (the
recipe's own flags and defaults, from its plugin: :func:`studio.cli.train_cmd.recipe_parser`) and
submits it. Input the run would fail on at once (no images, no captions and no instance prompt, an
output folder that cannot be written) is said here, and nothing is submitted.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QDoubleValidator, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import BadInput, StudioError
from studio.core.library import ModelEntry
from studio.core.paths import home_path
from studio.core.requests import TrainRequest
from studio.jobs.queue import Job
from studio.ui.tasks import run_in_background
from studio.ui.training_runs import DatasetItem, DatasetScan, run_info, scan_dataset, write_caption

RECIPE = "lora"
THUMB = 64
ItemRole = Qt.ItemDataRole.UserRole + 1
TEXT_ENCODER = (("Auto (when a caption word is new)", None), ("On", True), ("Off", False))


class _Parser(argparse.ArgumentParser):
    """The recipe's flags, raising instead of exiting on a bad value."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(message)


def recipe_defaults(registry: Any, entry: ModelEntry | None = None) -> dict[str, Any]:
    """The recipe's flag defaults, as its plugin declares them, with what it recommends for ``entry``
    (the demo's studio-defaults.json, say), as ``studio train lora --model`` applies them."""
    from studio.cli.train_cmd import recipe_parser

    parser = recipe_parser(RECIPE, _Parser, registry, entry=entry)
    return vars(parser.parse_args(["--model", "-", "--data", ".", "--out", "x.safetensors"]))


# Fields a model may recommend a value for: the recipe's flag name and the dialog's widget attribute.
RECOMMENDED_FIELDS = {"steps": "steps", "rank": "rank", "lr": "lr_edit", "batch_size": "batch"}


def log_interval(steps: int) -> int:
    """Steps between logged points: ~200 points on a curve, at least one every 10 steps."""
    return max(1, min(10, steps // 200))


def scan_with_thumbnails(folder: str) -> tuple[DatasetScan, dict[str, QImage]]:
    """The data set and a thumbnail per readable image (runs off the GUI thread: QImage, no pixmaps)."""
    scan = scan_dataset(folder)
    thumbs = {}
    for item in scan.items:
        image = QImage(str(item.path))
        if not image.isNull():
            thumbs[str(item.path)] = image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation)
    return scan, thumbs


class DatasetView(QWidget):
    """Thumbnails with their captions; a caption edited here is saved where the trainer reads it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scan: DatasetScan | None = None
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Image", "Caption (double-click to edit)"])
        self.table.verticalHeader().hide()
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 170)
        self.table.itemChanged.connect(self._caption_edited)
        self.summary = QLabel("Choose a data folder: images with a caption .txt beside each.")
        self.summary.setWordWrap(True)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems.hide()
        self.error = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problems)

    def show_scan(self, scan: DatasetScan, thumbs: dict[str, QImage]) -> None:
        self.scan = scan
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for item in scan.items:
            row = self.table.rowCount()
            self.table.insertRow(row)
            name = QTableWidgetItem(item.path.name)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            if (thumb := thumbs.get(str(item.path))) is not None:
                name.setIcon(QIcon(QPixmap.fromImage(thumb)))
            caption = QTableWidgetItem(item.caption)
            caption.setData(ItemRole, item)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, caption)
            self._mark(row, item)
        self.table.blockSignals(False)
        self._summarise()

    def _mark(self, row: int, item: DatasetItem) -> None:
        name, caption = self.table.item(row, 0), self.table.item(row, 1)
        missing = not item.caption
        name.setText(f"{item.path.name}\n⚠ no caption" if missing else item.path.name)
        tip = ("No caption: this image trains with the instance prompt (without one it is skipped). "
               "Double-click to write one." if missing else
               f"Saved in {'metadata.jsonl' if item.source == 'metadata' else item.path.with_suffix('.txt').name}")
        for cell in (name, caption):
            cell.setToolTip(tip)
            cell.setBackground(QBrush(QColor(255, 200, 0, 60)) if missing else QBrush())

    def _summarise(self) -> None:
        scan = self.scan
        if scan is None:
            return
        if scan.error:
            self.summary.setText(scan.error)
        else:
            parts = [f"{len(scan.items)} image{'s' if len(scan.items) != 1 else ''}"]
            if scan.uncaptioned:
                parts.append(f"{scan.uncaptioned} without a caption (flagged)")
            if scan.unreadable:
                parts.append(f"{len(scan.unreadable)} file(s) that will be skipped")
            self.summary.setText(" · ".join(parts) + f" in {scan.root}")
        self.problems.setVisible(bool(scan.unreadable))
        self.problems.setText("Skipped: " + "; ".join(scan.unreadable[:12])
                              + (f" … and {len(scan.unreadable) - 12} more" if len(scan.unreadable) > 12 else ""))

    def _caption_edited(self, cell: QTableWidgetItem) -> None:
        if cell.column() != 1 or self.scan is None:
            return
        item: DatasetItem = cell.data(ItemRole)
        text = cell.text()
        if " ".join(text.split()) == item.caption:
            return
        try:
            updated = write_caption(item, text)
        except OSError as exc:
            self.error = f"Could not save the caption of {item.path.name}: {exc}"
            self.summary.setText(self.error)
            return
        self.error = ""
        index = self.scan.items.index(item)
        self.scan.items[index] = updated
        self.table.blockSignals(True)
        cell.setData(ItemRole, updated)
        cell.setText(updated.caption)
        self._mark(cell.row(), updated)
        self.table.blockSignals(False)
        self._summarise()

    def edit_caption(self, row: int, text: str) -> None:
        """Type a caption into ``row`` as a person would (the cell's editor, committed)."""
        self.table.item(row, 1).setText(text)


class FineTuneDialog(QDialog):
    """``submit(request) -> Job`` queues the run; ``started(job)`` is called with it."""

    def __init__(
        self,
        registry: Any,
        models: list[ModelEntry],
        submit: Callable[[TrainRequest], Job],
        started: Callable[[Job], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune (LoRA)")
        self.setObjectName("fineTuneDialog")
        self._submit, self._started = submit, started
        self.registry = registry
        self.defaults = recipe_defaults(registry)
        record = registry.for_recipe(RECIPE)
        kinds = set(record.manifest.model_kinds)
        self.job: Job | None = None
        self._scanned_folder = ""

        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.setToolTip("The base model: a library model, or a path to a diffusers folder or checkpoint")
        self._entries: dict[str, ModelEntry] = {}
        for entry in models:
            if entry.kind in kinds:
                self.model_box.addItem(entry.name, entry.name if entry.source == "demo" else entry.path)
                self._entries.setdefault(entry.name, entry)
                self._entries.setdefault(str(entry.path), entry)
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("folder of images, each with a caption .txt beside it")
        self.data_edit.editingFinished.connect(self.rescan)
        self.data_browse = QPushButton("Browse…")
        self.data_browse.clicked.connect(self._browse_data)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText(str(home_path("loras") / "NAME.safetensors"))
        self.out_edit.textChanged.connect(self._describe_run)
        self.out_browse = QPushButton("Browse…")
        self.out_browse.clicked.connect(self._browse_out)
        self.steps = self._spin(1, 1_000_000, int(self.defaults.get("steps") or 1000))
        self.rank = self._spin(1, 256, int(self.defaults.get("rank") or 16))
        self.lr_edit = QLineEdit(f"{float(self.defaults.get('lr') or 1e-4):g}")
        validator = QDoubleValidator(1e-8, 1.0, 10, self.lr_edit)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.lr_edit.setValidator(validator)
        self.batch = self._spin(1, 256, int(self.defaults.get("batch_size") or 4))
        self.resolution = self._spin(0, 2048, int(self.defaults.get("resolution") or 0))
        self.resolution.setSingleStep(8)
        self.resolution.setSpecialValueText("the model's own")
        self.seed = self._spin(0, 2**31 - 1, int(self.defaults.get("seed") or 0))
        self.instance_prompt = QLineEdit(str(self.defaults.get("instance_prompt") or ""))
        self.instance_prompt.setPlaceholderText("caption for images without one (optional)")
        self.text_encoder = QComboBox()
        for text, value in TEXT_ENCODER:
            self.text_encoder.addItem(text, value)
        self.sample_prompts = QPlainTextEdit()
        self.sample_prompts.setPlaceholderText("one prompt a line (default: the first caption)")
        self.sample_prompts.setFixedHeight(self.fontMetrics().lineSpacing() * 4)
        self.sample_every = self._spin(0, 1_000_000, int(self.defaults.get("sample_every") or 0))
        self.sample_every.setSpecialValueText("never")
        self.checkpoint_every = self._spin(0, 1_000_000, int(self.defaults.get("checkpoint_every") or 0))
        self.checkpoint_every.setSpecialValueText("automatic")  # the recipe's: a fifth of the steps, at most 100
        self.checkpoint_every.setToolTip("Steps between checkpoints; automatic keeps at least five in a short run")
        self.extra_flags = QLineEdit()
        self.extra_flags.setPlaceholderText("more flags of 'studio train lora', e.g. --lr-schedule cosine")
        self.extra_flags.setToolTip("Any other flag of 'studio train lora --help' (gradient accumulation, "
                                    "schedule, mixed precision, format…), as on the command line")
        self.start_over = QCheckBox("Start over (ignore this run's checkpoints)")
        self.run_note = QLabel()
        self.run_note.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("fineTuneMessage")
        self.message.setStyleSheet("color: #c0392b;")
        self.message.hide()

        form = QFormLayout()
        form.addRow("Base model", self.model_box)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(self.data_browse)
        form.addRow("Data folder", data_row)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(self.out_browse)
        form.addRow("Output file", out_row)
        form.addRow("", self.run_note)
        form.addRow("Steps", self.steps)
        form.addRow("Rank", self.rank)
        form.addRow("Learning rate", self.lr_edit)
        form.addRow("Batch size", self.batch)
        form.addRow("Resolution", self.resolution)
        form.addRow("Seed", self.seed)
        form.addRow("Instance prompt", self.instance_prompt)
        form.addRow("Train text encoder", self.text_encoder)
        form.addRow("Sample prompts", self.sample_prompts)
        form.addRow("Sample every", self.sample_every)
        form.addRow("Checkpoint every", self.checkpoint_every)
        form.addRow("Other flags", self.extra_flags)
        form.addRow("", self.start_over)
        settings = QWidget()
        settings.setLayout(form)
        self.dataset = DatasetView()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(settings)
        split.addWidget(self.dataset)
        split.setSizes([430, 470])
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(940, 640)
        self._shown_defaults = {key: self._field_value(key) for key in RECOMMENDED_FIELDS}
        self._model_changed()
        self.model_box.currentTextChanged.connect(self._model_changed)
        self._describe_run()

    # -- the model's recommended settings ------------------------------------------------------------
    def chosen_entry(self) -> ModelEntry | None:
        """The library model the model box names (by its name or path), or None for another path."""
        return self._entries.get(self.model_box.currentText().strip())

    def _field_value(self, key: str) -> str:
        widget = getattr(self, RECOMMENDED_FIELDS[key])
        return widget.text().strip() if isinstance(widget, QLineEdit) else str(widget.value())

    def _model_changed(self) -> None:
        """Fill in what the chosen model recommends (steps, rank, learning rate, batch), as the CLI
        does for ``--model``; a value the user changed stays."""
        try:
            recommended = recipe_defaults(self.registry, self.chosen_entry())
        except StudioError:
            return
        for key, attribute in RECOMMENDED_FIELDS.items():
            if key not in recommended or self._field_value(key) != self._shown_defaults.get(key):
                continue
            widget = getattr(self, attribute)
            if isinstance(widget, QLineEdit):
                widget.setText(f"{float(recommended[key]):g}")
            else:
                widget.setValue(int(recommended[key]))
            self._shown_defaults[key] = self._field_value(key)

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        return box

    # -- data set ---------------------------------------------------------------------------------
    def _browse_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_edit.text())
        if folder:
            self.set_data_folder(folder)

    def set_data_folder(self, folder: str) -> None:
        self.data_edit.setText(folder)
        if not self.out_edit.text().strip():
            self.out_edit.setText(str(home_path("loras") / f"{Path(folder).name or 'lora'}.safetensors"))
        self.rescan()

    def rescan(self) -> None:
        """Read the data folder again, off the GUI thread (Pillow opens every image)."""
        folder = self.data_edit.text().strip()
        if not folder:
            return
        self._scanned_folder = ""
        self.dataset.summary.setText(f"Reading {folder}…")
        run_in_background(lambda: scan_with_thumbnails(folder), lambda found: self._scanned(folder, found),
                          owner=self)

    def _scanned(self, folder: str, found: tuple[DatasetScan, dict[str, QImage]]) -> None:
        if folder != self.data_edit.text().strip():
            return  # the user chose another folder meanwhile
        self._scanned_folder = folder
        self.dataset.show_scan(*found)

    @property
    def scanning(self) -> bool:
        return bool(self.data_edit.text().strip()) and self._scanned_folder != self.data_edit.text().strip()

    # -- output ---------------------------------------------------------------------------------------
    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "LoRA file", self.out_edit.text() or str(home_path("loras")),
                                              "LoRA (*.safetensors)")
        if path:
            self.out_edit.setText(path if path.endswith(".safetensors") else path + ".safetensors")

    def _out_path(self) -> Path | None:
        text = self.out_edit.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")

    def _run_dir(self) -> Path | None:
        out = self._out_path()
        if out is None:
            return None
        return Path(TrainRequest(recipe=RECIPE, options={"out": str(out)}).resolved().run_dir)

    def _describe_run(self) -> None:
        """Say what Start does with an earlier run of the same output (it continues it)."""
        run_dir = self._run_dir()
        if run_dir is None or not (run_dir / "metrics.jsonl").is_file():
            self.run_note.setText("")
            self.run_note.hide()
            self.start_over.hide()
            return
        info = run_info(run_dir)
        self.run_note.setText(f"A run for this file exists ({info.name}: {info.status}, step {info.step}"
                              f"{f'/{info.total}' if info.total else ''}). Start continues it from its last "
                              "checkpoint, up to the steps below; tick Start over to train anew.")
        self.run_note.show()
        self.start_over.show()

    # -- start ------------------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def validate(self) -> str:
        """What keeps the run from starting ("" when nothing does)."""
        if not self.model_box.currentText().strip():
            return "Choose a base model."
        folder = self.data_edit.text().strip()
        if not folder:
            return "Choose a data folder: images with a caption .txt beside each."
        scan = scan_dataset(folder, check=False)
        if scan.error:
            return scan.error
        if not scan.items:
            return f"The data folder '{folder}' holds no images (.png, .jpg, .webp)."
        if scan.uncaptioned == len(scan.items) and not self.instance_prompt.text().strip():
            return ("None of the images has a caption: write captions in the list (double-click), "
                    "or give an instance prompt.")
        out = self._out_path()
        if out is None:
            return "Choose the LoRA file to write (.safetensors)."
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"The output folder '{out.parent}' cannot be created: {exc.strerror or exc}."
        if not os.access(out.parent, os.W_OK):
            return f"The output folder '{out.parent}' is not writable: choose another place for the LoRA file."
        if out.is_dir():
            return f"'{out}' is a folder: give a file name ending in .safetensors."
        try:
            float(self.lr_edit.text())
        except ValueError:
            return f"The learning rate '{self.lr_edit.text()}' is not a number."
        return ""

    def flags(self) -> list[str]:
        """The ``studio train lora`` flags this dialog stands for."""
        model = self.model_box.currentData() if self.model_box.currentText() == self.model_box.itemText(
            self.model_box.currentIndex()) else None
        argv = ["--model", str(model or self.model_box.currentText().strip()),
                "--data", self.data_edit.text().strip(), "--out", str(self._out_path()),
                "--steps", str(self.steps.value()), "--rank", str(self.rank.value()),
                "--lr", self.lr_edit.text().strip(), "--batch-size", str(self.batch.value()),
                "--seed", str(self.seed.value()), "--sample-every", str(self.sample_every.value()),
                "--instance-prompt", self.instance_prompt.text().strip()]
        if self.checkpoint_every.value():
            argv += ["--checkpoint-every", str(self.checkpoint_every.value())]
        if self.resolution.value():
            argv += ["--resolution", str(self.resolution.value())]
        encoder = self.text_encoder.currentData()
        if encoder is not None:
            argv.append("--train-text-encoder" if encoder else "--no-train-text-encoder")
        for prompt in self.sample_prompts.toPlainText().splitlines():
            if prompt.strip():
                argv += ["--sample-prompt", prompt.strip()]
        if self.start_over.isVisible() and self.start_over.isChecked():
            argv.append("--no-resume")
        try:
            argv += shlex.split(self.extra_flags.text())
        except ValueError as exc:
            raise BadInput(f"The other flags cannot be read: {exc}.") from None
        return argv

    def request(self) -> TrainRequest:
        from studio.cli.train_cmd import recipe_parser, request_from_flags

        parser = recipe_parser(RECIPE, _Parser, self.registry, entry=self.chosen_entry())  # what the dialog
        request = request_from_flags(RECIPE, parser.parse_args(self.flags()))  # does not show: the model's
        options = {**request.options, "log_every": log_interval(request.steps)}
        return request.replace(options=options)  # type: ignore[return-value]

    def start(self) -> None:
        """Check the input, then queue the run; a problem is shown here and nothing is queued."""
        problem = self.validate()
        if not problem:
            try:
                request = self.request()
                request.validate()
                self.job = self._submit(request)
            except StudioError as exc:
                problem = exc.user_text()
        if problem:
            self.show_message(problem)
            return
        self.show_message("")
        if self._started is not None and self.job is not None:
            self._started(self.job)
        self.accept()
