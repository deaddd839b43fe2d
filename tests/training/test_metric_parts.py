"""A task's own step metrics (e.g. a GAN's two losses) reach metrics.jsonl and the job's reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from studio.training.engine import Trainer, read_metrics  # noqa: E402
from tests.training.tiny_task import TinyTask, config  # noqa: E402


class CountingPartsTask(TinyTask):
    """Reports ``loss_a`` = how many batches it has seen, ``loss_b`` = ten times that, and values the
    engine must leave out (text, a non-finite number, its own ``lr``)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def loss(self, models, batch, step):
        self.batches += 1
        return super().loss(models, batch, step)

    def step_metrics(self) -> dict[str, Any]:
        return {"loss_a": self.batches, "loss_b": torch.tensor(10.0 * self.batches), "note": "text",
                "loss_nan": float("nan"), "lr": 123.0}


def test_step_metrics_are_averaged_per_logged_step_and_written_and_reported(tmp_path: Path) -> None:
    reported: list[dict[str, float]] = []

    def report(step, total, preview=None, message=None, **events) -> None:
        if events.get("metrics"):
            reported.append(events["metrics"])

    Trainer(CountingPartsTask(), config(tmp_path / "run", 6, log_every=2), report=report).run()
    records = read_metrics(tmp_path / "run")
    assert [r["step"] for r in records] == [2, 4, 6]
    assert [r["loss_a"] for r in records] == [1.5, 3.5, 5.5]  # the mean of the window's batches
    assert [r["loss_b"] for r in records] == [15.0, 35.0, 55.0]
    assert all("note" not in r and "loss_nan" not in r and r["lr"] != 123.0 for r in records)
    assert [(m["loss_a"], m["loss_b"]) for m in reported] == [(1.5, 15.0), (3.5, 35.0), (5.5, 55.0)]
    assert all(m["lr"] != 123.0 for m in reported)


def test_a_task_without_step_metrics_logs_the_fixed_keys_only(tmp_path: Path) -> None:
    Trainer(TinyTask(), config(tmp_path / "run", 2)).run()
    keys = set().union(*(r.keys() for r in read_metrics(tmp_path / "run")))
    assert not any(key.startswith("loss_") for key in keys)
    assert {"loss", "lr", "it_s", "epoch"} <= keys


def test_the_vae_recipe_logs_its_reconstruction_and_kl_as_loss_parts(tmp_path: Path) -> None:
    pytest.importorskip("studio_vae")
    from studio_vae.train import train

    from studio.plugins import TrainRequest

    request = TrainRequest(recipe="vae", run_dir=str(tmp_path / "run"), steps=10, batch_size=4,
                           options={"shapes": 16, "channels": "8,8,8,8", "latent_dim": 4, "sample_every": 0,
                                    "out": str(tmp_path / "model")})
    result = train(request, lambda *a, **k: None, lambda: False)
    last = read_metrics(tmp_path / "run")[-1]
    assert last["loss_recon"] > 0 and last["loss_kl"] >= 0
    assert "recon" in result.data and "kl" in result.data  # the summary keeps its names
