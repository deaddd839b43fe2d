"""The prompt dock shows only what the chosen model uses: a VAE draws from a seed (no prompt, steps,
guidance, scheduler or LoRAs), an unconditional GAN too, a conditional GAN takes a prompt; what the
user typed stays for the next model that uses it, is not sent to one that ignores it, and the job runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from studio.core.paths import RESOURCES
from studio.jobs import JobState

PLUGINS = RESOURCES.parent / "plugins"
WAIT_MS = 60_000
HIDDEN_FOR_A_SEED = ("prompt", "negative_prompt", "steps", "guidance", "scheduler", "loras")


def _choose(window, qtbot, name: str) -> None:
    panel = window.prompt_panel
    qtbot.waitUntil(lambda: panel.model.findText(name) >= 0, timeout=WAIT_MS)
    index = panel.model.findText(name)
    panel.model.setCurrentIndex(index)
    panel.model.activated.emit(index)  # as a pick from the list: the model's own defaults (64×64) follow


def _shown(panel) -> dict[str, bool]:
    return {name: panel._form.isRowVisible(parts[0]) for name, parts in panel._rows_by_setting.items()}


def test_the_dock_hides_what_a_seed_only_model_ignores_and_the_job_runs(make_window, qtbot, tmp_path: Path) -> None:
    # an unconditional GAN: demo-gan's folder without its labels (what `studio train gan` makes by default)
    plain_gan = tmp_path / "models" / "plain-gan"
    shutil.copytree(RESOURCES / "models" / "demo-gan", plain_gan)
    config = json.loads((plain_gan / "studio-gan.json").read_text())
    config["labels"] = []
    (plain_gan / "studio-gan.json").write_text(json.dumps(config))
    window = make_window(extra_plugin_paths=(PLUGINS / "studio_vae", PLUGINS / "studio_gan"),
                         trusted=("uitest", "vae", "gan"))
    window.session.library.folders = [str(tmp_path / "models")]
    window.library_model.refresh()
    panel = window.prompt_panel
    panel.prompt.setPlainText("a red circle on the left on a white background")

    _choose(window, qtbot, "demo-vae")
    assert _shown(panel) == dict.fromkeys(HIDDEN_FOR_A_SEED, False)
    job = panel.submit()  # the typed prompt is kept but not sent: a VAE refuses one
    assert job is not None and job.request.prompt == ""
    qtbot.waitUntil(lambda: window.queue_model.job_by_id(job.id).state.finished, timeout=WAIT_MS)
    assert window.queue_model.job_by_id(job.id).state is JobState.DONE
    assert panel.prompt.toPlainText() == "a red circle on the left on a white background"

    _choose(window, qtbot, "plain-gan")
    assert not any(_shown(panel).values())

    _choose(window, qtbot, "demo-gan")  # conditional: the prompt names its labels
    shown = _shown(panel)
    assert shown.pop("prompt") and not any(shown.values())
    job = panel.submit()
    assert job is not None and job.request.prompt == "a red circle on the left on a white background"
    qtbot.waitUntil(lambda: window.queue_model.job_by_id(job.id).state.finished, timeout=WAIT_MS)
    assert window.queue_model.job_by_id(job.id).state is JobState.DONE

    panel.model.setEditText("a model typed by hand")  # not a library entry: every field is back
    assert all(_shown(panel).values())
