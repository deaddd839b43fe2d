"""Window state (geometry, dock layout) in an ini file under ``STUDIO_HOME`` via QSettings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from studio.core.paths import studio_home


def ui_settings() -> QSettings:
    """The QSettings store for window state; tests get isolation through ``STUDIO_HOME``."""
    return QSettings(str(studio_home() / "ui.ini"), QSettings.Format.IniFormat)
