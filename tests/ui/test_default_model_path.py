"""Settings' default model given as a path (what the Settings dialog's Browse writes) is the model the
prompt dock chooses at start, not the first one listed."""

from __future__ import annotations

import json
from pathlib import Path


def test_a_default_model_given_by_path_is_chosen(make_window, qtbot, studio_home: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for name in ("aaa-model", "zzz-model"):
        (models / name).mkdir(parents=True)
        (models / name / "model_index.json").write_text(json.dumps({"_class_name": "UITestPipeline"}))
    wanted = models / "zzz-model"
    (studio_home / "settings.toml").write_text(
        f'model_folders = ["{models}"]\ndefault_model = "{wanted}"\n', encoding="utf-8")
    window = make_window()
    window.start_background_work()  # the library scan, as after the first paint
    panel = window.prompt_panel
    qtbot.waitUntil(lambda: panel.model.count() >= 2, timeout=10_000)
    qtbot.waitUntil(lambda: panel.model.currentText() == "zzz-model", timeout=5_000)
    assert Path(panel.model_reference()).resolve() == wanted.resolve()
