"""Recipe ``gan``: train the DCGAN on a folder of pictures (or the shapes data set) with the studio's
training engine and save the generator (the EMA of its weights) as a model folder.

Runs on the worker (torch imported here). The engine has one loss and one optimiser: the task
returns ``loss_discriminator + loss_generator`` built so that each network gets gradients from its
own loss only (:func:`studio_gan.network.gan_losses`), and Adam (betas 0.5, 0.999) steps both at
once. Both losses reach the monitor and the run's ``metrics.jsonl`` as ``loss_generator`` and
``loss_discriminator`` (the task's ``step_metrics``).
"""

from __future__ import annotations

import argparse
import copy
import json
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
    read_metrics,
    shapes,
    torch_threads,
    trained_artifacts,
    unless_done,
)
from studio_gan.network import (
    SIDE,
    UPSAMPLING,
    Discriminator,
    GanConfig,
    Generator,
    gan_losses,
    recalibrate_batch_norm,
    save_generator,
    update_average,
)

GRID_COLUMNS = 8
to_image = picture_image  # (3, H, W) in [0, 1] → a PIL picture


def to_tensor(image: Any) -> torch.Tensor:
    """A PIL picture → (3, 64, 64) uint8 (resized when it is another size)."""
    return picture_tensor(image, SIDE)


def shape_factors() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The shapes data set's label factors and their values (a conditional GAN's ``labels``)."""
    return (("size", tuple(shapes.SIZES)), ("colour", tuple(shapes.PALETTE)), ("shape", tuple(shapes.SHAPES)),
            ("position", tuple(shapes.POSITIONS)), ("background", tuple(shapes.BACKGROUNDS)))


def shapes_pictures(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` pictures of the shapes data set (its training split) as uint8 (N, 3, 64, 64) and
    their labels (N, factors): each factor's value as its index in :func:`shape_factors`."""
    data = shapes.ShapesDataset(count, seed=seed, split="train")
    factors = shape_factors()
    items = [data[i] for i in range(count)]
    labels = [[values.index(getattr(item["spec"], name)) for name, values in factors] for item in items]
    return torch.stack([to_tensor(item["image"]) for item in items]), torch.tensor(labels, dtype=torch.long)


class _Pictures(torch.utils.data.Dataset):
    """uint8 pictures served as floats in [-1, 1] (the generator's tanh range), with their labels
    when the GAN is conditional."""

    def __init__(self, pictures: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.pictures, self.labels = pictures, labels

    def __len__(self) -> int:
        return len(self.pictures)

    def __getitem__(self, index: int) -> Any:
        pixels = self.pictures[index].float() / 127.5 - 1
        return pixels if self.labels is None else (pixels, self.labels[index])


class GanTask(TrainingTask):
    """The engine's view of the DCGAN: generator, discriminator and the generator's running average
    (trained by neither loss; checkpointed with them), the two losses in one, a sample grid."""

    name = "gan"

    def __init__(self, config: GanConfig, pictures: torch.Tensor, ema_decay: float, seed: int,
                 labels: torch.Tensor | None = None) -> None:
        self.config, self.pictures, self.ema_decay, self.seed = config, pictures, ema_decay, seed
        self.labels = labels if config.labels else None
        self.latest: dict[str, float] = {}  # the last batch's two losses

    def build_models(self) -> dict[str, torch.nn.Module]:
        generator = Generator(self.config)
        if self.labels is not None:  # the label combinations of the training pictures, drawn when sampling
            generator.label_table = torch.unique(self.labels, dim=0)
        average = copy.deepcopy(generator).requires_grad_(False)
        return {"generator": generator, "discriminator": Discriminator(self.config), "ema": average}

    def dataset(self) -> torch.utils.data.Dataset:
        return _Pictures(self.pictures, self.labels)

    def loss(self, models: dict[str, torch.nn.Module], batch: Any, step: int) -> torch.Tensor:
        batch, labels = batch if isinstance(batch, list | tuple) else (batch, None)
        generator = models["generator"]
        live = getattr(generator, "module", generator)
        # the average follows the weights the last step left (a warm-up keeps early steps from dominating)
        update_average(models["ema"], live, min(self.ema_decay, (1 + step) / (10 + step)))
        noise = torch.randn(len(batch), self.config.latent_dim, device=batch.device)
        loss_d, loss_g = gan_losses(generator, models["discriminator"], batch, noise, labels)
        self.latest = {"loss_generator": float(loss_g.detach()), "loss_discriminator": float(loss_d.detach())}
        return loss_d + loss_g

    def step_metrics(self) -> dict[str, float]:
        """The last batch's two losses (the engine averages them over its logging window)."""
        return dict(self.latest)

    def sample(self, models: dict[str, torch.nn.Module], step: int) -> Any:
        """Four rows of eight: the averaged generator on the same noise (seeded) at every sample."""
        generator = copy.deepcopy(models["ema"])
        recalibrate_batch_norm(generator, batches=4, seed=self.seed)
        noise, labels = generator.draw(4 * GRID_COLUMNS, torch.Generator().manual_seed(self.seed))
        device = next(generator.parameters()).device
        return grid_image(generator.pictures(noise.to(device), labels), columns=GRID_COLUMNS)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.config.to_json(), "ema_decay": self.ema_decay, "pictures": len(self.pictures)}


