"""The training engine: exact resume after SIGKILL, prompt cancel, pause, clear data errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from studio.core.errors import JobCancelled  # noqa: E402
from studio.training import DatasetError  # noqa: E402
from studio.training.engine import Trainer, TrainingTask, latest_checkpoint, read_metrics  # noqa: E402
from tests.training.tiny_task import TinyTask, config  # noqa: E402

SCRIPT = Path(__file__).with_name("tiny_task.py")
STEPS = 12


def _losses(run_dir: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in read_metrics(run_dir)}


def test_sigkill_then_resume_continues_from_last_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(run), str(STEPS), "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            steps = [m["step"] for m in read_metrics(run)]
            if steps and max(steps) >= 5:
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = max(m["step"] for m in read_metrics(run))
    ckpt = latest_checkpoint(run)
    assert ckpt is not None and killed_at < STEPS
    resumed_from = int(ckpt.name.split("-")[1])
    assert 2 <= resumed_from <= killed_at

    done = subprocess.run([sys.executable, str(SCRIPT), str(run), str(STEPS)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["done", str(STEPS)]
    resumes = read_metrics(run, event="resume")
    assert [r["step"] for r in resumes] == [resumed_from]

    # Same step count, one loss per step, and the curve equals an uninterrupted run's.
    ref = tmp_path / "reference"
    result = Trainer(TinyTask(), config(ref, STEPS)).run()
    assert result.status == "done" and result.step == STEPS
    got, want = _losses(run), _losses(ref)
    assert sorted(got) == list(range(1, STEPS + 1))
    for step in range(1, STEPS + 1):
        assert got[step] == pytest.approx(want[step], rel=1e-5, abs=1e-7), step


def test_cancel_stops_within_one_step_and_can_resume(tmp_path: Path) -> None:
    seen: list[int] = []

    def report(step, total, preview=None, message=None, **events):
        seen.append(step)

    result = Trainer(TinyTask(), config(tmp_path, 50, checkpoint_every=100), report=report,
                     cancelled=lambda: bool(seen) and max(seen) >= 3).run()
    assert result.status == "cancelled"
    assert result.step == 3
    assert latest_checkpoint(tmp_path).name.endswith("00000003")
    again = Trainer(TinyTask(), config(tmp_path, 6)).run()
    assert again.status == "done" and again.step == 6
    assert sorted(_losses(tmp_path)) == [1, 2, 3, 4, 5, 6]


def test_a_report_that_raises_job_cancelled_stops_after_that_step_with_a_checkpoint(tmp_path: Path) -> None:
    """The job runner's ``report`` raises JobCancelled once the user cancelled: the step it was
    reporting is kept (checkpoint), the run says where it stopped, and the next run resumes there."""
    notices: list[str] = []

    def report(step, total, preview=None, message=None, *, notice=None, **events):
        if notice:
            notices.append(notice)
        if step >= 5:
            raise JobCancelled()

    result = Trainer(TinyTask(), config(tmp_path, 50, checkpoint_every=100), report=report).run()
    assert (result.status, result.step) == ("cancelled", 5)
    assert latest_checkpoint(tmp_path).name == "step-00000005"
    assert any("stopped at step 5 of 50" in n for n in notices), notices
    again = Trainer(TinyTask(), config(tmp_path, 8)).run()
    assert (again.status, again.step) == ("done", 8)
    assert [r["step"] for r in read_metrics(tmp_path, event="resume")] == [5]
    assert sorted(_losses(tmp_path)) == list(range(1, 9))


def test_report_gets_progress_every_step_metrics_when_logged_and_samples(tmp_path: Path) -> None:
    class Sampled(TinyTask):
        def sample(self, models, step):
            from PIL import Image

            return Image.new("RGB", (8, 8), (step, 0, 0))

    calls: list[dict] = []

    def report(step, total, preview=None, message=None, **events):
        calls.append({"step": step, "total": total, "preview": preview, "message": message, **events})

    Trainer(Sampled(), config(tmp_path, 6, log_every=3, sample_every=2), report=report).run()
    progress = sorted({c["step"] for c in calls if c["message"] and c["message"].startswith("step ")})
    assert progress == [1, 2, 3, 4, 5, 6]
    metrics = [c for c in calls if c.get("metrics")]
    assert [c["step"] for c in metrics] == [3, 6]
    assert all({"loss", "lr", "it_s"} <= set(c["metrics"]) for c in metrics)
    previews = [c for c in calls if c["preview"] is not None]
    assert [c["step"] for c in previews] == [2, 4, 6] and previews[0]["preview"].size == (8, 8)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir())[0] == "step-00000002.png"


def test_time_held_inside_report_while_paused_is_not_training_time(tmp_path: Path) -> None:
    """A paused job is held inside ``report``: that time must not drag it/s (nor the ETA) down."""
    held = {"done": False}

    def report(step, total, preview=None, message=None, **events):
        if step == 1 and not held["done"]:
            held["done"] = True
            time.sleep(1.5)

    Trainer(TinyTask(), config(tmp_path, 6, checkpoint_every=100), report=report).run()
    last = read_metrics(tmp_path)[-1]
    assert last["step"] == 6
    assert last["it_s"] > 8, last  # counting the 1.5 s hold would give at most 6 / 1.5 = 4 it/s


def test_pause_holds_the_loop(tmp_path: Path) -> None:
    state = {"paused_polls": 0}

    def paused() -> bool:
        if state["paused_polls"] < 3:
            state["paused_polls"] += 1
            return True
        return False

    result = Trainer(TinyTask(), config(tmp_path, 2), paused=paused).run()
    assert result.status == "done" and state["paused_polls"] == 3


def test_metrics_events_have_step_loss_lr_speed(tmp_path: Path) -> None:
    Trainer(TinyTask(), config(tmp_path, 4)).run()
    events = read_metrics(tmp_path)
    assert [e["step"] for e in events] == [1, 2, 3, 4]
    for e in events:
        assert {"loss", "lr", "it_s", "eta_s", "total"} <= set(e)


def test_tensorboard_reads_the_same_loss_curve(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from dataclasses import replace

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(TinyTask(), replace(config(tmp_path, 4), tensorboard=True)).run()
    logs = [p.parent for p in (tmp_path / "tensorboard").rglob("events.out.tfevents.*")]
    assert logs, "no TensorBoard event file written"
    acc = EventAccumulator(str(logs[0]))
    acc.Reload()
    assert {"loss", "lr", "it_s"} <= set(acc.Tags()["scalars"])
    tb = {e.step: e.value for e in acc.Scalars("loss")}
    assert tb == pytest.approx(_losses(tmp_path), rel=1e-5)


class _EmptyTask(TinyTask):
    def dataset(self):
        return []


def test_empty_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="empty"):
        Trainer(_EmptyTask(), config(tmp_path, 2)).run()


def test_folder_errors_name_the_problem(tmp_path: Path) -> None:
    from studio.training.data import ImageCaptionFolder, export_shapes_folder

    with pytest.raises(DatasetError, match="does not exist"):
        ImageCaptionFolder(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="holds no images") as info:
        ImageCaptionFolder(empty)
    assert info.value.exit_code == 2 and info.value.hint

    good = export_shapes_folder(tmp_path / "good", length=4)
    ds = ImageCaptionFolder(good)
    assert len(ds) == 4 and ds[0]["image"].size == (64, 64) and "background" in ds[0]["caption"]

    (good / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DatasetError, match=r"00001\.png .* not a readable image"):
        ImageCaptionFolder(good)
    (good / "00001.png").unlink()
    (good / "00002.txt").unlink()
    with pytest.raises(DatasetError, match=r"00002\.png .* has no caption"):
        ImageCaptionFolder(good)


def test_training_package_has_no_qt() -> None:
    root = Path(__file__).resolve().parents[2] / "studio" / "training"
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "PySide6" not in text and "PyQt" not in text, path


def test_task_base_is_generic() -> None:
    with pytest.raises(NotImplementedError):
        TrainingTask().build_models()
