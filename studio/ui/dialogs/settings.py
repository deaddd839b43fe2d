"""The settings dialog: theme, default model, output folder, model folders, device, backend, memory
budget and options, trusted pickle files; saved with ``Settings.save()`` (the theme, a window matter,
in the window's QSettings, and applied at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.paths import studio_home
from studio.core.requests import BACKENDS, DEFAULT_SCORER, DEVICES
from studio.core.settings import Settings
from studio.ui.theme import THEMES, apply_theme, current_theme, store_theme

if TYPE_CHECKING:
    from studio.session import StudioSession


def size_text(size: int) -> str:
    """``1536`` → ``1.5 KB`` (decimal units, as file managers show them)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


class PathList(QWidget):
    """A list of paths with an Add button (which opens ``browse``) and a Remove button."""

    def __init__(self, paths: list[str], add_label: str, browse, tooltip: str) -> None:
        super().__init__()
        self.list = QListWidget()
        self.list.addItems(paths)
        self.list.setToolTip(tooltip)
        add = QPushButton(add_label)
        add.clicked.connect(browse)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove_selected)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.list, 1)
        row.addLayout(buttons)

    def add(self, path: str) -> None:
        if path and not self.list.findItems(path, Qt.MatchFlag.MatchExactly):
            self.list.addItem(path)

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def paths(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]


