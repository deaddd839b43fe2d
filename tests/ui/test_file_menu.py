"""File menu: Export Images… from the menu and its shortcut, Open Image… (Ctrl+O), Save Image As…
(Ctrl+S; PNG keeps the generation metadata, JPEG and WebP by extension), Open Recent."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from studio.core.imagemeta import read_metadata
from studio.ui.dialogs.export import ExportDialog
from studio.ui.image_files import RECENT_LIMIT, recent_files
from studio.ui.window import MainWindow
from tests.ui.window_helpers import focus_on, generate_gallery_item

WAIT_MS = 30_000
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def _menu_action(window: MainWindow, menu: str, text: str):
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for action in top.menu().actions():
                if action.text().replace("&", "") == text:
                    return action
    raise AssertionError(f"no {menu} › {text}")


def _open_dialogs(kind: type) -> list:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def _close(dialogs: list) -> None:
    for dialog in dialogs:
        dialog.close()


def test_export_images_opens_from_the_menu_and_its_shortcut_with_the_selection(
        make_window, qtbot, ui_model: Path) -> None:
    window = make_window()
    generate_gallery_item(window, qtbot, ui_model)
    selected = window.gallery_panel.selected_paths()
    assert len(selected) == 1
    _menu_action(window, "File", "Export Images…").trigger()  # triggered(bool) reached export_images(paths)
    dialogs = _open_dialogs(ExportDialog)
    assert len(dialogs) == 1, "File › Export Images… opened no dialog"
    assert dialogs[0].images() == [str(p) for p in selected]
    _close(dialogs)
    qtbot.waitUntil(lambda: not _open_dialogs(ExportDialog))
    focus_on(qtbot, window, window.canvas.view)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_X, CTRL | SHIFT)
    dialogs = _open_dialogs(ExportDialog)
    assert len(dialogs) == 1, "Ctrl+Shift+X opened no dialog"
    _close(dialogs)


def test_ctrl_o_opens_a_photo_on_the_canvas_and_remembers_it(make_window, qtbot, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (96, 64), (20, 140, 200)).save(photo)
    window = make_window()
    assert _menu_action(window, "File", "Open Image…").shortcuts()[0].toString() == "Ctrl+O"
    focus_on(qtbot, window, window.prompt_panel.mode)
    qtbot.keyClick(window.prompt_panel.mode, Qt.Key.Key_O, CTRL)
    dialogs = [d for d in _open_dialogs(QFileDialog) if d.objectName() == "openImageDialog"]
    assert len(dialogs) == 1, "Ctrl+O opened no Open Image dialog"
    dialogs[0].selectFile(str(photo))
    dialogs[0].accept()
    qtbot.waitUntil(lambda: window.canvas_model.has_image(), timeout=WAIT_MS)
    assert window.canvas_model.size().width() == 96
    assert window.prompt_panel.mode.currentText() == "img2img"
    assert recent_files() == [str(photo)]
    # Add Model Folder moved to the Models menu, without Ctrl+O
    assert not _menu_action(window, "Models", "Add Model Folder…").shortcuts()


def test_open_recent_lists_the_last_ten_and_prunes_missing_files(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    photos = []
    for i in range(RECENT_LIMIT + 2):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (16 + i, 16), (i * 10, 0, 0)).save(path)
        photos.append(path)
        window.open_image_file(str(path))
        qtbot.waitUntil(lambda i=i: window.canvas_model.size().width() == 16 + i, timeout=WAIT_MS)
    os.remove(photos[-2])
    menu: QMenu = window.recent_menu
    menu.aboutToShow.emit()
    listed = [a.data() for a in menu.actions() if a.data()]
    newest_ten = [str(p) for p in reversed(photos)][:RECENT_LIMIT]
    assert listed == [p for p in newest_ten if p != str(photos[-2])]
    # a recent entry opens its image
    next(a for a in menu.actions() if a.data() == str(photos[3])).trigger()
    qtbot.waitUntil(lambda: window.canvas_model.size().width() == 16 + 3, timeout=WAIT_MS)
    assert recent_files()[0] == str(photos[3])
    next(a for a in menu.actions() if a.text().replace("&", "") == "Clear Menu").trigger()
    assert recent_files() == []
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions()] == ["No recent images"]


def test_save_image_as_keeps_png_metadata_and_writes_jpeg_and_webp(
        make_window, qtbot, tmp_path: Path, ui_model: Path) -> None:
    window = make_window()
    generate_gallery_item(window, qtbot, ui_model, "a blue whale")
    focus_on(qtbot, window, window.canvas.view)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_S, CTRL)
    dialogs = [d for d in _open_dialogs(QFileDialog) if d.objectName() == "saveImageDialog"]
    assert len(dialogs) == 1, "Ctrl+S opened no Save Image dialog"
    target = tmp_path / "whale.png"
    dialogs[0].selectFile(str(target))
    dialogs[0].accept()
    qtbot.waitUntil(target.exists, timeout=WAIT_MS)
    meta = read_metadata(target)
    assert meta["source"] == "studio" and meta["request"]["prompt"] == "a blue whale", meta
    assert Image.open(target).size == (window.canvas_model.size().width(), window.canvas_model.size().height())
    assert recent_files()[0] == str(target)
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o666 & ~_umask())
    for name, kind in (("whale.jpg", "JPEG"), ("whale.webp", "WEBP")):
        assert window.save_image_file(str(tmp_path / name))
        assert Image.open(tmp_path / name).format == kind
    # an edited canvas image is saved without the (now wrong) settings; a bad extension is refused
    edited = window.canvas_model.document.copy()
    edited.fill(0xFF00FF00)
    window.canvas_model.set_document(edited)
    assert window.save_image_file(str(tmp_path / "edited.png"))
    assert read_metadata(tmp_path / "edited.png")["source"] != "studio"
    assert not window.save_image_file(str(tmp_path / "whale.txt"))
    assert not (tmp_path / "whale.txt").exists()


def test_save_image_as_with_an_empty_canvas_says_so(make_window) -> None:
    window = make_window()
    assert window.save_image_as() is None
    assert "no image on the canvas" in window.statusBar().currentMessage()
    assert QImage(str(Path("/nonexistent"))).isNull()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_ctrl_s_in_the_editor_saves_the_document_not_the_canvas_image(make_window, qtbot, tmp_path: Path) -> None:
    """The editor's own Ctrl+S wins while it has the focus (two actions on one key would be
    ambiguous in Qt, and neither would run); elsewhere Ctrl+S saves the canvas image."""
    window = make_window()
    image = QImage(32, 32, QImage.Format.Format_ARGB32)
    image.fill(0xFF204080)
    window.canvas_model.set_document(image)
    window.docks["editor"].raise_()
    tab = window.editor_panel.current_tab() or window.editor_panel.new_document()
    saves: list[bool] = []
    window.editor_panel.actions_by_name["save"].triggered.connect(lambda *_: saves.append(True))
    opened: list[str] = []

    def dismiss_modal() -> None:  # the editor asks for a file name with a blocking dialog
        modal = QApplication.activeModalWidget()
        if modal is not None:
            opened.append(modal.objectName())
            modal.reject() if isinstance(modal, QFileDialog) else modal.close()

    timer = QTimer(interval=30)
    timer.timeout.connect(dismiss_modal)
    timer.start()
    try:
        focus_on(qtbot, window, tab.edit)
        qtbot.keyClick(tab.edit, Qt.Key.Key_S, CTRL)
        qtbot.wait(100)
    finally:
        timer.stop()
    assert saves == [True], "the editor's Ctrl+S did not run"
    assert "saveImageDialog" not in opened + [d.objectName() for d in _open_dialogs(QFileDialog)]
    _close([w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not window])
    focus_on(qtbot, window, window.canvas.view)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_S, CTRL)
    dialogs = [d for d in _open_dialogs(QFileDialog) if d.objectName() == "saveImageDialog"]
    assert len(dialogs) == 1
    _close(dialogs)
