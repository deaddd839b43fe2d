"""Steps the window tests share: Generate from the prompt panel, run the whole studio with a check
that polls it, and the canvas's pictures, mask and brush."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from studio.jobs.queue import Job
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
