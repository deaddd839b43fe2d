"""Steps the window tests share: Generate from the prompt panel (and wait for the gallery item),
keyboard focus, the whole studio run with a check that polls it, and the canvas's pictures, mask and
brush."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from studio.jobs.queue import Job, JobState
from studio.ui.app import run
from studio.ui.window import MainWindow

# ------------------------------------------------------------------------------------- generating


def click_generate(window: MainWindow, qtbot, timeout: int = 2000) -> Job:
    """Click Generate; the job the prompt panel submitted (within ``timeout`` ms)."""
    panel = window.prompt_panel
    with qtbot.waitSignal(panel.submitted, timeout=timeout) as blocker:
        qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def generate(window: MainWindow, qtbot, model: Path | str, prompt: str, steps: int = 3, timeout: int = 2000) -> Job:
    """Set the prompt panel's model, prompt and steps, then click Generate; the job submitted."""
    panel = window.prompt_panel
    panel.model.setEditText(str(model))
    panel.prompt.setPlainText(prompt)
    panel.steps.setValue(steps)
    return click_generate(window, qtbot, timeout)


def generate_gallery_item(window: MainWindow, qtbot, model: Path, prompt: str = "a red kite",
                          wait_ms: int = 30_000) -> int:
    """A finished two-step job of ``model``; returns its gallery item id (selected in the gallery)."""
    job = generate(window, qtbot, model, prompt, steps=2, timeout=5000)
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state.finished, timeout=wait_ms)
    assert window.session.queue.get(job.id).state is JobState.DONE
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() >= 1, timeout=wait_ms)
    qtbot.waitUntil(lambda: not window.canvas_model.previewing and window.canvas_model.has_image(), timeout=wait_ms)
    item = window.gallery_model.item(0)
    window.gallery_panel.select_item(item.id)
    return item.id


def focus_on(qtbot, window: MainWindow, widget) -> None:
    """Activate ``window`` and give ``widget`` the keyboard focus (shortcuts need an active window)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


# ------------------------------------------------------------------------------ the whole studio


def run_studio(check: Callable[[], None], limit_ms: int = 30_000) -> int:
    """Run the studio as ``studio`` does (:func:`studio.ui.app.run`) with ``check`` called once the
    event loop starts (it calls itself again with ``QTimer.singleShot`` until it closes the window);
    the loop is quit after ``limit_ms`` so a test never hangs the suite. The exit code."""
    QTimer.singleShot(0, check)
    guard = QTimer(singleShot=True, interval=limit_ms)
    guard.timeout.connect(QApplication.quit)
    guard.start()
    try:
        return run()
    finally:
        guard.stop()


# ------------------------------------------------------------------------------------ the canvas


def flat_image(width: int, height: int, value: int = 90) -> QImage:
    """An RGB picture of one grey."""
    data = np.full((height, width, 3), value, np.uint8)
    return QImage(data.tobytes(), width, height, width * 3, QImage.Format.Format_RGB888).copy()


def canvas_mask(window: MainWindow) -> np.ndarray:
    """The canvas's inpaint mask as an array of alpha values (height × width)."""
    alpha = window.canvas_model.mask.convertToFormat(QImage.Format.Format_Alpha8)
    data = np.frombuffer(bytes(alpha.constBits()), np.uint8)[: alpha.sizeInBytes()]
    return data.reshape(alpha.height(), alpha.bytesPerLine())[:, : alpha.width()].copy()


def brush_drag(window: MainWindow, qtbot, start: tuple[int, int], end: tuple[int, int]) -> None:
    """Pick the brush with B and drag it across the view from ``start`` to ``end`` (image pixels)."""
    view = window.canvas.view
    window.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_B)

    def at(point: tuple[int, int]) -> QPoint:
        return (view.offset + QPointF(*point) * view.zoom).toPoint()

    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at(start))
    qtbot.mouseMove(view, at(end))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at(end))
