"""A tiny regression task for engine tests; also a script: ``python tiny_task.py RUN_DIR STEPS``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from studio.training.engine import TrainConfig, Trainer, TrainingTask


class _Data(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=g)
        self.y = (self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])).unsqueeze(1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


class TinyTask(TrainingTask):
    """Uses dropout and the global RNG in its loss, so an exact resume needs the RNG state."""

    name = "tiny"

    def __init__(self, n: int = 64, sleep: float = 0.0) -> None:
        self.n, self.sleep = n, sleep

    def build_models(self):
        return {"net": torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(),
                                           torch.nn.Dropout(0.2), torch.nn.Linear(32, 1))}

    def dataset(self):
        return _Data(self.n)

    def loss(self, models, batch, step):
        if self.sleep:
            time.sleep(self.sleep)
        x = batch["x"] + 0.05 * torch.randn_like(batch["x"])
        return torch.nn.functional.mse_loss(models["net"](x), batch["y"])


def config(run_dir, steps: int, **kw) -> TrainConfig:
    base = dict(run_dir=str(run_dir), max_steps=steps, batch_size=8, seed=3, lr=1e-2,
                lr_schedule="cosine", warmup_steps=2, checkpoint_every=2, log_every=1,
                keep_checkpoints=2)
    base.update(kw)
    return TrainConfig(**base)


if __name__ == "__main__":
    run_dir, steps = sys.argv[1], int(sys.argv[2])
    sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    result = Trainer(TinyTask(sleep=sleep), config(run_dir, steps)).run()
    print(result.status, result.step, flush=True)
