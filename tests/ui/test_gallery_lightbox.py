"""The lightbox: Space (or View in the menu) shows the selected image full size; Left/Right move
through the gallery (fetching the next page at the end), the gallery's selection follows; Esc closes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.core.gallery import Gallery
from studio.core.requests import GenerationRequest
from studio.ui.gallery_model import GalleryViewModel
from studio.ui.panels.gallery import GalleryPanel

WAIT_MS = 10_000


@pytest.fixture
def panel(qtbot, tmp_path: Path, studio_home) -> Iterator[GalleryPanel]:
    gallery = Gallery()
    for n in range(5):
        path = tmp_path / f"{n}.png"
        Image.new("RGB", (300 + n, 200), (50 * n, 90, 160)).save(path)
        gallery.add(path, GenerationRequest(model="/models/demo", prompt=f"picture {n}"), n)
    model = GalleryViewModel(gallery)
    model.page_size = 3  # the lightbox walks past the first page
    widget = GalleryPanel(model)
    model.setParent(widget)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(model.loaded, timeout=WAIT_MS):
        model.refresh()
    yield widget
    gallery.close()


def _shown(qtbot, panel: GalleryPanel, key: Qt.Key | None) -> str:
    box = panel.lightbox
    assert box is not None
    if key is not None:
        qtbot.keyClick(box, key)
    qtbot.waitUntil(lambda: box.shown_path == box.path, timeout=WAIT_MS)
    return Path(box.shown_path).name


def test_the_lightbox_moves_with_the_arrows_and_closes_with_escape(qtbot, panel: GalleryPanel) -> None:
    model = panel.model
    panel.select_item(model.item(1).id)  # "3.png": newest first
    panel.list.setFocus()
    box = panel.view_selected()
    assert box is not None and box.isVisible()
    assert _shown(qtbot, panel, None) == "3.png"
    assert not box.view.image.isNull() and box.view.image.width() == 303
    assert "picture 3" in box.caption.text()
    assert _shown(qtbot, panel, Qt.Key.Key_Right) == "2.png"
    assert _shown(qtbot, panel, Qt.Key.Key_Right) == "1.png"  # the next page was fetched
    assert model.rowCount() == 5
    assert _shown(qtbot, panel, Qt.Key.Key_Right) == "0.png"
    qtbot.keyClick(box, Qt.Key.Key_Right)  # the last one: it stays
    assert box.path.endswith("0.png")
    assert _shown(qtbot, panel, Qt.Key.Key_Left) == "1.png"
    assert panel.selected_items()[0].prompt == "picture 1"  # the gallery follows
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: panel.lightbox is None or not panel.lightbox.isVisible(), timeout=WAIT_MS)


def test_space_in_the_gallery_opens_the_lightbox(qtbot, panel: GalleryPanel) -> None:
    panel.select_item(panel.model.item(0).id)
    panel.window().activateWindow()
    qtbot.waitUntil(panel.window().isActiveWindow)
    panel.list.setFocus()
    qtbot.waitUntil(panel.list.hasFocus)
    qtbot.keyClick(panel.list, Qt.Key.Key_Space)
    assert panel.lightbox is not None and panel.lightbox.isVisible()
    assert _shown(qtbot, panel, None) == "4.png"
    panel.lightbox.close()
