"""Recipe ``vae``: train the VAE on a folder of pictures (or the shapes data set) with the studio's
training engine, fit the sampling prior, and save the model folder.

Runs on the worker (torch imported here). The engine reports loss, lr and it/s to the training
monitor; the task's step metrics add the reconstruction and KL terms (``loss_recon``, ``loss_kl``)
to the same events and to ``metrics.jsonl``, where the monitor draws each as its own curve.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, JobResult, Report, replaced_folder
from studio.plugins.training import (
    TrainConfig,
    Trainer,
    TrainingTask,
    checkpoint_interval,
    folder_pictures,
    model_folders,
    picture_image,
    picture_tensor,
    shapes,
    torch_threads,
    trained_artifacts,
    unless_done,
)
from studio_vae.network import SIDE, ConvVae, VaeConfig, loss_terms, save_model

to_image = picture_image  # (3, H, W) in [0, 1] → a PIL picture


def to_tensor(image: Any) -> torch.Tensor:
    """A PIL picture → (3, 64, 64) float in [0, 1] (resized when it is another size)."""
    return picture_tensor(image, SIDE).float() / 255


def shapes_pictures(count: int, seed: int) -> torch.Tensor:
    """``count`` pictures of the shapes data set (its training split) as uint8 (N, 3, 64, 64)."""
    data = shapes.ShapesDataset(count, seed=seed, split="train")
    return torch.stack([picture_tensor(data[i]["image"], SIDE) for i in range(count)])


class _Pictures(torch.utils.data.Dataset):
    def __init__(self, pictures: torch.Tensor) -> None:
        self.pictures = pictures

    def __len__(self) -> int:
        return len(self.pictures)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.pictures[index].float() / 255


class VaeTask(TrainingTask):
    """The engine's view of the VAE: one model, the pictures, the ELBO loss and a sample grid."""

    name = "vae"

    def __init__(self, config: VaeConfig, pictures: torch.Tensor, beta: float, seed: int) -> None:
        self.config, self.pictures, self.beta, self.seed = config, pictures, beta, seed
        self.terms: dict[str, float] = {}

    def build_models(self) -> dict[str, torch.nn.Module]:
        return {"vae": ConvVae(self.config)}

    def dataset(self) -> torch.utils.data.Dataset:
        return _Pictures(self.pictures)

    def loss(self, models: dict[str, torch.nn.Module], batch: torch.Tensor, step: int) -> torch.Tensor:
        total, recon, kl = loss_terms(models["vae"], batch, self.beta)
        self.terms = {"recon": float(recon.detach()), "kl": float(kl.detach())}
        return total

    def step_metrics(self) -> dict[str, float]:
        """The last batch's terms, as loss parts the monitor draws (``recon`` and ``kl``)."""
        return {f"loss_{name}": value for name, value in self.terms.items()}

    def sample(self, models: dict[str, torch.nn.Module], step: int) -> Any:
        """Top row: training pictures; middle: their reconstructions; bottom: samples from N(0, I)."""
        model = models["vae"]
        originals = self.pictures[:: max(1, len(self.pictures) // 8)][:8].float() / 255
        recon = model.decode(model.encode(originals)[0])
        noise = torch.randn(8, self.config.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        grid = torch.cat([originals, recon, model.decode(noise)])
        return grid_image(grid, columns=8)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.config.to_json(), "beta": self.beta, "pictures": len(self.pictures)}


def grid_image(pixels: torch.Tensor, columns: int) -> Any:
    """(N, 3, 64, 64) pictures in rows of ``columns`` as one PIL picture."""
    from PIL import Image

    rows = (len(pixels) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * SIDE, rows * SIDE), (255, 255, 255))
    for index, picture in enumerate(pixels):
        sheet.paste(to_image(picture), ((index % columns) * SIDE, (index // columns) * SIDE))
    return sheet


def _channels(text: str) -> tuple[int, int, int, int]:
    try:
        channels = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        channels = ()
    if len(channels) != 4 or min(channels) < 1:
        raise BadInput(f"--channels must be four positive widths, e.g. 32,64,64,128, not '{text}'.")
    return channels  # type: ignore[return-value]


def run(args: argparse.Namespace, report: Report, cancelled: Any) -> JobResult:
    """Train (or resume), fit the sampling prior, save the model folder; returns it as an artifact."""
    work, out = model_folders(args, "vae")
    if args.latent_dim < 1 or args.steps < 1:
        raise BadInput("--latent-dim and --steps must be at least 1.")
    config = VaeConfig(channels=_channels(args.channels), latent_dim=int(args.latent_dim),
                       prior_components=int(args.prior_components))
    with torch_threads(args.threads):
        t0 = time.time()
        report(0, args.steps, message="Reading the pictures…")
        source = f"folder {args.data}" if args.data else f"shapes data set ({args.shapes} pictures)"
        if args.data:
            pictures = folder_pictures(Path(args.data), SIDE)
        else:
            pictures = shapes_pictures(int(args.shapes), int(args.seed))
        report(0, args.steps, notice=f"Training the VAE on {len(pictures)} pictures from the {source}.")
        task = VaeTask(config, pictures, float(args.beta), int(args.seed))
        train_config = TrainConfig(
            run_dir=str(work), max_steps=int(args.steps), batch_size=int(args.batch_size), seed=int(args.seed),
            lr=float(args.lr), lr_schedule="cosine", warmup_steps=min(100, int(args.steps) // 10),
            min_lr_ratio=0.05, grad_clip=5.0, checkpoint_every=checkpoint_interval(int(args.steps)),
            keep_checkpoints=2, sample_every=int(args.sample_every), log_every=10, resume=not args.no_resume,
        )
        trainer = Trainer(task, train_config, report=report, cancelled=cancelled)
        result = trainer.run()
        unless_done(result)
        report(result.step, result.total, message="Fitting the sampling prior…")
        model = trainer.unwrapped()["vae"].cpu().eval()
        model.fit_prior(pictures[: int(args.prior_components)].float() / 255)
        summary = {"recipe": "vae", "data": source, "steps": result.step, "loss": result.loss, **task.terms,
                   "beta": float(args.beta), "seed": int(args.seed),
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "train_seconds_this_run": round(time.time() - t0, 1)}
        _save_atomically(model, out, summary)
    report(result.step, result.total, notice=f"Saved the VAE in {out}.")
    return JobResult(artifacts=trained_artifacts(out, "vae", result),
                     data={**summary, "out": str(out), "run_dir": str(work)})


def _save_atomically(model: ConvVae, out: Path, summary: dict[str, Any]) -> None:
    """The model folder written beside ``out`` and renamed over it."""
    with replaced_folder(out) as tmp:
        save_model(model, tmp, {"training": summary})
