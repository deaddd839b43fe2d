"""The prompt panel and the editor's sampling settings are views of request-shaped view-models:
defaults and ranges come from the request definition, "Use these settings" fills every field."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt

from studio.core.requests import GenerationRequest, LoraRef, TextRequest, field_defaults, field_range
from studio.ui.request_model import PromptViewModel

WAIT_MS = 15_000
EVERY_FIELD = GenerationRequest(
    model="/m/painter", prompt="a lighthouse at dusk", negative_prompt="fog", seed=3_000_000_123, steps=33,
    guidance=4.5, width=320, height=448, scheduler="DDIM", batch=3, strength=0.4,
    loras=(LoraRef("/l/ink.safetensors", 0.7), LoraRef("/l/grain.safetensors", -0.25)),
)


def _widgets(panel) -> dict:
    return {
        "model": panel.model.currentText(), "prompt": panel.prompt.toPlainText(),
        "negative_prompt": panel.negative.toPlainText(), "seed": int(panel.seed.value()),
        "steps": panel.steps.value(), "guidance": panel.guidance.value(), "width": panel.width_box.value(),
        "height": panel.height_box.value(), "scheduler": panel.scheduler.currentText(),
        "batch": panel.batch.value(), "strength": panel.strength.value(),
        "loras": [(panel.loras.item(r, 0).data(Qt.ItemDataRole.UserRole), panel._weight_box(r).value())
                  for r in range(panel.loras.rowCount())],
    }


def test_panel_defaults_and_ranges_are_the_requests(make_window) -> None:
    window = make_window()
    panel = window.prompt_panel
    defaults = GenerationRequest()
    assert panel.view_model.state == defaults
    shown = _widgets(panel)
    for name in ("prompt", "negative_prompt", "steps", "guidance", "width", "height", "scheduler", "batch",
                 "strength"):
        assert shown[name] == getattr(defaults, name), name
    assert shown["seed"] == -1 and panel.seed.text() == "Random"  # seed None: drawn when queued
    for name, box in (("steps", panel.steps), ("guidance", panel.guidance), ("batch", panel.batch),
                      ("strength", panel.strength)):
        assert (box.minimum(), box.maximum()) == field_range(GenerationRequest, name), name
    panel.view_model.set("model", "/m/x")
    assert panel.request() == GenerationRequest(model="/m/x", backend=window.settings.backend,
                                                device=window.settings.device)
    sampling = window.editor_panel.sampling
    text_defaults = field_defaults(TextRequest)
    assert sampling.view_model.state.max_new_tokens == sampling.max_tokens.value() == text_defaults["max_new_tokens"]
    assert sampling.view_model.state.seed is None and sampling.seed.value() == -1


def test_widgets_and_view_model_stay_in_step(qtbot) -> None:
    from PySide6.QtWidgets import QSpinBox

    from studio.ui.request_model import bind

    model = PromptViewModel()
    box = QSpinBox()
    qtbot.addWidget(box)
    box.setRange(*field_range(GenerationRequest, "steps"))
    bind(model, "steps", box)
    assert box.value() == 20 == model.state.steps
    box.setValue(42)
    assert model.state.steps == 42
    model.set("steps", 7)
    assert box.value() == 7
    assert model.update({"steps": "9", "model_name": "ignored", "guidance": 6}) == ["steps", "guidance"]
    assert (box.value(), model.state.guidance) == (9, 6.0)


def test_use_settings_of_a_gallery_item_fills_every_field(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    panel, gallery = window.prompt_panel, window.gallery_panel
    Image.new("RGB", (16, 16), (10, 20, 30)).save(tmp_path / "made.png")
    item_id = window.session.gallery.add(tmp_path / "made.png", EVERY_FIELD, EVERY_FIELD.seed).id
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1, timeout=WAIT_MS)
    panel.prompt.setPlainText("something else")
    panel.add_lora("/l/other.safetensors", 1.0)
    gallery.select_item(item_id)
    qtbot.mouseClick(gallery.use_button, Qt.MouseButton.LeftButton)

    expected = EVERY_FIELD.replace(backend=window.settings.backend, device=window.settings.device)
    assert panel.view_model.state == EVERY_FIELD
    assert panel.request() == expected
    shown = _widgets(panel)
    assert shown == {
        "model": "/m/painter", "prompt": "a lighthouse at dusk", "negative_prompt": "fog", "seed": 3_000_000_123,
        "steps": 33, "guidance": 4.5, "width": 320, "height": 448, "scheduler": "DDIM", "batch": 3,
        "strength": 0.4, "loras": [("/l/ink.safetensors", 0.7), ("/l/grain.safetensors", -0.25)],
    }
    # editing a LoRA weight in the table edits the view-model
    panel._weight_box(1).setValue(0.5)
    assert panel.request().loras[1] == LoraRef("/l/grain.safetensors", 0.5)
    panel.loras.selectRow(0)
    panel._remove_selected_lora()
    assert panel.request().loras == (LoraRef("/l/grain.safetensors", 0.5),)


def test_reuse_last_takes_the_seed_the_queue_drew(make_window, qtbot, ui_model) -> None:
    window = make_window()
    panel = window.prompt_panel
    panel.view_model.update({"model": str(ui_model), "prompt": "a calm lake", "steps": 2})
    assert panel.view_model.state.seed is None
    with qtbot.waitSignal(window.bridge.finished, timeout=WAIT_MS) as done:
        job = panel.submit()
    assert job is not None and job.request.seed is not None  # resolved when queued
    assert done.args[0].request.seed == job.request.seed
    assert panel.view_model.state.seed is None  # the panel stays on "Random"
    qtbot.mouseClick(panel.reuse_seed, Qt.MouseButton.LeftButton)
    assert panel.view_model.state.seed == job.request.seed == int(panel.seed.value())


def test_use_settings_of_a_text_job_sets_the_editor_sampling(make_window) -> None:
    window = make_window()
    window.session.runner.stop()
    request = TextRequest(model="demo-text", prompt="Once", max_new_tokens=77, seed=5, temperature=0.3,
                          top_p=0.5, top_k=7, repetition_penalty=1.3, watermark=True)
    job = window.session.runner.submit(request)
    window.use_job_settings(window.queue_model.job_by_id(job.id))
    sampling = window.editor_panel.sampling
    for name in ("max_new_tokens", "seed", "temperature", "top_p", "top_k", "repetition_penalty", "watermark"):
        assert getattr(sampling.view_model.state, name) == getattr(request, name), name
    assert (sampling.max_tokens.value(), int(sampling.seed.value()), sampling.temperature.value()) == (77, 5, 0.3)
    assert sampling.watermark.isChecked()
    made = window.editor_panel.sampling.request("demo-text", "Twice", mode="continue")
    assert made == request.replace(prompt="Twice")
