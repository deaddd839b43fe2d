"""Recipe ``clip``: train the dual encoder contrastively on caption–picture pairs (a folder of
pictures with caption sidecars, or the shapes data set) with the studio's training engine.

Runs on the worker (torch imported here). The engine reports loss, lr and it/s to the training
monitor; the task adds the batch's image→text top-1 (``batch_top1``), the learned temperature and,
every ``--eval-every`` steps, text→image top-1 over the held-out pairs (``heldout_top1``).
Pictures are augmented (small shifts and scale, blur, colour jitter, noise) so that the scorer
transfers to softer pictures than the crisp training ones, e.g. what a diffusion model draws.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from studio.plugins import BadInput, JobResult, Report, replaced_folder
from studio.plugins.training import (
    ImageCaptionFolder,
    TrainConfig,
    Trainer,
    TrainingTask,
    checkpoint_interval,
    model_folders,
    shapes,
    torch_threads,
    trained_artifacts,
    unless_done,
)
from studio_clip.network import SIDE, ClipConfig, DualEncoder, contrastive_loss, save_model, words


def to_tensor(image: Any) -> torch.Tensor:
    """A PIL picture → (3, 64, 64) float in [0, 1] (resized when it is another size)."""
    from PIL import Image

    image = image.convert("RGB")
    if image.size != (SIDE, SIDE):
        image = image.resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255


def _as_bytes(image: Any) -> torch.Tensor:
    return (to_tensor(image) * 255).round().to(torch.uint8)


def shapes_pairs(count: int, seed: int, split: str = "train") -> tuple[torch.Tensor, list[str]]:
    """``count`` pictures (uint8, N×3×64×64) and captions of the shapes data set's ``split``."""
    data = shapes.ShapesDataset(count, seed=seed, split=split)
    items = [data[i] for i in range(count)]
    return torch.stack([_as_bytes(item["image"]) for item in items]), [item["caption"] for item in items]


#: What a shapes caption says, in the order it says it; a partial caption says some of them.
ATTRIBUTES = ("size", "colour", "shape", "position", "background")


def partial_caption(spec: Any, keep: set[str]) -> str:
    """The caption of ``spec`` saying only the ``keep`` attributes ("a red shape on the left"); all
    of them give the data set's own caption."""
    words = ["a"]
    words += [getattr(spec, name) for name in ("size", "colour") if name in keep]
    words.append(spec.shape if "shape" in keep else "shape")
    if "position" in keep:
        words.append(shapes.POSITION_PHRASES[spec.position])
    if "background" in keep:
        words.append(f"on a {spec.background} background")
    return " ".join(words)


def attribute_codes(specs: list[Any]) -> torch.Tensor:
    """(N, 5) integer codes of each spec's attributes, to compare many at once."""
    tables = [{value: code for code, value in enumerate(sorted({getattr(s, name) for s in specs}))}
              for name in ATTRIBUTES]
    return torch.tensor([[table[getattr(s, name)] for name, table in zip(ATTRIBUTES, tables, strict=True)]
                         for s in specs])


def folder_pairs(root: Path) -> tuple[torch.Tensor, list[str]]:
    """Every picture of a folder with its caption (``NAME.txt`` or ``metadata.jsonl``)."""
    data = ImageCaptionFolder(root)
    pictures, captions = [], []
    for index in range(len(data)):
        item = data[index]
        pictures.append(_as_bytes(item["image"]))
        captions.append(item["caption"])
    return torch.stack(pictures), captions


def augment(pixels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random small shifts (±4 px) and scale (±15 %), Gaussian blur (σ up to 1.6 px), colour jitter and
    a little noise: (N, 3, 64, 64) in [0, 1] → the same shape. Uses ``torch``'s global RNG unless given one."""
    n = len(pixels)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand(n, *shape, generator=generator) * (high - low) + low

    scale = uniform(0.85, 1.15)
    shift = uniform(-4 / 32, 4 / 32, 2)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    out = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
    sigma = uniform(0.05, 1.6)
    taps = torch.arange(-3, 4, dtype=torch.float32)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(3, dim=0)  # (3N, 7)
    flat = out.reshape(1, n * 3, SIDE, SIDE)
    flat = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode="replicate"), kernel[:, None, None, :], groups=n * 3)
    flat = F.conv2d(F.pad(flat, (0, 0, 3, 3), mode="replicate"), kernel[:, None, :, None], groups=n * 3)
    out = flat.reshape(n, 3, SIDE, SIDE)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = uniform(0.8, 1.1, 1, 1, 1)
    gain = uniform(0.88, 1.12, 1, 1, 1) * uniform(0.93, 1.07, 3, 1, 1)
    offset = uniform(-0.05, 0.05, 1, 1, 1)
    out = ((out - mean) * contrast + mean) * gain + offset
    out = out + torch.randn(out.shape, generator=generator) * uniform(0.0, 0.03, 1, 1, 1)
    return out.clamp(0, 1)


