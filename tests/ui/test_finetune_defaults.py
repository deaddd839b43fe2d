"""The Fine-tune dialog fills in what the chosen model recommends, as ``studio train lora --model`` does.

The demo ships a ``studio-defaults.json`` whose "lora" block (2100 steps, lr 1e-3, batch 8) is what
teaches it a concept; a run started from the window on the demo must get those, not the generic
SD-sized defaults (1500 steps, lr 1e-4, batch 4), or the window's run learns nothing the CLI's would.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.settings import Settings
from studio.library_setup import library_for
from studio.plugins import PluginRegistry
from studio.ui.dialogs.finetune import FineTuneDialog
from tests.fixtures.stars import write_star_folder

DEMO_LORA = json.loads((Path(__file__).resolve().parents[2] / "resources" / "models" / "demo"
                        / "studio-defaults.json").read_text())["lora"]


def _dialog(qtbot) -> FineTuneDialog:
    registry = PluginRegistry.from_environment()
    entries = library_for(Settings(model_folders=[]), registry, scan_hf_cache=False).scan()
    dialog = FineTuneDialog(registry, entries, submit=lambda request: None)
    qtbot.addWidget(dialog)
    return dialog


def test_the_demo_opens_with_its_recommended_lora_settings(qtbot, tmp_path: Path) -> None:
    dialog = _dialog(qtbot)
    dialog.model_box.setCurrentIndex(dialog.model_box.findText("demo"))
    assert dialog.chosen_entry() is not None and dialog.chosen_entry().name == "demo"
    assert dialog.steps.value() == DEMO_LORA["steps"]
    assert float(dialog.lr_edit.text()) == DEMO_LORA["lr"]
    assert dialog.batch.value() == DEMO_LORA["batch_size"]

    # the run the dialog queues holds them, even on a data set smaller than the batch (the recipe
    # takes the whole set a step then, as the CLI does)
    dialog.set_data_folder(str(write_star_folder(tmp_path / "stars", 4)))
    dialog.out_edit.setText(str(tmp_path / "stars.safetensors"))
    qtbot.waitUntil(lambda: not dialog.scanning)
    assert dialog.validate() == ""
    request = dialog.request()
    assert (request.steps, request.learning_rate, request.batch_size) == (
        DEMO_LORA["steps"], DEMO_LORA["lr"], DEMO_LORA["batch_size"])
    for flag in ("lr_schedule", "prior_images", "repeats", "snr_gamma"):  # what the dialog has no field for comes along
        assert request.options[flag] == DEMO_LORA[flag]


def test_another_model_gets_the_generic_settings_and_edited_values_stay(qtbot, tmp_path: Path) -> None:
    dialog = _dialog(qtbot)
    dialog.model_box.setCurrentIndex(dialog.model_box.findText("demo"))
    dialog.model_box.setEditText(str(tmp_path / "my-sd15-folder"))  # a path the library does not list
    assert dialog.chosen_entry() is None
    generic = (dialog.steps.value(), float(dialog.lr_edit.text()), dialog.batch.value())
    assert generic != (DEMO_LORA["steps"], DEMO_LORA["lr"], DEMO_LORA["batch_size"])
    assert generic == (1500, 1e-4, 4)  # the recipe's own defaults for an SD-sized model

    dialog.steps.setValue(700)  # the user's own choice survives choosing another model
    dialog.model_box.setCurrentIndex(dialog.model_box.findText("demo"))
    assert dialog.steps.value() == 700
    assert float(dialog.lr_edit.text()) == DEMO_LORA["lr"] and dialog.batch.value() == DEMO_LORA["batch_size"]


def test_what_the_dialog_does_not_show_comes_from_the_models_recommendation_too(qtbot, tmp_path: Path) -> None:
    """A model may recommend flags the dialog has no field for (schedule, prior pictures); the run the
    dialog queues carries them, as ``studio train lora --model`` would."""
    from dataclasses import replace

    registry = PluginRegistry.from_environment()
    entries = library_for(Settings(model_folders=[]), registry, scan_hf_cache=False).scan()
    demo = next(e for e in entries if e.name == "demo")
    lora = {**demo.details["defaults"]["lora"], "lr_schedule": "cosine", "prior_images": 36}
    tuned = replace(demo, name="demo-tuned", details={**demo.details, "defaults": {
        **demo.details["defaults"], "lora": lora}})
    dialog = FineTuneDialog(registry, [*entries, tuned], submit=lambda request: None)
    qtbot.addWidget(dialog)
    dialog.model_box.setCurrentIndex(dialog.model_box.findText("demo-tuned"))
    dialog.set_data_folder(str(write_star_folder(tmp_path / "stars", 4)))
    dialog.out_edit.setText(str(tmp_path / "stars.safetensors"))
    qtbot.waitUntil(lambda: not dialog.scanning)
    request = dialog.request()
    assert request.options["lr_schedule"] == "cosine" and request.options["prior_images"] == 36
    dialog.model_box.setEditText(str(tmp_path / "another-model"))
    assert dialog.request().options["lr_schedule"] == "constant"  # the recipe's own default