def grid_image(pixels: torch.Tensor, columns: int) -> Any:
    """(N, 3, 64, 64) pictures in [0, 1] in rows of ``columns`` as one PIL picture."""
    from PIL import Image

    rows = (len(pixels) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * SIDE, rows * SIDE), (255, 255, 255))
    for index, picture in enumerate(pixels):
        sheet.paste(to_image(picture), ((index % columns) * SIDE, (index // columns) * SIDE))
    return sheet


def run(args: argparse.Namespace, report: Report, cancelled: Any) -> JobResult:
    """Train (or resume), save the averaged generator's model folder; returns it as an artifact."""
    work, out = model_folders(args, "gan")
    if min(args.latent_dim, args.g_width, args.d_width, args.steps) < 1:
        raise BadInput("--latent-dim, --g-width, --d-width and --steps must be at least 1.")
    if not 0 <= args.ema_decay < 1:
        raise BadInput(f"--ema-decay must be in [0, 1), not {args.ema_decay}.")
    if args.upsampling not in UPSAMPLING:
        raise BadInput(f"--upsampling must be one of {', '.join(UPSAMPLING)}, not '{args.upsampling}'.")
    if args.conditional and args.data:
        raise BadInput("--conditional needs the shapes data set's labels: a folder of pictures has none.",
                       "Leave out --data or --conditional.")
    config = GanConfig(latent_dim=int(args.latent_dim), g_width=int(args.g_width), d_width=int(args.d_width),
                       upsampling=args.upsampling, labels=shape_factors() if args.conditional else ())
    with torch_threads(args.threads):
        t0 = time.time()
        report(0, args.steps, message="Reading the pictures…")
        source = f"folder {args.data}" if args.data else f"shapes data set ({args.shapes} pictures)"
        if args.data:
            pictures, labels = folder_pictures(Path(args.data), SIDE), None
        else:
            pictures, labels = shapes_pictures(int(args.shapes), int(args.seed))
        report(0, args.steps, notice=f"Training the GAN on {len(pictures)} pictures from the {source}.")
        task = GanTask(config, pictures, float(args.ema_decay), int(args.seed), labels)
        train_config = TrainConfig(
            run_dir=str(work), max_steps=int(args.steps), batch_size=int(args.batch_size), seed=int(args.seed),
            lr=float(args.lr), betas=(0.5, 0.999), lr_schedule="constant", grad_clip=None,
            checkpoint_every=checkpoint_interval(int(args.steps)), keep_checkpoints=2,
            sample_every=int(args.sample_every), log_every=10, resume=not args.no_resume,
        )
        trainer = Trainer(task, train_config, report=report, cancelled=cancelled)
        result = trainer.run()
        unless_done(result)
        report(result.step, result.total, message="Measuring the generator's batch statistics…")
        generator = copy.deepcopy(trainer.unwrapped()["ema"]).cpu()
        recalibrate_batch_norm(generator, seed=int(args.seed))
        summary = {"recipe": "gan", "data": source, "steps": result.step, "loss": result.loss, **task.latest,
                   "ema_decay": float(args.ema_decay), "conditional": bool(config.labels), "seed": int(args.seed),
                   "batch_size": int(args.batch_size),
                   "lr": float(args.lr), "parameters": sum(p.numel() for p in generator.parameters()),
                   "train_seconds_this_run": round(time.time() - t0, 1)}
        curve = [{k: r[k] for k in ("step", "loss", "loss_generator", "loss_discriminator") if k in r}
                 for r in read_metrics(work)]
        _save_atomically(generator, out, summary, curve)
    report(result.step, result.total, notice=f"Saved the GAN's generator in {out}.")
    return JobResult(artifacts=trained_artifacts(out, "gan", result),
                     data={**summary, "out": str(out), "run_dir": str(work)})


def _save_atomically(generator: Generator, out: Path, summary: dict[str, Any], curve: list[dict]) -> None:
    """The model folder (with the run's loss curves in ``training_metrics.json``) written beside
    ``out`` and renamed over it."""
    with replaced_folder(out) as tmp:
        save_generator(generator, tmp, {"training": summary})
        metrics = json.dumps({"summary": summary, "steps": curve}) + "\n"
        (tmp / "training_metrics.json").write_text(metrics, encoding="utf-8")