def text_to_image_top1(model: DualEncoder, pixels: torch.Tensor, captions: list[str]) -> float:
    """For each distinct caption, is its own picture the best-scored of all ``pixels``? (fraction)"""
    with torch.no_grad():
        images = model.embed_images(pixels.float() / 255)
        texts = model.embed_texts(captions)
        best = (texts @ images.T).argmax(dim=1)
    return float(np.mean([captions[int(b)] == c for b, c in zip(best, captions, strict=True)]))


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, pictures: torch.Tensor) -> None:
        self.pictures = pictures

    def __len__(self) -> int:
        return len(self.pictures)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.pictures[index], index


class ClipTask(TrainingTask):
    """The engine's view of the scorer: one model, the pairs, InfoNCE and a retrieval preview."""

    name = "clip"

    def __init__(self, config: ClipConfig, pictures: torch.Tensor, captions: list[str],
                 heldout: tuple[torch.Tensor, list[str]], eval_every: int, augmented: bool,
                 specs: list[Any] | None = None, partial: float = 0.0) -> None:
        self.config, self.pictures, self.captions = config, pictures, captions
        self.heldout, self.eval_every, self.augmented = heldout, eval_every, augmented
        self.specs, self.partial = specs, partial if specs else 0.0
        self.codes = attribute_codes(specs) if specs else None
        self.terms: dict[str, float] = {}
        self.last_heldout: float | None = None

    def build_models(self) -> dict[str, torch.nn.Module]:
        return {"clip": DualEncoder(self.config)}

    def dataset(self) -> torch.utils.data.Dataset:
        return _Pairs(self.pictures)

    def loss(self, models: dict[str, torch.nn.Module], batch: Any, step: int) -> torch.Tensor:
        model = models["clip"]
        raw, indices = batch
        pixels = raw.float() / 255
        if self.augmented:
            pixels = augment(pixels)
        texts, fits = self.texts(indices)
        loss, top1 = contrastive_loss(model, pixels, texts, fits)
        self.terms = {"batch_top1": top1, "temperature": float(1 / model.logit_scale.detach().exp())}
        if self.heldout[1] and self.eval_every and (step + 1) % self.eval_every == 0:
            self.last_heldout = text_to_image_top1(model, *self.heldout)
            self.terms["heldout_top1"] = self.last_heldout
        return loss

    def texts(self, indices: torch.Tensor) -> tuple[list[str], torch.Tensor | None]:
        """The batch's texts and which pictures each fits: with ``partial``, that share of the
        shapes captions says only a random subset of the attributes (and fits every picture that has
        them); otherwise the captions themselves (``None``: equal captions fit)."""
        if not self.partial or self.codes is None:
            return [self.captions[int(i)] for i in indices], None
        count = len(ATTRIBUTES)
        keep = torch.rand(len(indices), count) < 0.5
        keep[torch.arange(len(indices)), torch.randint(count, (len(indices),))] = True  # says something
        keep[torch.rand(len(indices)) >= self.partial] = True  # the rest: the whole caption
        texts = [partial_caption(self.specs[int(i)], {a for a, k in zip(ATTRIBUTES, row, strict=True) if k})
                 for i, row in zip(indices, keep, strict=True)]
        codes = self.codes[indices]
        fits = ((codes[None, :, :] == codes[:, None, :]) | ~keep[:, None, :]).all(dim=2)
        return texts, fits

    def step_metrics(self) -> dict[str, float]:
        return self.terms

    def sample(self, models: dict[str, torch.nn.Module], step: int) -> Any:
        """Eight held-out captions' best pictures among the held-out ones, framed green when right."""
        pixels, captions = self.heldout
        if not captions:
            return None
        model = models["clip"]
        with torch.no_grad():
            chosen = (model.embed_texts(captions[:8]) @ model.embed_images(pixels.float() / 255).T).argmax(dim=1)
        return retrieval_sheet([pixels[int(i)] for i in chosen],
                               [captions[int(i)] == c for i, c in zip(chosen, captions[:8], strict=False)])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.config.to_json(), "pairs": len(self.captions), "augmented": self.augmented,
                "partial_captions": self.partial}


