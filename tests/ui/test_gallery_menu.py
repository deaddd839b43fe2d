"""The gallery's context menu in the real window: Open, Reveal in Folder, Copy, Export…, Use Settings,
Star, Move to Trash (with Undo); Delete acts only while the gallery has focus; details name the model."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QMenu

from studio.core.requests import GenerationRequest
from studio.ui.dialogs.export import ExportDialog
from studio.ui.window import MainWindow

WAIT_MS = 10_000
MODEL = "/models/deep/folder/sd15-pruned.safetensors"


class UrlCatcher(QObject):
    """Receives the URLs QDesktopServices would hand to the desktop (a real Qt hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def handle(self, url: QUrl) -> None:
        self.urls.append(url)


def _window_with_images(make_window, qtbot, tmp_path: Path) -> tuple[MainWindow, list[int]]:
    window = make_window()
    ids = []
    for n, prompt in enumerate(("a red fox", "a blue whale", "a green kite")):
        path = tmp_path / "shots" / f"img{n}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (40 + n, 30), (60 * n, 100, 100)).save(path)
        request = GenerationRequest(model=MODEL, prompt=prompt, seed=n, steps=5, width=40 + n, height=30)
        ids.append(window.session.gallery.add(path, request, n).id)
    window.docks["gallery"].raise_()
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 3 and not window.gallery_model.searching,
                    timeout=WAIT_MS)
    return window, ids


def _focus(qtbot, window: MainWindow, widget) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


def _menu_texts(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_delete_trashes_the_gallery_selection_only_while_the_gallery_has_focus(
        make_window, qtbot, tmp_path: Path) -> None:
    window, (_fox, whale, _kite) = _window_with_images(make_window, qtbot, tmp_path)
    gallery = window.gallery_panel
    window.canvas_model.set_document(QImage(str(tmp_path / "shots" / "img0.png")), "Open")  # a canvas to work on
    gallery.select_item(whale)
    _focus(qtbot, window, window.canvas.view)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_Delete)
    qtbot.wait(50)
    assert not window.session.gallery.get(whale).trashed, "Delete on the canvas trashed a gallery image"
    _focus(qtbot, window, gallery.list)
    qtbot.keyClick(gallery.list, Qt.Key.Key_Delete)
    assert window.session.gallery.get(whale).trashed
    assert window.gallery_model.row_of(whale) == -1 and "trash" in gallery.details.text()
    # Undo brings it back, where it was
    assert gallery.undo_button.isVisible()
    qtbot.mouseClick(gallery.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.gallery_model.row_of(whale) >= 0, timeout=WAIT_MS)
    assert not window.session.gallery.get(whale).trashed and gallery.selected_items()[0].id == whale


def test_the_context_menu_opens_on_a_right_click_and_each_entry_acts(
        make_window, qtbot, tmp_path: Path) -> None:
    window, (fox, whale, kite) = _window_with_images(make_window, qtbot, tmp_path)
    gallery, store = window.gallery_panel, window.session.gallery

    # a right-click on an item selects it and opens the menu there
    rect = gallery.list.visualRect(window.gallery_model.index(window.gallery_model.row_of(fox)))
    gallery.list.customContextMenuRequested.emit(rect.center())
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu) and menu.isVisible()
    assert [i.id for i in gallery.selected_items()] == [fox]
    assert _menu_texts(menu) == ["Open on Canvas", "View (Lightbox)", "Reveal in Folder", "Copy Image", "Export…",
                                 "Use Settings", "Star", "Score Match", "Rank by Prompt…", "Move to Trash"]
    menu.close()

    # Open: the image on the canvas
    gallery.context_menu().deleteLater()
    gallery.open_action.trigger()
    qtbot.waitUntil(lambda: window.canvas_model.document.width() == 40, timeout=WAIT_MS)

    # Reveal in Folder: the file manager is asked for the image's folder
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "handle")
    try:
        gallery.reveal_action.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.urls] == [str(tmp_path / "shots")]

    # Copy: the image on the clipboard
    QGuiApplication.clipboard().clear()
    gallery.copy_action.trigger()
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().image().width() == 40, timeout=WAIT_MS)

    # Use Settings: the prompt panel takes the image's request
    gallery.use_action.trigger()
    assert window.prompt_panel.prompt.toPlainText() == "a red fox"

    # Star, then the menu offers Unstar and the ★ filter finds it
    gallery.star_action.trigger()
    assert store.get(fox).starred
    menu = gallery.context_menu()
    assert "Unstar" in _menu_texts(menu)
    menu.deleteLater()

    # Export… with two images selected: the window's export dialog with both
    gallery.list.selectAll()
    menu = gallery.context_menu()
    assert "Export 3 Images…" in _menu_texts(menu) and "Use Settings" in _menu_texts(menu)
    assert not gallery.use_action.isEnabled()  # one image's settings at a time
    menu.deleteLater()
    gallery.export_action.trigger()
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, ExportDialog) and w.isVisible()]
    assert len(dialogs) == 1
    assert sorted(dialogs[0].images()) == sorted(store.get(i).path for i in (fox, whale, kite))
    dialogs[0].close()

    # Move to Trash from the menu; the Trash view's menu offers Restore
    gallery.select_item(kite)
    gallery.trash_action.trigger()
    assert store.get(kite).trashed
    gallery.view_choice.setCurrentText("Trash")
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1 and not window.gallery_model.searching,
                    timeout=WAIT_MS)
    gallery.select_item(kite)
    menu = gallery.context_menu()
    assert "Restore" in _menu_texts(menu) and "Move to Trash" not in _menu_texts(menu)
    menu.deleteLater()
    gallery.restore_action.trigger()
    assert not store.get(kite).trashed


def test_details_name_the_model_and_keep_its_path_in_the_tooltip(make_window, qtbot, tmp_path: Path) -> None:
    window, (fox, _whale, _kite) = _window_with_images(make_window, qtbot, tmp_path)
    gallery = window.gallery_panel
    gallery.select_item(fox)
    text = gallery.details.text()
    assert "Model: sd15-pruned" in text and "/models/deep" not in text
    assert MODEL in gallery.details.toolTip()
    index = window.gallery_model.index(window.gallery_model.row_of(fox))
    assert "/models/deep" not in window.gallery_model.data(index, Qt.ItemDataRole.ToolTipRole)


def test_the_menu_keys_act_while_the_gallery_has_focus(make_window, qtbot, tmp_path: Path) -> None:
    window, (fox, whale, _kite) = _window_with_images(make_window, qtbot, tmp_path)
    gallery = window.gallery_panel
    gallery.select_item(whale)
    _focus(qtbot, window, gallery.list)
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(gallery.list, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)  # not the window's Edit › Copy
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().image().width() == 41, timeout=WAIT_MS)
    qtbot.keyClick(gallery.list, Qt.Key.Key_S)
    assert window.session.gallery.get(whale).starred and not window.session.gallery.get(fox).starred


def test_right_click_on_empty_space_opens_no_menu(make_window, qtbot, tmp_path: Path) -> None:
    window, _ids = _window_with_images(make_window, qtbot, tmp_path)
    gallery = window.gallery_panel
    gallery.list.clearSelection()
    gallery.list.customContextMenuRequested.emit(QPoint(gallery.list.width() - 5, gallery.list.height() - 5))
    assert QApplication.activePopupWidget() is None
