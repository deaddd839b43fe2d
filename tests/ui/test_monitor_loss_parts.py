"""The training monitor draws every ``loss_<name>`` metric of a run as its own curve, named ``<name>``.

Every run is real: a test plugin's trainer runs a tiny regression task through the studio's
training engine, as a job of the window's session; its task reports ``loss_a`` and ``loss_b``.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from studio.core.paths import home_path
from studio.jobs.queue import JobQueue, JobState, process_start
from studio.plugins import TrainRequest
from studio.ui.training_runs import RunData
from studio.ui.window import MainWindow
from tests.plugin_helpers import write_plugin
from tests.ui.conftest import WindowFactory

pytest.importorskip("torch")

WAIT_MS = 60_000
BASE_CURVES = ["loss", "smoothed (EMA)"]

MANIFEST = """\
id = "partstest"
name = "Loss parts test family"
version = "1.0"
api_version = 1
capabilities = ["train"]
backends = ["torch"]
model_kinds = ["partstest"]
loader = "studio_partstest.model:load"
trainer = "studio_partstest.model:train"
recipes = ["parts"]
"""

# loss_a = step / 10 and loss_b = offset + step for the step being trained (0-based: the point
# logged at step s has loss_b = offset + s - 1); no parts when the option "parts" is false.
TRAINER = """
import torch

from studio.plugins import JobResult
from studio.plugins.training import TrainConfig, Trainer, TrainingTask


