"""The gallery's match scores in the real window: Score match runs a score job (in the queue) that
stores each image's match to its own prompt, shown on the caption, tooltip and details; Best match
first sorts by it; scores are kept until the scorer changes; new images are scored when Settings says
so; Rank by prompt… ranks a selection in a dialog the designer acts from; a missing or failing
scorer is a clear message while the gallery keeps working.

The scorer is a real plugin with the ``score`` capability (written below): an image's mean colour
against the colour words of the prompt, as a cosine similarity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.ui.dialogs.rank import RankDialog
from studio.ui.window import MainWindow
from tests.fixtures.tiny_clip import build_tiny_clip
from tests.plugin_helpers import manifest_text, write_plugin

WAIT_MS = 20_000
SCORER_ID = "colourscore"
SCORER_CODE = """
import math
import time

from PIL import Image, ImageStat

from studio.plugins import JobCancelled, JobResult

COLOURS = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "orange": (1, 0.55, 0), "white": (1, 1, 1)}


def prompt_vector(prompt):
    vector = [0.0, 0.0, 0.0]
    for word in prompt.lower().split():
        for i, value in enumerate(COLOURS.get(word.strip(",."), (0, 0, 0))):
            vector[i] += value
    return vector


def cosine(a, b):
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / norm if norm else 0.0


class Scorer:
    def __init__(self, fail, delay):
        self.fail, self.delay = fail, delay

    def run(self, request, report, cancelled):
        if self.fail:
            raise RuntimeError("the scorer's weights are damaged")
        images = []
        for n, path in enumerate(request.images, 1):
            time.sleep(self.delay)
            if cancelled():
                raise JobCancelled("stopped")
            with Image.open(path) as image:
                mean = ImageStat.Stat(image.convert("RGB")).mean
            images.append({"image": path, "scores": [{"prompt": p, "score": cosine(mean, prompt_vector(p))}
                                                     for p in request.prompts]})
            report(n, len(request.images))
        return JobResult(data={"images": images, "model": "colour scorer"})

    def unload(self):
        pass


def load(context):
    import json
    import pathlib

    config = json.loads((pathlib.Path(context.model.path) / "colour-scorer.json").read_text())
    return Scorer(config.get("fail", False), config.get("delay", 0.0))
