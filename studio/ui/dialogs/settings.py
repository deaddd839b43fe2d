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


class SettingsDialog(QDialog):
    """Edits ``settings`` in place on Save; emits ``saved`` afterwards."""

    saved = Signal(object)  # Settings

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.settings = settings
        self.folders = QListWidget()
        self.folders.addItems(settings.model_folders)
        self.folders.setToolTip("Folders the studio scans for models (diffusers folders, .safetensors, LM folders).")
        add = QPushButton("Add…")
        add.clicked.connect(self._browse)
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(self.remove_selected)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove)
        buttons.addStretch(1)
        folders_row = QHBoxLayout()
        folders_row.addWidget(self.folders, 1)
        folders_row.addLayout(buttons)
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
        self.pickles = QListWidget()
        self.pickles.addItems(settings.allowed_pickles)
        self.pickles.setToolTip(
            "Pickle checkpoints (.ckpt, .pt, .bin) can run hidden code when opened. Only files listed here "
            "are loaded, with torch's weights-only reader. Prefer .safetensors."
        )
        allow = QPushButton("Allow a file…")
        allow.clicked.connect(self._browse_pickle)
        disallow = QPushButton("Remove")
        disallow.clicked.connect(self.disallow_selected)
        pickle_buttons = QVBoxLayout()
        pickle_buttons.addWidget(allow)
        pickle_buttons.addWidget(disallow)
        pickle_buttons.addStretch(1)
        pickles_row = QHBoxLayout()
        pickles_row.addWidget(self.pickles, 1)
        pickles_row.addLayout(pickle_buttons)
        self.error = QLabel()
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Model folders", folders_row)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
        form.addRow("Memory", memory_box)
        form.addRow("Allowed pickle files", pickles_row)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(box)
        self.resize(620, 480)

    def add_folder(self, path: str) -> None:
        if path and not self.folders.findItems(path, Qt.MatchFlag.MatchExactly):
            self.folders.addItem(path)

    def remove_selected(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))

    def folder_list(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def allow_pickle(self, path: str) -> None:
        if path and not self.pickles.findItems(path, Qt.MatchFlag.MatchExactly):
            self.pickles.addItem(path)

    def disallow_selected(self) -> None:
        for item in self.pickles.selectedItems():
            self.pickles.takeItem(self.pickles.row(item))

    def save(self) -> None:
        fields = ("model_folders", "device", "backend", "allowed_pickles", *self.memory)
        previous = {name: getattr(self.settings, name) for name in fields}
        self.settings.model_folders = self.folder_list()
        self.settings.device = self.device.currentText()
        self.settings.backend = self.backend.currentText()
        self.settings.allowed_pickles = [self.pickles.item(i).text() for i in range(self.pickles.count())]
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