def retrieval_sheet(pictures: list[torch.Tensor], right: list[bool]) -> Any:
    """A row of pictures framed green (right) or red (wrong)."""
    from PIL import Image, ImageOps

    sheet = Image.new("RGB", (len(pictures) * (SIDE + 8), SIDE + 8), (255, 255, 255))
    for index, (picture, ok) in enumerate(zip(pictures, right, strict=True)):
        image = Image.fromarray(picture.permute(1, 2, 0).numpy(), "RGB")
        framed = ImageOps.expand(image, border=4, fill=(40, 170, 60) if ok else (210, 40, 40))
        sheet.paste(framed, (index * (SIDE + 8), 0))
    return sheet


def _split_heldout(pictures: torch.Tensor, captions: list[str]) -> tuple[torch.Tensor, list[str],
                                                                            tuple[torch.Tensor, list[str]]]:
    """A folder's pairs: every 10th distinct caption held out (kept out of training) when there are
    at least 20 distinct captions; else nothing held out."""
    distinct = sorted(set(captions))
    if len(distinct) < 20:
        return pictures, captions, (pictures[:0], [])
    held = set(distinct[::10])
    keep = [i for i, c in enumerate(captions) if c not in held]
    first = {c: i for i, c in reversed(list(enumerate(captions))) if c in held}
    out = sorted(first.values())
    return pictures[keep], [captions[i] for i in keep], (pictures[out], [captions[i] for i in out])


def run(args: argparse.Namespace, report: Report, cancelled: Any) -> JobResult:
    """Train (or resume) and save the model folder; returns it as an artifact."""
    work, out = model_folders(args, "clip")
    if args.steps < 1 or args.embed_dim < 2:
        raise BadInput("--steps must be at least 1 and --embed-dim at least 2.")
    with torch_threads(args.threads):
        t0 = time.time()
        report(0, args.steps, message="Reading the pairs…")
        specs = None
        if args.data:
            source = f"folder {args.data}"
            pictures, captions, heldout = _split_heldout(*folder_pairs(Path(args.data)))
        else:
            source = f"shapes data set ({args.shapes} pairs)"
            pictures, captions = shapes_pairs(int(args.shapes), int(args.seed))
            specs = [shapes.ShapesDataset(int(args.shapes), seed=int(args.seed)).spec(i) for i in range(len(captions))]
            heldout = shapes_pairs(len(shapes.heldout_specs()), int(args.seed) + 1, "heldout")
        partial = float(args.partial_captions) if specs else 0.0
        if not 0 <= partial <= 1:
            raise BadInput(f"--partial-captions must be between 0 and 1, not {partial:g}.")
        vocabulary = sorted({w for caption in captions for w in words(caption)} | ({"shape"} if partial else set()))
        config = ClipConfig(vocabulary=tuple(vocabulary), embed_dim=int(args.embed_dim))
        report(0, args.steps, notice=f"Training the scorer on {len(captions)} pairs from the {source} "
                                     f"({len(heldout[1])} held out).")
        task = ClipTask(config, pictures, captions, heldout, int(args.eval_every), not args.no_augment, specs, partial)
        train_config = TrainConfig(
            run_dir=str(work), max_steps=int(args.steps), batch_size=int(args.batch_size), seed=int(args.seed),
            lr=float(args.lr), lr_schedule="cosine", warmup_steps=min(100, int(args.steps) // 10),
            min_lr_ratio=0.05, weight_decay=0.01, grad_clip=5.0, checkpoint_every=checkpoint_interval(int(args.steps)),
            keep_checkpoints=2, sample_every=int(args.sample_every), log_every=10, resume=not args.no_resume,
        )
        trainer = Trainer(task, train_config, report=report, cancelled=cancelled)
        result = trainer.run()
        unless_done(result)
        model = trainer.unwrapped()["clip"].cpu().eval()
        heldout_top1 = text_to_image_top1(model, *heldout) if heldout[1] else None
        summary = {"recipe": "clip", "data": source, "steps": result.step, "loss": result.loss,
                   "partial_captions": partial,
                   "heldout_text_to_image_top1": heldout_top1, "heldout_pairs": len(heldout[1]),
                   "seed": int(args.seed), "parameters": sum(p.numel() for p in model.parameters()),
                   "train_seconds_this_run": round(time.time() - t0, 1)}
        _save_atomically(model, out, summary)
    report(result.step, result.total, notice=f"Saved the scorer in {out}.")
    return JobResult(artifacts=trained_artifacts(out, "clip", result),
                     data={**summary, "out": str(out), "run_dir": str(work)})


def _save_atomically(model: DualEncoder, out: Path, summary: dict[str, Any]) -> None:
    """The model folder written beside ``out`` and renamed over it."""
    with replaced_folder(out) as tmp:
        save_model(model, tmp, {"training": summary})