"""
MODEL = "/models/deep/folder/sd15-pruned.safetensors"
IMAGES = (("a red fox", (230, 30, 20)), ("a red kite", (20, 40, 220)), ("a green frog", (30, 200, 40)))


@pytest.fixture(scope="module")
def scorer_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scorer-plugins")
    manifest = manifest_text(SCORER_ID, "studio_colourscore", "Colour scorer", capabilities=("score",),
                             model_files=("colour-scorer.json",))
    write_plugin(folder, "studio_colourscore", manifest, SCORER_CODE)
    return folder


def scorer_folder(folder: Path, fail: bool = False, delay: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "colour-scorer.json").write_text(json.dumps({"fail": fail, "delay": delay}))
    return folder


def window_with_images(make_window, qtbot, scorer_plugins: Path, tmp_path: Path, scorer: Path | str) -> MainWindow:
    window = make_window(extra_plugin_paths=(scorer_plugins,), trusted=("uitest", SCORER_ID))
    window.settings.scorer_model = str(scorer)
    for n, (prompt, colour) in enumerate(IMAGES):
        path = tmp_path / "shots" / f"img{n}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (40, 30), colour).save(path)
        window.session.gallery.add(path, GenerationRequest(model=MODEL, prompt=prompt, seed=n, steps=5), n)
    window.docks["gallery"].raise_()
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 3 and not window.gallery_model.searching,
                    timeout=WAIT_MS)
    return window


def captions(window: MainWindow) -> list[str]:
    model = window.gallery_model
    return [model.data(model.index(row)) for row in range(model.rowCount())]


def score_jobs(window: MainWindow) -> list:
    return [job for job in window.session.queue.jobs() if job.request.kind == "score"]


def wait_scored(qtbot, window: MainWindow, count: int) -> None:
    qtbot.waitUntil(lambda: window.gallery_panel.match_status.text().startswith(f"Scored {count} image"),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.gallery_model.searching, timeout=WAIT_MS)


def test_score_match_shows_each_images_match_and_sorts_best_match_first(
        make_window, qtbot, scorer_plugins: Path, tmp_path: Path) -> None:
    scorer = scorer_folder(tmp_path / "colour-scorer")
    window = window_with_images(make_window, qtbot, scorer_plugins, tmp_path, scorer)
    panel = window.gallery_panel
    assert not any("%" in caption for caption in captions(window))  # nothing scored yet
    panel.select_item(window.gallery_model.item(0).id)
    assert "Match: not scored yet" in panel.details.text()

    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "job" in panel.match_status.text() or "Scored" in panel.match_status.text(),
                    timeout=WAIT_MS)
    wait_scored(qtbot, window, 3)
    (job,) = score_jobs(window)  # one job, shown in the queue like any other
    assert job.state is JobState.DONE and window.queue_model.job_by_id(job.id) is not None
    assert captions(window) == ["97% · a green frog", "9% · a red kite", "99% · a red fox"]  # newest first
    model = window.gallery_model
    tooltip = model.data(model.index(2), Qt.ItemDataRole.ToolTipRole)
    assert "Match: 99% (cosine 0.99, by colour-scorer)" in tooltip  # the scorer by name
    panel.select_item(model.item(2).id)
    assert "Match: 99%" in panel.details.text()
    box = panel.view_selected()  # the lightbox's caption says it too
    assert box is not None and "a red fox   ·   match 99%" in box.caption.text()
    qtbot.waitUntil(lambda: box.shown_path == box.path, timeout=WAIT_MS)
    box.close()

    panel.sort.setCurrentText("Best match first")  # sort: the fox (red on red) first, the blue "red kite" last
    qtbot.waitUntil(lambda: [i.prompt for i in model.items] == ["a red fox", "a green frog", "a red kite"],
                    timeout=WAIT_MS)
    assert [i.prompt for i in model.items] == ["a red fox", "a green frog", "a red kite"]

    # the scores are kept: scoring again queues nothing ...
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.match_status.text().startswith("Every image is scored by"), timeout=WAIT_MS)
    assert len(score_jobs(window)) == 1
    # ... until another scorer is chosen: then every image is scored by it
    other = scorer_folder(tmp_path / "another-scorer")
    window.settings.scorer_model = str(other)
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    wait_scored(qtbot, window, 3)
    assert len(score_jobs(window)) == 2
    assert {item.match_model for item in window.session.gallery.search()} == {str(other)}


def test_rank_by_prompt_ranks_the_selection_and_the_best_can_be_starred_and_opened(
        make_window, qtbot, scorer_plugins: Path, tmp_path: Path) -> None:
    window = window_with_images(make_window, qtbot, scorer_plugins, tmp_path, scorer_folder(tmp_path / "scorer"))
    panel = window.gallery_panel
    panel.list.selectAll()
    menu = panel.context_menu()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert "Score Match" in texts and "Rank by Prompt…" in texts and panel.rank_action.isEnabled()
    menu.deleteLater()

    panel.rank_action.trigger()
    asking = panel.findChild(QInputDialog, "rankPromptInput")
    assert asking is not None and asking.isVisible()
    asking.setTextValue("something blue")
    asking.accept()
    dialog = window.gallery_scoring.rank_dialog
    assert isinstance(dialog, RankDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.list.count() == 3, timeout=WAIT_MS)
    assert [item.prompt for item, _score in dialog.ranked] == ["a red kite", "a green frog", "a red fox"]
    assert dialog.ranked[0][1] > 0.9 and dialog.list.item(0).text().startswith("1.  9")
    assert "Best match for “something blue” first" in dialog.status.text()
    assert window.session.gallery.search(text="kite")[0].match_score is None  # a ranking is not a match score

    best = dialog.ranked[0][0]
    qtbot.mouseClick(dialog.star_button, Qt.MouseButton.LeftButton)
    assert window.session.gallery.get(best.id).starred
    assert dialog.list.item(0).text().split("\n")[1].startswith("★ ")
    with qtbot.waitSignal(panel.open_item, timeout=WAIT_MS) as opened:
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened.args[0].id == best.id
    qtbot.waitUntil(lambda: not window.canvas_model.document.isNull(), timeout=WAIT_MS)
    assert window.canvas_model.document.pixelColor(5, 5).blue() == 220  # the blue picture is on the canvas
    dialog.close()


def test_closing_a_ranking_before_it_is_done_cancels_its_job(
        make_window, qtbot, scorer_plugins: Path, tmp_path: Path) -> None:
    slow = scorer_folder(tmp_path / "slow-scorer", delay=0.5)
    window = window_with_images(make_window, qtbot, scorer_plugins, tmp_path, slow)
    window.gallery_panel.list.selectAll()
    window.gallery_panel.rank_selected_by("red")
    dialog = window.gallery_scoring.rank_dialog
    qtbot.waitUntil(lambda: dialog.job_id is not None, timeout=WAIT_MS)
    job_id = dialog.job_id
    qtbot.waitUntil(lambda: window.session.queue.get(job_id).state is JobState.RUNNING, timeout=WAIT_MS)
    dialog.close()
    qtbot.waitUntil(lambda: window.session.queue.get(job_id).state is JobState.CANCELLED, timeout=WAIT_MS)
    assert window.gallery_scoring.rank_dialog is None


def test_a_missing_or_failing_scorer_is_a_clear_message_and_the_gallery_keeps_working(
        make_window, qtbot, scorer_plugins: Path, tmp_path: Path) -> None:
    window = window_with_images(make_window, qtbot, scorer_plugins, tmp_path, tmp_path / "no-such-scorer")
    panel = window.gallery_panel
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.match_status.isVisible, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "could not be computed" in panel.match_status.text(), timeout=WAIT_MS)
    text = panel.match_status.text()
    assert "no-such-scorer" in text and "does not exist" in text and "Settings › Scorer model" in text
    assert score_jobs(window) == []  # refused before anything was queued
    panel.list.selectAll()
    panel.rank_selected_by("red")
    dialog = window.gallery_scoring.rank_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "could not be ranked" in dialog.status.text(), timeout=WAIT_MS)
    assert "no-such-scorer" in dialog.status.text() and dialog.list.count() == 0
    dialog.close()

    # a scorer that fails when it runs: the job fails, the message says why, the gallery still filters
    window.settings.scorer_model = str(scorer_folder(tmp_path / "broken-scorer", fail=True))
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "damaged" in panel.match_status.text(), timeout=WAIT_MS)
    assert score_jobs(window)[0].state is JobState.FAILED
    assert "could not be computed" in panel.match_status.text()
    panel.search.setText("frog")
    panel.apply_filter()
    qtbot.waitUntil(lambda: [i.prompt for i in window.gallery_model.items] == ["a green frog"], timeout=WAIT_MS)


def test_many_images_are_scored_a_job_at_a_time_and_a_cancelled_run_stops(
        make_window, qtbot, scorer_plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.ui import gallery_scoring

    monkeypatch.setattr(gallery_scoring, "MAX_IMAGES_PER_JOB", 2)
    window = window_with_images(make_window, qtbot, scorer_plugins, tmp_path, scorer_folder(tmp_path / "scorer"))
    panel = window.gallery_panel
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    wait_scored(qtbot, window, 3)  # the count of the whole run
    assert [len(job.request.images) for job in score_jobs(window)] == [2, 1]
    assert all(i.match_score is not None for i in window.session.gallery.search())

    window.settings.scorer_model = str(scorer_folder(tmp_path / "slow-scorer", delay=0.3))
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "(1 more after it)" in panel.match_status.text(), timeout=WAIT_MS)
    job = score_jobs(window)[-1]
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state is JobState.RUNNING, timeout=WAIT_MS)
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)  # again, while it runs: nothing twice
    qtbot.wait(300)
    assert len(window.gallery_scoring.waiting) == 1 and len(score_jobs(window)) == 3
    window.cancel_job(job.id)
    qtbot.waitUntil(lambda: panel.match_status.text().startswith("Scoring stopped"), timeout=WAIT_MS)
    qtbot.wait(300)
    assert len(score_jobs(window)) == 3  # the images after the cancelled job were not queued
    assert window.gallery_scoring.waiting == [] and window.gallery_scoring.running is None


def test_new_images_are_scored_as_they_arrive_when_settings_say_so(
        make_window, qtbot, scorer_plugins: Path, ui_model: Path, tmp_path: Path) -> None:
    scorer = scorer_folder(tmp_path / "scorer")
    window = make_window(extra_plugin_paths=(scorer_plugins,), trusted=("uitest", SCORER_ID))
    window.settings.scorer_model = str(scorer)
    request = GenerationRequest(model=str(ui_model), prompt="an orange square", steps=2, width=64, height=64)
    window.settings.auto_score = False
    window.submit(request)
    qtbot.waitUntil(lambda: window.session.gallery.count() == 1, timeout=WAIT_MS)
    qtbot.wait(300)
    assert score_jobs(window) == []  # off: nothing scored

    window.settings.auto_score = True
    window.submit(request.replace(seed=2))
    qtbot.waitUntil(lambda: any(i.match_score is not None for i in window.session.gallery.search()),
                    timeout=WAIT_MS)
    scored = [i for i in window.session.gallery.search() if i.match_score is not None]
    assert len(scored) == 1 and scored[0].seed == 2 and scored[0].match_score > 0.9  # an orange picture
    assert len(score_jobs(window)) == 1

    # a scorer that is missing: said once, not again for each new image (until Settings are saved)
    window.settings.scorer_model = str(tmp_path / "gone-scorer")
    notices: list[str] = []
    window.notices.changed.connect(lambda text: notices.append(text) if "gone-scorer" in text else None)
    for seed in (3, 4):
        window.submit(request.replace(seed=seed))
        qtbot.waitUntil(lambda s=seed: any(i.seed == s for i in window.session.gallery.search()), timeout=WAIT_MS)
        qtbot.wait(300)
    assert len(notices) == 1 and "could not be computed" in window.gallery_panel.match_status.text()
    assert len(score_jobs(window)) == 1


def test_old_gallery_files_open_in_the_window_and_sort_by_match(
        make_window, qtbot, scorer_plugins: Path, tmp_path: Path) -> None:
    """A gallery index the previous version wrote (no match columns) opens, lists and scores."""
    import sqlite3

    from studio.core.gallery import Gallery
    from studio.core.paths import home_path

    gallery = Gallery()
    for n, (prompt, colour) in enumerate(IMAGES):
        path = tmp_path / f"old{n}.png"
        Image.new("RGB", (40, 30), colour).save(path)
        gallery.add(path, GenerationRequest(model=MODEL, prompt=prompt, seed=n), n)
    gallery.close()
    db = sqlite3.connect(home_path("gallery") / "index.sqlite")
    db.executescript("DROP INDEX items_match; ALTER TABLE items DROP COLUMN match_score;"
                     " ALTER TABLE items DROP COLUMN match_model;")
    db.close()
    scorer = scorer_folder(tmp_path / "scorer")
    window = make_window(extra_plugin_paths=(scorer_plugins,), trusted=("uitest", SCORER_ID))
    window.settings.scorer_model = str(scorer)
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 3, timeout=WAIT_MS)
    qtbot.mouseClick(window.gallery_panel.score_button, Qt.MouseButton.LeftButton)
    wait_scored(qtbot, window, 3)
    window.gallery_panel.sort.setCurrentText("Best match first")
    qtbot.waitUntil(lambda: [i.prompt for i in window.gallery_model.items] == ["a red fox", "a green frog",
                                                                             "a red kite"], timeout=WAIT_MS)


def test_settings_choose_the_scorer_and_automatic_scoring(make_window, qtbot, scorer_plugins: Path,
                                                            tmp_path: Path) -> None:
    from studio.core.requests import DEFAULT_SCORER
    from studio.core.settings import Settings

    window = make_window(extra_plugin_paths=(scorer_plugins,), trusted=("uitest", SCORER_ID))
    dialog = window.open_settings()
    assert dialog.scorer_model.currentText() == DEFAULT_SCORER and not dialog.auto_score.isChecked()
    scorer = scorer_folder(tmp_path / "my-clip")
    dialog.scorer_model.setCurrentText(str(scorer))
    dialog.auto_score.setChecked(True)
    dialog.save()
    assert window.gallery_scoring.scorer() == str(scorer) and window.settings.auto_score
    saved = Settings.load()
    assert (saved.scorer_model, saved.auto_score) == (str(scorer), True)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny transformers ``CLIPModel`` folder (as the CLIP family's own tests build it)."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def clip_window(qtbot, ui_plugins: Path):
    """The real window on a session whose plugins include the installed first-party families (the CLIP
    family among them), stopped and closed after the test."""
    from studio.plugins import PluginRegistry
    from studio.session import StudioSession
    from studio.ui.bridge import JobBridge

    registry = PluginRegistry(paths=[ui_plugins], trusted={"uitest"})
    registry.discover()
    bridge = JobBridge()
    session = StudioSession(registry=registry, listener=bridge)
    window = MainWindow(session, bridge, probe_command=None)
    bridge.setParent(window)
    session.runner.start()
    window.show()
    qtbot.waitExposed(window)
    yield window
    session.runner.stop()
    window.close()
    window.shutdown()
    session.close()
    window.deleteLater()


def test_the_clip_familys_scorer_fills_the_match_column_and_ranks(
        clip_window: MainWindow, qtbot, tiny_clip: Path, tmp_path: Path) -> None:
    """End to end with the CLIP family (plugins/studio_clip) on a tiny transformers CLIPModel folder."""
    window = clip_window
    window.settings.scorer_model = str(tiny_clip)
    for n, (prompt, colour) in enumerate(IMAGES):
        path = tmp_path / f"clip{n}.png"
        Image.new("RGB", (48, 48), colour).save(path)
        window.session.gallery.add(path, GenerationRequest(model=MODEL, prompt=prompt, seed=n), n)
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 3, timeout=WAIT_MS)
    panel = window.gallery_panel
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.match_status.text().startswith("Scored 3 images")
                    or "could not" in panel.match_status.text(), timeout=60_000)
    assert panel.match_status.text() == "Scored 3 images with tiny-clip.", panel.match_status.text()
    items = window.session.gallery.search()
    assert all(-1 <= i.match_score <= 1 and i.match_model == str(tiny_clip) for i in items)
    panel.sort.setCurrentText("Best match first")
    best_first = [i.id for i in sorted(items, key=lambda i: i.match_score, reverse=True)]
    qtbot.waitUntil(lambda: [i.id for i in window.gallery_model.items] == best_first, timeout=WAIT_MS)

    panel.list.selectAll()
    panel.rank_selected_by("a red circle")
    dialog = window.gallery_scoring.rank_dialog
    qtbot.waitUntil(lambda: dialog.list.count() == 3 or "could not" in dialog.status.text(), timeout=60_000)
    scores = [score for _item, score in dialog.ranked]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    dialog.close()


def test_scores_that_cannot_be_stored_leave_the_job_done_and_say_so(tmp_path: Path, studio_home: Path) -> None:
    """An index another program holds: the score job's finalize step gives up after a short wait."""
    import sqlite3
    import time

    from studio.core.gallery import Gallery
    from studio.core.results import JobResult
    from studio.ui.gallery_scoring import STORE_WAIT_S, store_match_scores

    gallery = Gallery()
    path = tmp_path / "fox.png"
    Image.new("RGB", (8, 8), "red").save(path)
    gallery.add(path, GenerationRequest(model=MODEL, prompt="a red fox"), 1)
    data = {"images": [{"image": str(path), "scores": [{"prompt": "a red fox", "score": 0.9}]}], "model": "m"}
    blocker = sqlite3.connect(studio_home / "gallery" / "index.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = store_match_scores(gallery, {str(path): "a red fox"}, "scorer", JobResult(data=data))
        took = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert took < STORE_WAIT_S + 3 and result.data["match_stored"] == 0
    assert "could not be stored" in result.data["notices"][0]
    stored = store_match_scores(gallery, {str(path): "a red fox"}, "scorer", JobResult(data=data))  # unlocked
    assert stored.data["match_stored"] == 1 and gallery.search()[0].match_score == 0.9
    gallery.close()


def test_the_default_scorer_demo_clip_puts_a_picture_that_misses_its_prompt_last(
        clip_window: MainWindow, qtbot, tmp_path: Path) -> None:
    """With no scorer chosen the shipped demo-clip scores; shapes pictures the scorer never trained on."""
    from studio.core.requests import DEFAULT_SCORER
    from studio.training import shapes

    window = clip_window
    assert window.gallery_scoring.scorer() == DEFAULT_SCORER == "demo-clip"
    data = shapes.ShapesDataset(4, seed=5, split="heldout")
    pairs = [(data[n]["image"], data[n]["caption"]) for n in range(4)]
    pairs.append((data[0]["image"], "a small blue circle on the left on a black background"))  # misses its prompt
    for n, (image, caption) in enumerate(pairs):
        image.save(tmp_path / f"shape{n}.png")
        window.session.gallery.add(tmp_path / f"shape{n}.png", GenerationRequest(model="demo", prompt=caption), n)
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 5, timeout=WAIT_MS)
    panel = window.gallery_panel
    panel.sort.setCurrentText("Best match first")
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.match_status.text().startswith("Scored 5 images")
                    or "could not" in panel.match_status.text(), timeout=60_000)
    assert panel.match_status.text() == "Scored 5 images with demo-clip."
    qtbot.waitUntil(lambda: all(i.match_score is not None for i in window.gallery_model.items), timeout=WAIT_MS)
    assert window.gallery_model.items[-1].prompt.startswith("a small blue circle")  # the miss comes last

    panel.list.selectAll()
    panel.rank_selected_by("a large red triangle on the right on a black background")
    dialog = window.gallery_scoring.rank_dialog
    qtbot.waitUntil(lambda: dialog.list.count() == 5 or "could not" in dialog.status.text(), timeout=60_000)
    assert dialog.ranked[0][0].prompt == "a large red triangle on the right on a black background"
    dialog.close()
