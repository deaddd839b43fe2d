"""The Training monitor and the Fine-tune (LoRA) dialog, on real LoRA runs of the tiny SD pipeline.

Every run here is real: the diffusers plugin's LoRA recipe trains the tiny pipeline on a few star
images written by the test, through the window's session and runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.core.requests import TrainRequest
from studio.jobs.queue import Job, JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from studio.ui.bridge import JobBridge
from studio.ui.dialogs.finetune import FineTuneDialog
from studio.ui.training_runs import RunData, ema, format_duration, read_events, run_info
from studio.ui.window import MainWindow
from tests.fixtures.stars import write_star_folder

WAIT_MS = 60_000


@pytest.fixture
def lora_window(qtbot) -> Iterator[MainWindow]:
    """A window on a real session with the first-party plugins (the diffusers family trains LoRAs)."""
    import torch  # the tests' own import (the window never imports it)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two torch threads thrash beside anything else on a 2-core machine
    bridge = JobBridge()
    session = StudioSession(registry=PluginRegistry.from_environment(), listener=bridge)
    window = MainWindow(session, bridge, probe_command=None)
    bridge.setParent(window)
    session.runner.start()
    window.show()
    qtbot.waitExposed(window)
    window.show_training_monitor()
    yield window
    session.runner.stop()
    window.close()
    window.shutdown()
    session.close()
    window.deleteLater()
    torch.set_num_threads(threads)


@pytest.fixture
def stars(tmp_path: Path) -> Path:
    return write_star_folder(tmp_path / "stars", 4)


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _lora_request(model: Path, data: Path, out: Path, steps: int = 6) -> TrainRequest:
    return TrainRequest(recipe="lora", model=str(model), data=str(data), steps=steps, batch_size=2, resume=True,
                        learning_rate=1e-3, options={"out": str(out), "resolution": 64, "sample_every": 3,
                                                     "checkpoint_every": 3, "log_every": 1,
                                                     "prior_prompts": []})


def _finish(window: MainWindow, qtbot, job_id: int) -> Job:
    qtbot.waitUntil(lambda: window.session.queue.get(job_id).state.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.training_model.job is not None and window.training_model.job.state.finished,
                    timeout=WAIT_MS)
    # the queue dock's rows (what the run list's statuses come from) follow the bridge's signals
    qtbot.waitUntil(lambda: window.queue_model.job_by_id(job_id).state.finished, timeout=WAIT_MS)
    return window.session.queue.get(job_id)


def test_a_run_started_from_the_dialog_is_watched_paused_resumed_and_its_lora_used(
    lora_window: MainWindow, qtbot, tiny_sd_folder: Path, stars: Path, tmp_path: Path
) -> None:
    window, monitor = lora_window, lora_window.training_monitor
    assert monitor.stack.currentWidget() is not monitor.content  # the empty state, with its button
    assert monitor.minimumSizeHint().width() < 300  # the empty state does not ask for the figures' width
    with qtbot.waitSignal(window.training_monitor.empty_fine_tune.clicked):
        _click(qtbot, monitor.empty_fine_tune)
    dialogs = [w for w in window.findChildren(FineTuneDialog) if w.isVisible()]
    assert len(dialogs) == 1
    dialogs[0].reject()
    dialog = window.open_fine_tune()  # the Training menu's action does the same
    assert dialog is not None and dialog.isVisible()

    # bad input is said in the dialog, and nothing is queued
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog.model_box.setEditText(str(tiny_sd_folder))
    dialog.set_data_folder(str(empty))
    qtbot.waitUntil(lambda: not dialog.scanning)
    _click(qtbot, dialog.start_button)
    assert "holds no images" in dialog.message.text() and dialog.message.isVisible()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    dialog.set_data_folder(str(stars))
    dialog.out_edit.setText(str(blocker / "stars.safetensors"))
    qtbot.waitUntil(lambda: not dialog.scanning)
    _click(qtbot, dialog.start_button)
    assert "cannot be created" in dialog.message.text()
    assert window.session.queue.jobs() == []

    # the data set view: thumbnails with captions; an edited caption is saved beside its image
    view = dialog.dataset
    assert view.table.rowCount() == 4
    assert not view.table.item(0, 0).icon().isNull()
    view.edit_caption(0, "a large red star on the left  on a white background")
    first = view.scan.items[0].path
    assert first.with_suffix(".txt").read_text() == "a large red star on the left on a white background\n"
    (stars / "broken.png").write_bytes(b"not a png")
    first.with_suffix(".txt").unlink()
    dialog.rescan()
    qtbot.waitUntil(lambda: not dialog.scanning)
    assert "broken.png" in view.problems.text() and view.problems.isVisible()
    assert "1 without a caption" in view.summary.text()
    assert "no caption" in view.table.item(0, 0).text()
    view.edit_caption(0, "a small blue star at the top on a black background")
    assert "no caption" not in view.table.item(0, 0).text()

    out = tmp_path / "loras" / "stars.safetensors"
    dialog.out_edit.setText(str(out))
    dialog.steps.setValue(6)
    dialog.batch.setValue(2)
    dialog.resolution.setValue(64)
    dialog.lr_edit.setText("1e-3")
    dialog.sample_every.setValue(3)
    dialog.checkpoint_every.setValue(3)
    dialog.text_encoder.setCurrentIndex(2)  # off
    dialog.sample_prompts.setPlainText("a red star\n\na blue circle")
    dialog.extra_flags.setText("--no-prior --lr-schedule cosine")
    _click(qtbot, dialog.start_button)
    job = dialog.job
    assert job is not None and not dialog.isVisible()
    request = job.request
    assert isinstance(request, TrainRequest)
    assert request.options["out"] == str(out) and request.options["train_text_encoder"] is False
    assert request.options["sample_prompts"] == ["a red star", "a blue circle"]
    assert request.options["prior_prompts"] == [] and request.options["lr_schedule"] == "cosine"
    assert request.steps == 6 and request.batch_size == 2 and request.learning_rate == 1e-3
    model = window.training_model
    assert model.run_dir == request.run_dir and model.job is not None and model.job.id == job.id
    assert window.docks["training"].isVisible()

    # pause as soon as it runs; resume; it finishes
    qtbot.waitUntil(monitor.pause_button.isEnabled, timeout=WAIT_MS)
    assert not monitor.resume_button.isEnabled() and monitor.cancel_button.isEnabled()
    _click(qtbot, monitor.pause_button)
    qtbot.waitUntil(lambda: model.state == "paused", timeout=WAIT_MS)
    assert "paused" in monitor.state_label.text()
    assert monitor.resume_button.isEnabled() and not monitor.pause_button.isEnabled()
    _click(qtbot, monitor.resume_button)
    final = _finish(window, qtbot, job.id)
    assert final.state is JobState.DONE, final.error

    qtbot.waitUntil(lambda: monitor.curve_points().get("loss", 0) == 6, timeout=5000)
    assert monitor.curve_points()["ema"] == 6 and monitor.curve_points()["lr"] == 6
    assert monitor.step_label.text() == "6 / 6"
    assert monitor.speed_label.text().endswith(("it/s", "s/it")) and "RAM" in monitor.memory_label.text()
    assert monitor.eta_label.text() == "finished"
    assert monitor.minimumSizeHint().width() <= 480  # beside the queue in a 1024 px window, no sideways scroll
    assert monitor.sample_view.image is not None and monitor.sample_label.text().startswith("Step 6")
    log = monitor.log_view.toPlainText()
    assert "Checkpoint saved" in log and "paused" in log and "Saved the LoRA" in log
    _click(qtbot, monitor.earlier_button)  # the sample at step 3
    assert monitor.sample_label.text().startswith("Step 3") and not monitor.earlier_button.isEnabled()
    _click(qtbot, monitor.later_button)
    assert monitor.sample_label.text().startswith("Step 6")
    assert not monitor.pause_button.isEnabled() and not monitor.cancel_button.isEnabled()
    assert not monitor.resume_run_button.isEnabled()

    _click(qtbot, monitor.use_button)
    assert [Path(lora.path) for lora in window.prompt_panel.lora_refs()] == [out]
    assert window.prompt_panel.loras.rowCount() == 1


def test_a_finished_run_reattaches_overlays_and_a_cancelled_one_resumes(
    lora_window: MainWindow, qtbot, tiny_sd_folder: Path, stars: Path, tmp_path: Path
) -> None:
    window, monitor, model = lora_window, lora_window.training_monitor, lora_window.training_model
    first = window.submit(_lora_request(tiny_sd_folder, stars, tmp_path / "one.safetensors"))
    assert _finish(window, qtbot, first.id).state is JobState.DONE
    second = window.submit(_lora_request(tiny_sd_folder, stars, tmp_path / "two.safetensors", steps=200))
    qtbot.waitUntil(lambda: model.job is not None and model.job.id == second.id, timeout=WAIT_MS)  # attached
    qtbot.waitUntil(lambda: len(model.data.steps) >= 2, timeout=WAIT_MS)
    _click(qtbot, monitor.cancel_button)
    assert _finish(window, qtbot, second.id).state is JobState.CANCELLED
    assert monitor.resume_run_button.isEnabled() and not monitor.use_button.isEnabled()

    # the run list: both runs with their status; choosing one reads it back from its folder
    _click(qtbot, monitor.refresh_button)
    statuses = {info.name: info.status for info in model.runs}
    assert statuses == {"lora-one": "done", "lora-two": "cancelled"}
    one = first.request.run_dir
    monitor.choose_run(one)
    qtbot.waitUntil(lambda: not model.loading and model.run_dir == one)
    on_disk = [e for e in read_events(one) if e.get("event") == "step"]
    assert len(on_disk) == 6
    assert monitor.curve_points()["loss"] == len(on_disk)
    assert "Checkpoint saved at step 6" in monitor.log_view.toPlainText()
    assert monitor.use_button.isEnabled()  # its job is in the queue: its LoRA is known
    assert monitor.sample_label.text().startswith("Step 6")

    # overlay the other run's loss; then remove it
    monitor.choose_compare(second.request.run_dir)
    qtbot.waitUntil(lambda: monitor.curve_points()["compare"] > 0)
    assert monitor.curve_points()["compare"] == len(model.compare.steps)
    monitor.choose_compare("")
    assert monitor.curve_points()["compare"] == 0

    # the cancelled run resumes from its checkpoint, followed live
    monitor.choose_run(second.request.run_dir)
    qtbot.waitUntil(lambda: not model.loading and monitor.resume_run_button.isEnabled())
    stopped_at = model.data.steps[-1]
    checkpoint = max(int(p.name.split("-")[1]) for p in (Path(second.request.run_dir) / "checkpoints").glob("step-*"))
    shown: list[str] = []  # the step figure whenever it changes once the run folder is read, from the click on
    model.stats_changed.connect(lambda: None if model.loading else shown.append(monitor.step_label.text()))
    _click(qtbot, monitor.resume_run_button)
    qtbot.waitUntil(lambda: "Resumed from the checkpoint" in monitor.log_view.toPlainText(), timeout=WAIT_MS)
    # while the run loads its model it stays at its step (it never reads "0 / 200")
    assert shown and all(int(text.split(" / ")[0]) >= checkpoint for text in shown if " / " in text), shown
    assert "running" in monitor.runs_box.currentText()  # the run list says what the followed job does
    qtbot.waitUntil(lambda: model.data.steps and model.data.steps[-1] > stopped_at, timeout=WAIT_MS)
    _click(qtbot, monitor.cancel_button)
    assert _finish(window, qtbot, second.id).state is JobState.CANCELLED
    steps = model.data.steps
    assert steps == sorted(set(steps))  # one continuous curve, no step twice


def test_run_folder_reading_is_plain_json(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "lora-x"
    (run / "samples").mkdir(parents=True)
    lines = [{"event": "start", "step": 0}]
    lines += [{"event": "step", "step": s, "total": 4, "loss": 1.0 / s, "lr": 1e-4, "it_s": 2.0, "eta_s": 4 - s,
               "epoch": s / 2, "rss_mb": 500.0} for s in (1, 2, 3)]
    lines += [{"event": "checkpoint", "step": 2}, {"event": "resume", "step": 2},
              {"event": "step", "step": 3, "total": 4, "loss": 0.3, "lr": 1e-4}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"event": "st')
    (run / "samples" / "step-00000002.png").write_bytes(b"")
    data = RunData.read(run)
    assert data.steps == [1.0, 2.0, 3.0] and data.loss[-1] == 0.3  # the redone step replaced the old one
    assert data.samples[0][0] == 2 and data.total == 4
    assert run_info(run).status == "interrupted" and run_info(run, "running").status == "running"
    assert ema([1.0, 1.0, 4.0])[0] == 1.0 and format_duration(3725) == "1:02:05"


def test_the_fine_tune_dialog_leaves_the_checkpoint_interval_to_the_recipe_by_default(
    lora_window: MainWindow, tiny_sd_folder: Path, stars: Path
) -> None:
    """A short run started from the window keeps several checkpoints (the recipe adapts the interval)."""
    dialog = lora_window.open_fine_tune()
    assert dialog is not None
    assert dialog.checkpoint_every.text() == "automatic"
    assert "--checkpoint-every" not in dialog.flags()
    dialog.checkpoint_every.setValue(7)
    flags = dialog.flags()
    assert flags[flags.index("--checkpoint-every") + 1] == "7"
    dialog.reject()