class SettingsDialog(QDialog):
    """Edits ``settings`` in place on Save; emits ``saved`` afterwards."""

    saved = Signal(object)  # Settings

    def __init__(self, settings: Settings, parent: QWidget | None = None,
                 session: StudioSession | None = None, models: list[str] | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.settings = settings
        self._theme_on_open = current_theme()
        self.theme = QComboBox()
        self.theme.setObjectName("theme")
        for name in THEMES:
            self.theme.addItem(name.capitalize(), name)
        self.theme.setCurrentIndex(THEMES.index(self._theme_on_open))
        self.theme.setToolTip("System follows the desktop; Light and Dark apply at once.")
        self.theme.currentIndexChanged.connect(lambda _i: apply_theme(self.theme.currentData()))
        self.default_model = QComboBox()
        self.default_model.setObjectName("defaultModel")
        self.default_model.setEditable(True)
        self.default_model.addItems(list(dict.fromkeys(["demo", *(models or [])])))
        self.default_model.setCurrentText(settings.default_model)
        self.default_model.setToolTip("The model the prompt panel starts with (a library name or a path).")
        self.scorer_model = QComboBox()
        self.scorer_model.setObjectName("scorerModel")
        self.scorer_model.setEditable(True)
        scorers = [DEFAULT_SCORER, *(m for m in models or [] if "clip" in m.lower())]
        self.scorer_model.addItems(list(dict.fromkeys(scorers)))
        self.scorer_model.setCurrentText(settings.scorer_model)
        self.scorer_model.setToolTip("The model that scores how well gallery images match a prompt (a CLIP-style "
                                     "scorer: a library name or a path); images are scored again when it changes.")
        self.auto_score = QCheckBox("Score new images automatically")
        self.auto_score.setObjectName("autoScore")
        self.auto_score.setChecked(settings.auto_score)
        self.auto_score.setToolTip("Each new gallery image is scored against its prompt in the background.")
        self.output_folder = QLineEdit(settings.output_folder)
        self.output_folder.setObjectName("outputFolder")
        self.output_folder.setPlaceholderText(f"{studio_home() / 'gallery'} (the default)")
        self.output_folder.setToolTip("Generated images are written here, in a folder a day.")
        browse_output = QPushButton("Browse…")
        browse_output.clicked.connect(self._browse_output)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_folder, 1)
        output_row.addWidget(browse_output)
        self.memory_budget = QDoubleSpinBox()
        self.memory_budget.setObjectName("memoryBudget")
        self.memory_budget.setRange(0.0, 1024.0)
        self.memory_budget.setDecimals(1)
        self.memory_budget.setSingleStep(0.5)
        self.memory_budget.setSuffix(" GB")
        self.memory_budget.setSpecialValueText("Automatic")
        self.memory_budget.setValue(float(settings.memory_budget_gb))
        self.memory_budget.setToolTip("How much memory loaded models may hold together (Automatic: up to "
                                      "three models); older models are unloaded first.")
        self.folder_paths = PathList(
            settings.model_folders, "Add…", self._browse,
            "Folders the studio scans for models (diffusers folders, .safetensors, LM folders).",
        )
        self.folders = self.folder_paths.list
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        self.device.setToolTip("auto picks CUDA or MPS when available, else the CPU.")
        self.backend = QComboBox()
        self.backend.addItems(BACKENDS)
        self.backend.setCurrentText(settings.backend)
        self.memory = {
            "attention_slicing": QCheckBox("Attention slicing (less memory, a little slower)"),
            "vae_tiling": QCheckBox("VAE tiling (large images in tiles)"),
            "cpu_offload": QCheckBox("Model CPU offload (CUDA: keep only the running part on the GPU)"),
        }
        memory_box = QVBoxLayout()
        for name, box in self.memory.items():
            box.setChecked(bool(getattr(settings, name)))
            memory_box.addWidget(box)
        self.pickle_paths = PathList(
            settings.allowed_pickles, "Allow a file…", self._browse_pickle,
            "Pickle checkpoints (.ckpt, .pt, .bin) can run hidden code when opened. Only files listed here "
            "are loaded, with torch's weights-only reader. Prefer .safetensors.",
        )
        self.onnx_cache = QLabel()
        self.onnx_cache.setObjectName("onnxCacheSize")
        self.onnx_cache.setToolTip("Models exported for the ONNX Runtime backend (STUDIO_HOME/cache/onnx); "
                                   "a cleared model is exported again by its next ONNX job.")
        self.clear_onnx = QPushButton("Clear")
        self.clear_onnx.clicked.connect(self.clear_onnx_cache)
        onnx_row = QHBoxLayout()
        onnx_row.addWidget(self.onnx_cache, 1)
        onnx_row.addWidget(self.clear_onnx)
        self.refresh_onnx_cache()
        self.error = QLabel()
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Default model", self.default_model)
        form.addRow("Output folder", output_row)
        form.addRow("Scorer model", self.scorer_model)
        form.addRow("", self.auto_score)
        form.addRow("Model folders", self.folder_paths)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
        form.addRow("ONNX export cache", onnx_row)
        form.addRow("Memory budget", self.memory_budget)
        form.addRow("Memory", memory_box)
        form.addRow("Allowed pickle files", self.pickle_paths)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(box)
        self.resize(640, 600)

    def refresh_onnx_cache(self) -> None:
        if self.session is None:
            self.onnx_cache.setText("—")
            self.clear_onnx.setEnabled(False)
            return
        size = self.session.onnx_cache_size()
        self.onnx_cache.setText(size_text(size) if size else "empty")
        self.clear_onnx.setEnabled(size > 0)

    def clear_onnx_cache(self) -> None:
        if self.session is None:
            return
        try:
            freed = self.session.clear_onnx_cache()
        except OSError as exc:
            self.error.setText(f"Could not clear the ONNX export cache: {exc}")
            return
        self.refresh_onnx_cache()
        self.onnx_cache.setText(f"empty ({size_text(freed)} freed)")

    def add_folder(self, path: str) -> None:
        self.folder_paths.add(path)

    def remove_selected(self) -> None:
        self.folder_paths.remove_selected()

    def folder_list(self) -> list[str]:
        return self.folder_paths.paths()

    def allow_pickle(self, path: str) -> None:
        self.pickle_paths.add(path)

    def save(self) -> None:
        fields = ("model_folders", "device", "backend", "allowed_pickles", "default_model", "output_folder",
                  "memory_budget_gb", "scorer_model", "auto_score", *self.memory)
        previous = {name: getattr(self.settings, name) for name in fields}
        self.settings.default_model = self.default_model.currentText().strip() or "demo"
        self.settings.output_folder = self.output_folder.text().strip()
        self.settings.scorer_model = self.scorer_model.currentText().strip() or DEFAULT_SCORER
        self.settings.auto_score = self.auto_score.isChecked()
        self.settings.memory_budget_gb = float(self.memory_budget.value())
        self.settings.model_folders = self.folder_list()
        self.settings.device = self.device.currentText()
        self.settings.backend = self.backend.currentText()
        self.settings.allowed_pickles = self.pickle_paths.paths()
        for name, box in self.memory.items():
            setattr(self.settings, name, box.isChecked())
        try:
            self.settings.save()
        except (StudioError, OSError) as exc:
            for name, value in previous.items():
                setattr(self.settings, name, value)
            self.error.setText(f"Could not save the settings: {getattr(exc, 'message', exc)}")
            return
        store_theme(self.theme.currentData())
        self._theme_on_open = self.theme.currentData()
        self.saved.emit(self.settings)
        self.accept()

    def reject(self) -> None:
        """Cancel: the theme tried meanwhile is undone too."""
        apply_theme(self._theme_on_open)
        super().reject()

    def _browse_output(self) -> None:
        dialog = QFileDialog(self, "Output folder", self.output_folder.text())
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.output_folder.setText)
        dialog.open()

    def _browse_pickle(self) -> None:
        dialog = QFileDialog(self, "Allow a pickle checkpoint", "", "Checkpoints (*.ckpt *.pt *.pth *.bin)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.allow_pickle)
        dialog.open()

    def _browse(self) -> None:
        dialog = QFileDialog(self, "Add a model folder")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.add_folder)
        dialog.open()
