"""The DCGAN itself (torch): a generator from noise to 64×64 RGB, a discriminator back to one logit,
their losses in one backward pass, and the files a trained generator is kept in
(``model.safetensors`` + ``studio-gan.json``).

Generator: the noise vector is a 1×1 map that transposed convolutions grow to 4, 8, 16, 32, 64
pixels (batch norm + ReLU between, tanh at the end: pixels in [-1, 1]). Discriminator: strided
convolutions shrink 64 → 4 (LeakyReLU 0.2, batch norm after the first) and a 4×4 convolution
gives one logit. Only the generator is saved for sampling (the EMA of its weights).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

CONFIG_NAME = "studio-gan.json"
WEIGHTS_NAME = "model.safetensors"
FAMILY = "studio-gan"
SIDE = 64
UPSAMPLING = ("nearest", "transposed")
REAL_LABEL = 0.9  # one-sided label smoothing: the discriminator is never asked for certainty


@dataclass(frozen=True)
class GanConfig:
    """The shape of a DCGAN: noise size and the base widths of generator and discriminator."""

    latent_dim: int = 64
    g_width: int = 32
    d_width: int = 32
    side: int = SIDE
    #: how the generator's last level (32 → 64 px) grows: "nearest" (upsample, then a 3×3 convolution:
    #: no pixel checkerboard) or "transposed" (the DCGAN paper's 4×4 stride-2 transposed convolution)
    upsampling: str = "nearest"
    #: a conditional GAN's label factors and their values, in order, e.g. (("colour", ("red", …)), …);
    #: empty: unconditional (saved as a list of [name, values] pairs: the order is the code's). Both
    #: networks see the labels as one multi-hot vector (one-hot per factor).
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def label_dim(self) -> int:
        return sum(len(values) for _name, values in self.labels)

    def to_json(self) -> dict:
        return {"family": FAMILY, **asdict(self), "labels": [[name, list(values)] for name, values in self.labels]}

    @classmethod
    def from_json(cls, data: dict) -> GanConfig:
        side = int(data.get("side", SIDE))
        if side != SIDE:
            raise ValueError(f"only {SIDE}x{SIDE} GANs are supported, not {side}")
        sizes = {key: int(data.get(key, getattr(cls, key))) for key in ("latent_dim", "g_width", "d_width")}
        if min(sizes.values()) < 1:
            raise ValueError(f"latent_dim, g_width and d_width must be positive, not {sizes}")
        upsampling = str(data.get("upsampling", "transposed"))
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {', '.join(UPSAMPLING)}, not {upsampling!r}")
        labels = tuple((str(name), tuple(str(v) for v in values)) for name, values in data.get("labels") or ())
        return cls(**sizes, side=side, upsampling=upsampling, labels=labels)


def _double(c_in: int, c_out: int, upsampling: str, bias: bool = False) -> list[nn.Module]:
    """Twice the side: a 4×4 stride-2 transposed conv, or nearest upsampling and a 3×3 conv."""
    if upsampling == "nearest":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)]


def _grow(c_in: int, c_out: int, upsampling: str = "transposed") -> list[nn.Module]:
    return [*_double(c_in, c_out, upsampling), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def _shrink(c_in: int, c_out: int, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return [*layers, nn.LeakyReLU(0.2, True)]


def one_hot(config: GanConfig, labels: torch.Tensor | None) -> torch.Tensor | None:
    """Label indices (N, factors) → the multi-hot vector (N, label_dim); None when unconditional."""
    if not config.labels:
        return None
    if labels is None:
        raise ValueError("a conditional GAN needs labels")
    parts = [nn.functional.one_hot(labels[:, i], len(values)) for i, (_name, values) in enumerate(config.labels)]
    return torch.cat(parts, dim=1).float()


class Generator(nn.Module):
    """Noise (N, latent_dim) [+ labels (N, factors)] → pixels (N, 3, 64, 64) in [-1, 1].

    ``label_table`` (not in the state dict; saved beside it) holds the label combinations of the
    training pictures: sampling draws one of them."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        self.label_table = torch.zeros(0, len(config.labels), dtype=torch.long)
        w = config.g_width
        last = config.upsampling
        self.net = nn.Sequential(
            nn.ConvTranspose2d(config.latent_dim + config.label_dim, 8 * w, 4, 1, 0, bias=False),
            nn.BatchNorm2d(8 * w), nn.ReLU(True),
            *_grow(8 * w, 4 * w), *_grow(4 * w, 2 * w), *_grow(2 * w, w), *_double(w, 3, last, bias=True),
            nn.Tanh(),
        )
        _dcgan_init(self)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        code = one_hot(self.config, labels)
        inputs = noise if code is None else torch.cat([noise, code.to(noise.device)], dim=1)
        return self.net(inputs[:, :, None, None])

    def pictures(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Noise [and labels] → pixels in [0, 1] (what a picture shows)."""
        return (self(noise, labels) + 1) / 2

    def draw(self, count: int, generator: torch.Generator,
             rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``count`` noise vectors and (conditional) label combinations, drawn with ``generator``
        from ``rows`` (default: the whole table)."""
        noise = torch.randn(count, self.config.latent_dim, generator=generator)
        if not self.config.labels:
            return noise, None
        rows = self.label_table if rows is None else rows
        if not len(rows):
            raise ValueError("a conditional GAN needs its table of label combinations")
        return noise, rows[torch.randint(len(rows), (count,), generator=generator)]


class Discriminator(nn.Module):
    """Pixels (N, 3, 64, 64) in [-1, 1] [+ labels] → one logit each (N,): high for real pictures.

    A conditional one adds the projection term (Miyato & Koyama 2018): the inner product of a
    learned embedding of the labels with the mean-pooled features of the last level (summed, its
    scale let the discriminator's logits run to ±12 within 100 steps and the generator's loss stay
    there)."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        w = config.d_width
        self.net = nn.Sequential(
            *_shrink(3, w, norm=False), *_shrink(w, 2 * w), *_shrink(2 * w, 4 * w), *_shrink(4 * w, 8 * w),
            nn.Conv2d(8 * w, 1, 4, 1, 0),
        )
        self.embed = nn.Linear(config.label_dim, 8 * w, bias=False) if config.labels else None
        _dcgan_init(self)

    def forward(self, pixels: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.net[:-1](pixels)
        logits = self.net[-1](features).flatten()
        code = one_hot(self.config, labels)
        if self.embed is not None and code is not None:
            logits = logits + (self.embed(code.to(pixels.device)) * features.mean((2, 3))).sum(1)
        return logits


def _dcgan_init(module: nn.Module) -> None:
    """Weights as the DCGAN paper draws them: N(0, 0.02) for convolutions, N(1, 0.02) for BN scales."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def gan_losses(generator: nn.Module, discriminator: nn.Module, real: torch.Tensor, noise: torch.Tensor,
               labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss_discriminator, loss_generator)`` for one batch, ready for ONE backward of their sum.

    The discriminator's loss sees the fakes detached (no gradient reaches the generator); the
    generator's loss goes through the discriminator with its parameters detached
    (``functional_call``), so its gradient reaches only the generator. One optimiser step then
    updates both networks at once (simultaneous gradient descent), each on its own loss. ``labels``
    (conditional): the real pictures' labels, given to the fakes too.
    """
    bce = nn.functional.binary_cross_entropy_with_logits
    fake = generator(noise, labels)
    real_logits = discriminator(real, labels)
    fake_logits = discriminator(fake.detach(), labels)
    loss_d = (bce(real_logits, torch.full_like(real_logits, REAL_LABEL))
              + bce(fake_logits, torch.zeros_like(fake_logits)))
    critic = getattr(discriminator, "module", discriminator)  # DDP-wrapped under accelerate launch
    frozen = {name: p.detach() for name, p in critic.named_parameters()}
    judged = torch.func.functional_call(critic, frozen, (fake, labels))
    loss_g = bce(judged, torch.ones_like(judged))
    return loss_d, loss_g


@torch.no_grad()
def update_average(average: nn.Module, live: nn.Module, decay: float) -> None:
    """``average`` ← decay·average + (1 − decay)·live for parameters; buffers copied."""
    for mean, param in zip(average.parameters(), live.parameters(), strict=True):
        mean.lerp_(param.detach(), 1 - decay)
    for mine, theirs in zip(average.buffers(), live.buffers(), strict=True):
        mine.copy_(theirs)


@torch.no_grad()
def recalibrate_batch_norm(generator: Generator, batches: int = 16, batch_size: int = 64, seed: int = 0) -> None:
    """Batch-norm statistics measured on the generator's own weights (an EMA's weights are not the
    live generator's, whose running statistics it copied): the cumulative mean over ``batches``
    batches of noise; leaves the generator in eval mode."""
    generator.train()
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    for _ in range(batches):
        noise, labels = generator.draw(batch_size, rng)
        generator(noise.to(device), labels)
    for norm in norms:
        norm.momentum = 0.1
    generator.eval()


def save_generator(generator: Generator, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``studio-gan.json`` into ``folder``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
    if generator.config.labels:
        tensors["labels.table"] = generator.label_table.contiguous().cpu()
    save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    config = {**generator.config.to_json(), **(extra or {})}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def load_generator(folder: str | Path) -> Generator:
    """The generator saved in ``folder`` (on the CPU, in eval mode)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = GanConfig.from_json(json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")))
    generator = Generator(config)
    tensors = load_file(str(folder / WEIGHTS_NAME))
    table = tensors.pop("labels.table", None)
    generator.load_state_dict(tensors)
    if config.labels:
        if table is None or table.ndim != 2 or table.shape[1] != len(config.labels) or not len(table):
            raise ValueError("the conditional GAN's table of label combinations is missing or damaged")
        generator.label_table = table.long()
    return generator.eval()
