"""The settings dialog: model folders, device, backend, memory options and trusted pickle files;
saved with ``Settings.save()``."""

from __future__ import annotations

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

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.error = QLabel()
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Model folders", self.folder_paths)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
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
