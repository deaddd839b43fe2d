"""The Check provenance panel: a dropped watermarked image reads as detected with its payload; an
unmarked one does not; a file that is not an image gives a clear message."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.export import watermark
from studio.ui.panels.provenance import ProvenancePanel


def photo_like(seed: int = 0, size: tuple[int, int] = (320, 256)) -> Image.Image:
    """Smooth noise over a gradient: texture like a photograph's, so the mark has somewhere to hide."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype("uint8"))
    noise = noise.filter(ImageFilter.GaussianBlur(2))
    ramp = np.linspace(40, 200, size[0])[None, :, None]
    return Image.fromarray(np.clip(np.asarray(noise) * 0.5 + ramp * 0.5, 0, 255).astype("uint8"))


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    marked = tmp_path / "marked.png"
    plain = tmp_path / "plain.jpg"
    watermark.embed(photo_like(), watermark.Payload(owner=7, image=0x1234ABCD)).save(marked)
    photo_like(1).save(plain, quality=90)
    return marked, plain


def drop(widget, path: Path) -> None:
    """Drag a file over ``widget`` and drop it there (Qt delivers a drop to the widget that took the drag)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide6 flags the only constructor Qt 6 has as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, keys))


def _details(panel: ProvenancePanel) -> dict[str, str]:
    tree = panel.details
    return {tree.topLevelItem(i).text(0): tree.topLevelItem(i).text(1) for i in range(tree.topLevelItemCount())}


def test_dropping_images_shows_watermark_payload_and_metadata(qtbot, images) -> None:
    marked, plain = images
    panel = ProvenancePanel()
    qtbot.addWidget(panel)
    panel.show()

    with qtbot.waitSignal(panel.checked, timeout=60_000):
        drop(panel.drop, marked)
    assert "detected" in panel.verdict.text()
    rows = _details(panel)
    assert rows["Watermark"] == "detected"
    assert rows["Payload"] == "0007-1234abcd"
    assert rows["Owner id"] == "7"
    assert float(rows["Confidence"].rstrip(" %")) >= 50
    assert rows["Format"].startswith("PNG, 320×256")
    assert "Metadata present" in rows

    with qtbot.waitSignal(panel.checked, timeout=60_000):
        drop(panel, plain)  # anywhere on the panel
    assert "No studio watermark" in panel.verdict.text()
    rows = _details(panel)
    assert rows["Watermark"] == "not found"
    assert "Payload" not in rows
    assert rows["Format"].startswith("JPEG")


def test_a_file_that_is_not_an_image_gives_a_clear_message(qtbot, tmp_path) -> None:
    bogus = tmp_path / "notes.png"
    bogus.write_text("not really a picture")
    panel = ProvenancePanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.checked, timeout=30_000):
        panel.check(str(bogus))
    assert panel.verdict.text() == "Could not check this file"
    assert "not an image" in _details(panel)["Problem"]