class Data(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(32, 4, generator=g)
        self.y = self.x.sum(dim=1, keepdim=True)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class PartsTask(TrainingTask):
    name = "parts"

    def __init__(self, parts, offset):
        self.parts, self.offset, self.step = parts, offset, 0

    def build_models(self):
        return {"net": torch.nn.Linear(4, 1)}

    def dataset(self):
        return Data()

    def loss(self, models, batch, step):
        self.step = step
        return torch.nn.functional.mse_loss(models["net"](batch[0]), batch[1])

    def step_metrics(self):
        return {"loss_a": self.step / 10, "loss_b": self.offset + self.step} if self.parts else {}


def load(context):
    raise RuntimeError("this family only trains")


def train(request, report, cancelled, context=None):
    options = request.options
    config = TrainConfig(run_dir=request.run_dir, max_steps=request.steps, batch_size=4, seed=1,
                         lr=1e-2, checkpoint_every=2, keep_checkpoints=3, log_every=1,
                         resume=request.resume)
    task = PartsTask(bool(options.get("parts", True)), float(options.get("offset", 0)))
    result = Trainer(task, config, report=report, cancelled=cancelled).run()
    return JobResult(data={"steps": result.step})
"""


@pytest.fixture(scope="module")
def parts_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parts-plugins")
    write_plugin(folder, "studio_partstest", MANIFEST, TRAINER)
    return folder


@pytest.fixture
def window(make_window: WindowFactory, parts_plugins: Path) -> MainWindow:
    import torch

    torch.set_num_threads(1)
    window = make_window(extra_plugin_paths=(parts_plugins,), trusted=("partstest",))
    window.show_training_monitor()
    return window


def _train(window: MainWindow, qtbot, run_dir: Path, steps: int = 6, **options) -> None:
    job = window.submit(TrainRequest(recipe="parts", run_dir=str(run_dir), steps=steps, resume=True,
                                     options=options))
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state.finished, timeout=WAIT_MS)
    final = window.session.queue.get(job.id)
    assert final.state is JobState.DONE, final.error
    model = window.training_model
    qtbot.waitUntil(lambda: model.job is not None and model.job.id == job.id and model.job.state.finished,
                    timeout=WAIT_MS)


def test_a_live_run_draws_each_loss_part_and_a_reattach_reads_them_back(window: MainWindow, qtbot) -> None:
    monitor, model = window.training_monitor, window.training_model
    run = home_path("runs") / "gan-like"  # where the monitor's run list looks
    _train(window, qtbot, run)
    qtbot.waitUntil(lambda: len(monitor.part_points().get("b", ([], []))[0]) == 6, timeout=5000)
    assert monitor.legend_names() == [*BASE_CURVES, "a", "b"]
    points = monitor.part_points()
    assert points["a"] == ([1, 2, 3, 4, 5, 6], pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5]))
    assert points["b"] == ([1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5])
    assert monitor.curve_points()["loss"] == 6  # the main loss stays
    assert monitor.loss_label.text().splitlines()[1:] == ["a 0.5", "b 5"]
    pens = {monitor.part_curves[name].opts["pen"].color().name() for name in ("a", "b")}
    assert len(pens) == 2 and monitor.loss_curve.opts["pen"].color().name() not in pens

    # the legend: two columns (two short rows) in a wide plot, one column (names not cut) in a narrow one
    dock, legend = window.docks["training"], monitor.loss_plot.getPlotItem().legend
    dock.setFloating(True)
    for width, columns in ((1400, 2), (620, 1)):
        dock.resize(width, 600)
        qtbot.waitUntil(lambda columns=columns: legend.columnCount == columns, timeout=5000)
        assert legend.boundingRect().width() < monitor.loss_plot.width()
    dock.setFloating(False)

    # a run without parts: only the loss; choosing the first run again reads its parts from its file
    plain = home_path("runs") / "plain"
    _train(window, qtbot, plain, parts=False)
    qtbot.waitUntil(lambda: monitor.curve_points().get("loss", 0) == 6, timeout=5000)
    assert monitor.legend_names() == BASE_CURVES and monitor.part_points() == {}
    monitor.choose_run(str(run))
    qtbot.waitUntil(lambda: not model.loading and model.run_dir == str(run), timeout=5000)
    assert monitor.legend_names() == [*BASE_CURVES, "a", "b"]
    assert monitor.part_points()["b"] == ([1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5])
    monitor.choose_run(str(plain))
    qtbot.waitUntil(lambda: not model.loading and model.run_dir == str(plain), timeout=5000)
    assert monitor.legend_names() == BASE_CURVES


def test_a_run_resumed_from_an_earlier_checkpoint_drops_the_later_points(window: MainWindow, qtbot,
                                                                         tmp_path: Path) -> None:
    monitor = window.training_monitor
    run = tmp_path / "resumed"
    _train(window, qtbot, run)
    shutil.rmtree(run / "checkpoints" / "step-00000006")  # the latest left is step 4's
    _train(window, qtbot, run, offset=100)  # steps 5 and 6 again, with loss_b 100 higher
    expected = ([1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 104, 105])
    qtbot.waitUntil(lambda: monitor.part_points().get("b") == expected, timeout=5000)
    assert monitor.part_points()["a"][0] == [1, 2, 3, 4, 5, 6]
    assert monitor.curve_points()["loss"] == 6
    assert RunData.read(run).parts["b"].values == [0, 1, 2, 3, 104, 105]  # the file, read back, agrees


def test_run_data_keeps_parts_through_a_resume_and_names_them_without_the_prefix() -> None:
    data = RunData()
    for step in (1, 2, 3):
        data.add_step(step, 3, {"loss": 1.0, "loss_generator": step, "loss_discriminator": 2 * step,
                                "lossy": 9.0, "loss_": 1.0, "loss_text": "x"})
    assert list(data.parts) == ["generator", "discriminator"]
    data.add_step(2, 3, {"loss": 1.0, "loss_generator": 20.0})  # resumed from step 1
    assert data.parts["generator"].steps == [1, 2] and data.parts["generator"].values == [1, 20.0]
    assert data.parts["discriminator"].steps == [1]


def _engine_in_a_thread(run: Path, offset: float) -> threading.Thread:
    """The engine training a tiny task with parts (loss_b = offset + step), as a terminal would."""
    from studio.training.engine import Trainer
    from tests.training.tiny_task import TinyTask, config

    class Parts(TinyTask):
        def loss(self, models, batch, step):
            self.step = step
            return super().loss(models, batch, step)

        def step_metrics(self):
            return {"loss_a": self.step / 10, "loss_b": offset + self.step}

    task = Parts(sleep=0.15)  # a step a while: the monitor reads the file as it grows
    thread = threading.Thread(target=Trainer(task, config(run, 8, keep_checkpoints=4)).run)
    thread.start()
    return thread


def test_a_run_another_process_trains_is_followed_through_its_file_with_its_parts(
    make_window: WindowFactory, qtbot
) -> None:
    window = make_window()
    window.session.runner.stop()  # the job is the other process's
    window.show_training_monitor()
    monitor, model = window.training_monitor, window.training_model
    run = home_path("runs") / "terminal"
    other_process = subprocess.Popen(["sleep", "120"])  # stands for `studio train gan` in a terminal
    other = JobQueue()
    thread = None
    try:
        job = other.submit(TrainRequest(recipe="gan", run_dir=str(run), steps=8))
        other.claim(job.id)
        other._db.execute("UPDATE jobs SET owner_pid = ?, owner_start = ? WHERE id = ?",
                          (other_process.pid, process_start(other_process.pid), job.id))
        thread = _engine_in_a_thread(run, 0)
        qtbot.waitUntil(lambda: model.run_dir == str(run), timeout=WAIT_MS)  # found by the queue poll
        steps = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        qtbot.waitUntil(lambda: monitor.part_points().get("b") == (steps, [0, 1, 2, 3, 4, 5, 6, 7]),
                        timeout=WAIT_MS)
        thread.join()
        # resumed from step 4 with loss_b 100 higher: the engine rewrites the file, the monitor follows
        for late in ("step-00000006", "step-00000008"):
            shutil.rmtree(run / "checkpoints" / late)
        thread = _engine_in_a_thread(run, 100)
        qtbot.waitUntil(lambda: monitor.part_points().get("b") == (steps, [0, 1, 2, 3, 104, 105, 106, 107]),
                        timeout=WAIT_MS)
        assert monitor.legend_names() == [*BASE_CURVES, "a", "b"] and monitor.curve_points()["loss"] == 8
    finally:
        if thread is not None:
            thread.join()
        other.close()
        other_process.kill()
        other_process.wait()
