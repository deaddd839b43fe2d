"""The settings dialog: model folders, device, backend; saved with ``Settings.save()``."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
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
        self.error = QLabel()
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Model folders", folders_row)
        form.addRow("Device", self.device)
        form.addRow("Backend", self.backend)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(box)
        self.resize(560, 320)

    def add_folder(self, path: str) -> None:
        if path and not self.folders.findItems(path, Qt.MatchFlag.MatchExactly):
            self.folders.addItem(path)

    def remove_selected(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))

    def folder_list(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def save(self) -> None:
        previous = (list(self.settings.model_folders), self.settings.device, self.settings.backend)
        self.settings.model_folders = self.folder_list()
        self.settings.device = self.device.currentText()
        self.settings.backend = self.backend.currentText()
        try:
            self.settings.save()
        except (StudioError, OSError) as exc:
            self.settings.model_folders, self.settings.device, self.settings.backend = previous
            self.error.setText(f"Could not save the settings: {getattr(exc, 'message', exc)}")
            return
        self.saved.emit(self.settings)
        self.accept()

    def _browse(self) -> None:
        dialog = QFileDialog(self, "Add a model folder")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.add_folder)
        dialog.open()
