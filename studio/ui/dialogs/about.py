"""Help → About."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QMessageBox, QWidget

from studio import __version__
from studio.core.paths import log_file, studio_home


def about_box(parent: QWidget) -> QMessageBox:
    """A non-modal About box (call ``open()`` on it)."""
    box = QMessageBox(parent)
    box.setWindowTitle("About Studio")
    box.setIcon(QMessageBox.Icon.Information)
    box.setText(f"<b>Studio {__version__}</b><br>A desktop AI creative studio.")
    box.setInformativeText(
        f"Python {platform.python_version()} · PySide6 {pyside_version}<br>"
        f"Data folder: {studio_home()}<br>Log: {log_file()}"
    )
    return box
