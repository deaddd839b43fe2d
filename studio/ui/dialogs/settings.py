"""The settings dialog: model folders, device, backend, memory options and trusted pickle files;
saved with ``Settings.save()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.requests import BACKENDS, DEVICES
from studio.core.settings import Settings

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
                 session: StudioSession | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.settings = settings
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
        form.addRow("Model folders", self.folder_paths)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
        form.addRow("ONNX export cache", onnx_row)
        form.addRow("Memory", memory_box)
        form.addRow("Allowed pickle files", self.pickle_paths)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(box)
        self.resize(620, 480)

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
        fields = ("model_folders", "device", "backend", "allowed_pickles", *self.memory)
        previous = {name: getattr(self.settings, name) for name in fields}
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
        self.saved.emit(self.settings)
        self.accept()

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
