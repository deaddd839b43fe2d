"""demo-lstm in the window's editor: Continue (Ctrl+Return) streams its characters into the document
through the same TextRequest the transformers family gets, and the text is marked as generated."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.plugins import RESOURCES, TrainRequest
from tests.ui.conftest import make_window, ui_plugins  # noqa: F401  (fixtures)

LSTM_PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "studio_lstm"
DEMO = RESOURCES / "models" / "demo-lstm"


def test_the_editor_continues_text_with_demo_lstm(make_window, qtbot) -> None:  # noqa: F811
    window = make_window(extra_plugin_paths=(LSTM_PLUGIN,), trusted=("lstm",))
    assert "char-lstm" in window.session.registry.model_kinds("text")
    window.library_model.entries = [window.session.library.resolve(str(DEMO))]
    window.library_model.changed.emit()
    window.resize(1440, 900)
    window.docks["editor"].raise_()
    panel = window.editor_panel
    panel.start()
    for _ in range(5):
        QApplication.processEvents()
    panel.sampling.max_tokens.setValue(300)
    panel.sampling.seed.setValue(4)
    tab = panel.current_tab()
    tab.edit.setFocus()
    qtbot.keyClicks(tab.edit, "The king")
    qtbot.keyClick(tab.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not panel.busy, timeout=60_000)
    job = window.session.queue.jobs()[-1]
    assert job.request.kind == "text" and job.request.model.endswith("demo-lstm")
    generated = tab.text()
    assert generated.startswith("The king") and len(generated) == len("The king") + 300
    assert tab.ai_spans() == [[len("The king"), len(generated)]]


def test_the_training_monitor_plots_an_lstm_run(make_window, qtbot, tmp_path) -> None:  # noqa: F811
    data = tmp_path / "verse.txt"
    data.write_text("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n" * 30,
                    encoding="utf-8")
    window = make_window(extra_plugin_paths=(LSTM_PLUGIN,), trusted=("lstm",))
    window.show_training_monitor()
    options = {"out": str(tmp_path / "model"), "seq_len": 32, "embed": 8, "hidden": 16, "layers": 1, "log_every": 5}
    window.submit(TrainRequest(recipe="lstm", data=str(data), run_dir=str(tmp_path / "run"), steps=30,
                               batch_size=4, learning_rate=3e-3, options=options))
    monitor = window.training_monitor
    # every logged step (5, 10 … 30) is a point: the evaluation after the last step must not erase it
    qtbot.waitUntil(lambda: monitor.curve_points().get("loss", 0) == 6, timeout=60_000)
    qtbot.waitUntil(lambda: (tmp_path / "model" / "model.safetensors").is_file(), timeout=60_000)
