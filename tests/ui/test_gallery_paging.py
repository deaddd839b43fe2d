"""The gallery view at scale: rows arrive a page at a time as the view scrolls (Qt's fetchMore), and
thumbnails are read only for the rows the view shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from studio.core.gallery import Gallery
from studio.core.requests import GenerationRequest
from studio.ui.gallery_model import GalleryViewModel
from studio.ui.panels.gallery import GalleryPanel

WAIT_MS = 10_000
COUNT = 60


@pytest.fixture
def gallery(tmp_path: Path, studio_home) -> Iterator[Gallery]:
    g = Gallery()
    for n in range(COUNT):
        path = tmp_path / f"{n}.png"
        Image.new("RGB", (24, 24), (n * 4 % 256, 80, 160)).save(path)
        g.add(path, GenerationRequest(model="/models/demo", prompt=f"{'red' if n % 3 else 'blue'} kite {n}"), n)
    yield g
    g.close()


def _panel(qtbot, gallery: Gallery, page_size: int) -> GalleryPanel:
    model = GalleryViewModel(gallery)
    model.page_size = page_size
    panel = GalleryPanel(model)
    model.setParent(panel)
    qtbot.addWidget(panel)
    panel.resize(360, 420)
    panel.show()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(model.loaded, timeout=WAIT_MS):
        model.refresh()
    return panel


def test_rows_arrive_a_page_at_a_time_as_the_view_scrolls(qtbot, gallery: Gallery) -> None:
    panel = _panel(qtbot, gallery, page_size=12)
    model = panel.model
    assert model.rowCount() == 12 and model.canFetchMore()
    bar = panel.list.verticalScrollBar()
    for _ in range(20):  # scroll to the end again and again: the view asks for the next page
        bar.setValue(bar.maximum())
        qtbot.wait(20)
        if not model.canFetchMore():
            break
    ids = [model.item(r).id for r in range(model.rowCount())]
    assert ids == [i.id for i in gallery.search()]  # every row once, newest first, no gaps
    assert model.rowCount() == COUNT and not model.canFetchMore()


def test_a_new_image_keeps_the_rows_scrolled_to_and_the_selection(qtbot, gallery: Gallery, tmp_path: Path) -> None:
    panel = _panel(qtbot, gallery, page_size=12)
    model = panel.model
    model.fetchMore()
    model.fetchMore()
    assert model.rowCount() == 36
    chosen = model.item(30).id
    panel.select_item(chosen)
    Image.new("RGB", (24, 24), "white").save(tmp_path / "new.png")
    new = gallery.add(tmp_path / "new.png", GenerationRequest(model="/models/demo", prompt="a new kite"), 99)
    with qtbot.waitSignal(model.loaded, timeout=WAIT_MS):
        model.refresh()  # what a finished job does
    assert model.item(0).id == new.id and model.rowCount() >= 36
    assert [item.id for item in panel.selected_items()] == [chosen]


def test_a_filter_starts_again_from_its_first_page(qtbot, gallery: Gallery) -> None:
    panel = _panel(qtbot, gallery, page_size=12)
    model = panel.model
    with qtbot.waitSignal(model.loaded, timeout=WAIT_MS):
        panel.search.setText("blue")
        panel.apply_filter()
    assert model.rowCount() == 12 and all("blue" in model.item(r).prompt for r in range(12))
    model.fetchMore()
    assert model.rowCount() == 20 and not model.canFetchMore()  # 20 blue kites in all


def test_neg_words_search_the_negative_prompt(qtbot, gallery: Gallery, tmp_path: Path) -> None:
    Image.new("RGB", (24, 24), "white").save(tmp_path / "neg.png")
    request = GenerationRequest(model="/models/demo", prompt="a red kite", negative_prompt="watermark, blurry")
    odd = gallery.add(tmp_path / "neg.png", request, 7)
    panel = _panel(qtbot, gallery, page_size=12)
    with qtbot.waitSignal(panel.model.loaded, timeout=WAIT_MS):
        panel.search.setText("red neg:blurry")
        panel.apply_filter()
    assert [panel.model.item(r).id for r in range(panel.model.rowCount())] == [odd.id]


def test_thumbnails_are_read_only_for_rows_the_view_shows(qtbot, gallery: Gallery) -> None:
    panel = _panel(qtbot, gallery, page_size=60)
    model = panel.model
    assert model.rowCount() == COUNT
    qtbot.waitUntil(lambda: bool(model._icons) and not model.thumbnails_pending(), timeout=WAIT_MS)
    first = model.item(0).thumbnail
    assert first in model._icons  # a shown row got its thumbnail ...
    assert len(model._icons) < COUNT // 2  # ... rows never shown did not
    last = model.item(COUNT - 1).thumbnail
    assert last not in model._icons
    panel.list.scrollToBottom()
    qtbot.waitUntil(lambda: last in model._icons, timeout=WAIT_MS)
