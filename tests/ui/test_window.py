"""The window opens with every panel, shows clear empty states and standard menus."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeySequence

from studio.ui.panels.canvas import EMPTY_TEXT
from studio.ui.panels.empty import EmptyState
from studio.ui.tasks import wait_for_background
from studio.ui.window import DOCKS
from tests.ui.window_helpers import focus_on, generate_gallery_item

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def test_window_opens_with_all_docks_and_empty_states(make_window) -> None:
    window = make_window()
    assert set(window.docks) == set(DOCKS)
    for key in ("prompt", "queue"):
        assert window.docks[key].isVisible(), key
    for key in ("gallery", "training"):  # the editor has its own tests (test_editor.py)
        widget = {"gallery": window.gallery_panel, "training": window.training_monitor}[key]
        empty = widget.empty  # the gallery and the training monitor show one while empty
        assert isinstance(empty, EmptyState)
        assert "will" in empty.message() or "appear" in empty.message(), key
    assert "No image yet" in EMPTY_TEXT
    assert not window.canvas.showing_image()
    assert window.queue_panel.stack.currentWidget() is window.queue_panel.empty
    assert window.canvas.empty.title.text() == EMPTY_TEXT
    assert window.device_label.text() == "Device: detecting…"
    assert window.backend_label.text() == "Backend: torch"


def test_menus_offer_dock_toggles_and_standard_shortcuts(make_window) -> None:
    window = make_window()
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Models", "Jobs", "Training", "Tools", "Help"]
    view_titles = {a.text() for a in menus["View"].actions()}
    assert {"Prompt", "Gallery", "Queue", "Editor", "Training monitor", "Log"} <= view_titles
    actions = _actions(window)
    for text, key, fallback in (
        ("Quit", QKeySequence.StandardKey.Quit, "Ctrl+Q"),
        ("Copy", QKeySequence.StandardKey.Copy, "Ctrl+C"),
        ("Undo", QKeySequence.StandardKey.Undo, "Ctrl+Z"),
        ("Settings…", QKeySequence.StandardKey.Preferences, "Ctrl+,"),
    ):
        platform_keys = QKeySequence.keyBindings(key)
        assert actions[text].shortcuts() == (platform_keys or [QKeySequence(fallback)]), text
    window.docks["log"].toggleViewAction().trigger()
    assert not window.docks["log"].isVisible()


def test_edit_menu_acts_on_the_focused_field(make_window, qtbot) -> None:
    window = make_window()
    prompt = window.prompt_panel.prompt
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    qtbot.keyClicks(prompt, "a fox")
    actions = _actions(window)
    actions["Select All"].trigger()
    actions["Cut"].trigger()
    assert prompt.toPlainText() == ""
    actions["Paste"].trigger()
    assert prompt.toPlainText() == "a fox"


def _actions(window) -> dict:
    return {a.text().replace("&", ""): a for top in window.menuBar().actions() for a in top.menu().actions()}


def test_log_panel_starts_with_the_tail_of_the_log_file(make_window) -> None:
    from studio.core.paths import log_file

    log_file().write_text("2026-01-01 10:00:00,000 INFO studio: an earlier session said hello\n")
    window = make_window()
    assert "an earlier session said hello" in window.log_panel.text()


# -- keys that act where the designer expects (issue 13, point 3) and models refused at submit ----
def _image(width: int, colour: int) -> QImage:
    image = QImage(width, 24, QImage.Format.Format_ARGB32)
    image.fill(colour)
    return image


def test_ctrl_z_undoes_the_canvas_window_wide_but_a_text_field_undoes_its_own_typing(make_window, qtbot) -> None:
    window = make_window()
    canvas = window.canvas_model
    canvas.set_document(_image(40, 0xFF2060A0))
    canvas.set_document(_image(56, 0xFFA06020))
    mode = window.prompt_panel.mode  # a drop-down: nothing to undo there
    focus_on(qtbot, window, mode)
    qtbot.keyClick(mode, Qt.Key.Key_Z, CTRL)
    assert canvas.size().width() == 40, "Ctrl+Z outside the canvas did not undo the canvas"
    qtbot.keyClick(mode, Qt.Key.Key_Z, CTRL | SHIFT)
    assert canvas.size().width() == 56, "Ctrl+Shift+Z outside the canvas did not redo the canvas"
    prompt = window.prompt_panel.prompt
    focus_on(qtbot, window, prompt)
    qtbot.keyClicks(prompt, "a fox")
    qtbot.keyClick(prompt, Qt.Key.Key_Z, CTRL)
    assert prompt.toPlainText() != "a fox"  # the typing was undone …
    assert canvas.size().width() == 56  # … not the canvas
    _actions(window)["Undo"].trigger()  # the menu item too: the text field first
    assert canvas.size().width() == 56


def test_ctrl_return_in_the_editor_never_queues_an_image_job(make_window, qtbot, ui_model) -> None:
    window = make_window()
    window.prompt_panel.model.setEditText(str(ui_model))
    window.prompt_panel.prompt.setPlainText("")
    window.docks["editor"].raise_()
    tab = window.editor_panel.current_tab() or window.editor_panel.new_document()
    focus_on(qtbot, window, tab.edit)
    qtbot.keyClicks(tab.edit, "Once upon a time")
    qtbot.keyClick(tab.edit, Qt.Key.Key_Return, CTRL)
    qtbot.wait(50)
    kinds = [job.request.kind for job in window.session.queue.jobs()]
    assert "generate" not in kinds, "Ctrl+Return in the editor queued an image job"
    # in the prompt panel Ctrl+Return generates (an empty prompt is allowed, and said)
    focus_on(qtbot, window, window.prompt_panel.prompt)
    with qtbot.waitSignal(window.prompt_panel.submitted, timeout=5000):
        qtbot.keyClick(window.prompt_panel.prompt, Qt.Key.Key_Return, CTRL)
    assert "without a prompt" in window.statusBar().currentMessage()


def test_delete_on_the_canvas_keeps_the_selected_gallery_image(make_window, qtbot, ui_model) -> None:
    window = make_window()
    item_id = generate_gallery_item(window, qtbot, ui_model)
    gallery = window.session.gallery
    focus_on(qtbot, window, window.canvas.view)
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_Delete)
    qtbot.wait(300)
    wait_for_background()
    assert not gallery.get(item_id).trashed, "Delete on the canvas trashed the gallery's selected image"
    window.docks["gallery"].raise_()
    focus_on(qtbot, window, window.gallery_panel.list)
    qtbot.keyClick(window.gallery_panel.list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: gallery.get(item_id).trashed, timeout=5000)


def test_an_unknown_or_missing_model_is_refused_at_submit(make_window, qtbot, tmp_path, ui_model) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: not window.library_model.scanning, timeout=10_000)
    panel = window.prompt_panel
    panel.prompt.setPlainText("a lighthouse")
    for model, said in (("no-such-model", "No model named 'no-such-model'"),
                        (str(tmp_path / "gone" / "model.safetensors"), "does not exist")):
        panel.model.setEditText(model)
        assert panel.submit() is None
        assert said in window.statusBar().currentMessage(), window.statusBar().currentMessage()
        assert said in panel.feedback.text()
    assert window.session.queue.jobs() == [], "a job was queued for a model that cannot be found"
    panel.model.setEditText(str(ui_model))
    assert panel.submit() is not None


def test_the_window_fits_1024_by_700(make_window, qtbot) -> None:
    """No dock or empty state sets a minimum wider than a small laptop screen (the training monitor
    scrolls; the canvas's empty-state title wraps)."""
    window = make_window()
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() <= 1024, timeout=2000)
    assert window.minimumSizeHint().width() <= 1024
    assert window.docks["training"].widget().widget() is window.training_monitor
