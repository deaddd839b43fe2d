"""The window theme (system / light / dark): a Fusion palette for light and dark, the platform's own
style for system; the choice is kept in the window's QSettings."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from studio.ui.qsettings import ui_settings

THEMES = ("system", "light", "dark")
THEME_KEY = "ui/theme"

_system: tuple[str, QPalette] | None = None  # the style and palette the application started with


def stored_theme() -> str:
    value = str(ui_settings().value(THEME_KEY, "system"))
    return value if value in THEMES else "system"


def store_theme(theme: str) -> None:
    store = ui_settings()
    store.setValue(THEME_KEY, theme)
    store.sync()


def current_theme() -> str:
    """The theme applied now (``system`` until one was applied)."""
    app = QApplication.instance()
    value = app.property("studioTheme") if app is not None else None
    return value if value in THEMES else "system"


def apply_theme(theme: str) -> None:
    """Restyle the running application at once."""
    global _system
    app = QApplication.instance()
    if not isinstance(app, QApplication) or theme not in THEMES or theme == current_theme():
        return
    if _system is None:
        _system = (app.style().name(), QPalette(app.palette()))
    if theme == "system":
        app.setStyle(QStyleFactory.create(_system[0]) or app.style())
        app.setPalette(_system[1])
    else:
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(dark_palette() if theme == "dark" else light_palette())
    app.setProperty("studioTheme", theme)


def light_palette() -> QPalette:
    return QStyleFactory.create("Fusion").standardPalette()


def dark_palette() -> QPalette:
    palette = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for name, color in (
        (role.Window, "#2b2b2e"), (role.WindowText, "#e6e6e6"), (role.Base, "#1e1e20"),
        (role.AlternateBase, "#28282b"), (role.ToolTipBase, "#3a3a3e"), (role.ToolTipText, "#f0f0f0"),
        (role.Text, "#e6e6e6"), (role.Button, "#36363a"), (role.ButtonText, "#e6e6e6"),
        (role.BrightText, "#ff6b6b"), (role.Link, "#6cb4ff"), (role.Highlight, "#3d7bd9"),
        (role.HighlightedText, "#ffffff"), (role.PlaceholderText, "#8c8c92"), (role.Mid, "#444449"),
        (role.Dark, "#19191b"), (role.Light, "#4a4a50"), (role.Shadow, "#0c0c0d"),
    ):
        palette.setColor(name, QColor(color))
    for name in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, name, QColor("#7a7a80"))
    palette.setColor(group.Disabled, role.Highlight, QColor("#4a4a50"))
    return palette
