"""The prompt dock at real window sizes: Generate always in view, no sideways scrolling, docks that
come back to a usable width after the window was made small."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget

from studio.ui.window import MainWindow


def _resized(window: MainWindow, qtbot, width: int, height: int) -> None:
    window.resize(width, height)
    least = window.minimumSizeHint()
    expected = (max(width, least.width()), max(height, least.height()))
    qtbot.waitUntil(lambda: window.size().toTuple() == expected, timeout=2_000)
    qtbot.wait(50)  # the layout places the docks, then whatever follows a resize runs


def _rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def _fully_shown(widget: QWidget) -> bool:
    """Every pixel of ``widget`` is on screen (not clipped by a scroll area or a squeezed dock)."""
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


def _inside_horizontally(widget: QWidget, area: QAbstractScrollArea) -> bool:
    rect = _rect_in(widget, area.viewport())
    return rect.left() >= 0 and rect.right() <= area.viewport().width()


def _check_prompt_dock(window: MainWindow) -> None:
    panel = window.prompt_panel
    dock = window.docks["prompt"]
    assert _fully_shown(panel.generate), panel.generate.visibleRegion().boundingRect()
    assert dock.rect().contains(_rect_in(panel.generate, dock))
    assert not panel.scroll.horizontalScrollBar().isVisible()
    assert panel.scroll.widget().width() <= panel.scroll.viewport().width()
    assert _inside_horizontally(panel.reuse_seed, panel.scroll)
    panel.scroll.ensureWidgetVisible(panel.reuse_seed)
    assert _fully_shown(panel.reuse_seed)
    panel.add_lora("/loras/a-style.safetensors", 0.8)
    weight = panel.loras.cellWidget(0, 1)
    panel.scroll.ensureWidgetVisible(panel.loras)
    QApplication.processEvents()
    assert _inside_horizontally(panel.loras, panel.scroll)
    assert _rect_in(weight, panel.loras.viewport()).right() <= panel.loras.viewport().width()
    assert _fully_shown(weight)
    panel.clear_loras()


def test_generate_is_fully_visible_at_1440_by_900_in_txt2img(make_window, qtbot) -> None:
    window = make_window()
    _resized(window, qtbot, 1440, 900)
    assert window.prompt_panel.mode.currentText() == "txt2img"
    _check_prompt_dock(window)


def test_at_1024_by_700_the_prompt_dock_shows_every_field_without_sideways_scrolling(make_window, qtbot) -> None:
    window = make_window()
    _resized(window, qtbot, 1024, 700)
    _check_prompt_dock(window)


def test_generate_stays_pinned_at_the_bottom_while_the_fields_scroll(make_window, qtbot) -> None:
    window = make_window()
    _resized(window, qtbot, 1024, 700)
    panel = window.prompt_panel
    bar = panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0  # the fields do not fit: they scroll …
    before = _rect_in(panel.generate, panel)
    bar.setValue(bar.maximum())
    QApplication.processEvents()
    assert _rect_in(panel.generate, panel) == before  # … and Generate does not move with them
    assert before.bottom() > _rect_in(panel.scroll, panel).bottom()  # it is under the scroll area
    assert not panel.scroll.isAncestorOf(panel.generate)


def _dock_sizes(window: MainWindow) -> dict[str, tuple[int, int]]:
    return {key: window.docks[key].size().toTuple() for key in ("prompt", "gallery", "queue", "log")}


def test_docks_are_not_left_squeezed_after_the_window_was_small(make_window, qtbot) -> None:
    window = make_window()
    _resized(window, qtbot, 1440, 900)
    before = _dock_sizes(window)
    _resized(window, qtbot, 700, 500)  # smaller than the window can be: the docks give way …
    squeezed = _dock_sizes(window)
    assert squeezed["queue"][1] < before["queue"][1]
    _resized(window, qtbot, 1440, 900)
    qtbot.waitUntil(lambda: _dock_sizes(window)["queue"][1] >= before["queue"][1] - 2, timeout=2_000)
    after = _dock_sizes(window)  # … and come back: the central canvas does not keep all the space
    for key, (width, height) in before.items():
        assert abs(after[key][0] - width) <= 2 and abs(after[key][1] - height) <= 2, (key, before, after)
    _check_prompt_dock(window)
    window.reset_layout()  # View › Reset Layout still brings the default layout back
    QApplication.processEvents()
    assert not any(dock.isHidden() for dock in window.docks.values())
    _check_prompt_dock(window)


def _finished_run(folder) -> str:
    """A run folder as the training engine leaves it: its config and 40 logged steps."""
    import json

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"max_steps": 400, "recipe": "lora"}))
    lines = [json.dumps({"event": "step", "step": s, "total": 400, "loss": 0.05 / (1 + s / 100), "lr": 1e-3,
                         "it_s": 3.0, "eta_s": (400 - s) / 3, "epoch": s / 3, "rss_mb": 700.0})
             for s in range(10, 410, 10)]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


def test_the_training_monitor_shows_every_figure_without_scrolling(make_window, qtbot, tmp_path) -> None:
    """Shown for a run in a 1440×900 window, the monitor's figures (step to memory, ETA among them),
    its buttons and a readable loss plot are all in view: nothing to scroll to while training."""
    window = make_window()
    _resized(window, qtbot, 1440, 900)
    monitor = window.training_monitor
    window.training_model.open_run(_finished_run(tmp_path / "runs" / "lora-stars"))
    window.show_training_monitor()
    qtbot.waitUntil(lambda: monitor.stack.currentWidget() is monitor.content
                    and monitor.step_label.text() == "400 / 400", timeout=5_000)
    qtbot.wait(50)
    for label in (monitor.state_label, monitor.step_label, monitor.eta_label, monitor.memory_label,
                  monitor.pause_button, monitor.resume_run_button, monitor.use_button):
        assert _fully_shown(label), (label.objectName() or label.text(), label.visibleRegion().boundingRect())
    assert monitor.loss_plot is not None and monitor.loss_plot.height() >= 150
