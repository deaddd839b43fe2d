"""Settings dialog: the theme (system / light / dark) applies at once and is kept; the default model,
the output folder and the memory budget are saved and used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from studio.core.settings import Settings
from studio.ui.theme import apply_theme, current_theme, stored_theme


@pytest.fixture(autouse=True)
def system_theme_after() -> Iterator[None]:
    """The theme is application-wide: every test leaves the system one behind."""
    yield
    apply_theme("system")


def _window_lightness() -> int:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness()


def test_dark_theme_applies_at_once_cancel_undoes_it_and_save_keeps_it(make_window, qtbot) -> None:
    window = make_window()
    system_lightness = _window_lightness()
    dialog = window.open_settings()
    assert [dialog.theme.itemData(i) for i in range(dialog.theme.count())] == ["system", "light", "dark"]
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert current_theme() == "dark"
    assert _window_lightness() < 80, "the dark palette is not applied at once"
    assert QApplication.style().name().lower() == "fusion"
    dialog.reject()
    assert current_theme() == "system" and _window_lightness() == system_lightness
    assert stored_theme() == "system"

    dialog = window.open_settings()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    assert stored_theme() == "dark" and _window_lightness() < 80
    apply_theme("system")
    second = make_window()  # a new start applies the stored theme
    assert current_theme() == "dark"
    dialog = second.open_settings()
    assert dialog.theme.currentData() == "dark"
    dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
    assert _window_lightness() > 180
    dialog.save()
    assert stored_theme() == "light"


def test_default_model_output_folder_and_memory_budget_are_saved_and_used(
        make_window, qtbot, tmp_path: Path, ui_model: Path) -> None:
    window = make_window()
    dialog = window.open_settings()
    assert dialog.memory_budget.text() == "Automatic"  # 0: the studio decides
    dialog.default_model.setCurrentText(str(ui_model))
    dialog.output_folder.setText(str(tmp_path / "renders"))
    dialog.memory_budget.setValue(6.5)
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    saved = Settings.load()
    assert saved.default_model == str(ui_model)
    assert saved.output_folder == str(tmp_path / "renders")
    assert saved.memory_budget_gb == 6.5
    assert window.session.models.budget_bytes == int(6.5e9)  # the model cache follows at once
    dialog = window.open_settings()  # reopened: the saved values are shown
    assert dialog.default_model.currentText() == str(ui_model)
    assert dialog.output_folder.text() == str(tmp_path / "renders")
    assert dialog.memory_budget.value() == 6.5
    dialog.reject()


def test_images_are_written_under_the_output_folder_saved_in_settings(make_window, qtbot, tmp_path: Path) -> None:
    from PIL import Image

    from studio.core.requests import GenerationRequest
    from studio.core.results import ImageOutput, JobResult
    from studio.outputs import write_images

    window = make_window()
    dialog = window.open_settings()
    dialog.output_folder.setText(str(tmp_path / "renders"))
    dialog.save()
    request = GenerationRequest(model="demo", prompt="a kite", seed=5, width=64, height=64)
    result = JobResult(images=(ImageOutput(Image.new("RGB", (64, 64), (9, 9, 9)), request),))
    written = write_images(result, window.session.gallery, root=window.session.settings.output_folder)
    path = Path(written.artifacts[0].path)
    assert path.parent.parent == tmp_path / "renders" and path.is_file()
    assert window.session.gallery.get(written.artifacts[0].metadata["gallery_id"]).path == str(path)
