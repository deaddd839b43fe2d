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

    def to_json(self) -> dict:
        return {"family": FAMILY, **asdict(self)}

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
        return cls(**sizes, side=side, upsampling=upsampling)


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


class Generator(nn.Module):
    """Noise (N, latent_dim) → pixels (N, 3, 64, 64) in [-1, 1]."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        w = config.g_width
        last = config.upsampling
        self.net = nn.Sequential(
            nn.ConvTranspose2d(config.latent_dim, 8 * w, 4, 1, 0, bias=False), nn.BatchNorm2d(8 * w), nn.ReLU(True),
            *_grow(8 * w, 4 * w), *_grow(4 * w, 2 * w), *_grow(2 * w, w), *_double(w, 3, last, bias=True),
            nn.Tanh(),
        )
        _dcgan_init(self)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise[:, :, None, None])

    def pictures(self, noise: torch.Tensor) -> torch.Tensor:
        """Noise → pixels in [0, 1] (what a picture shows)."""
        return (self(noise) + 1) / 2


class Discriminator(nn.Module):
    """Pixels (N, 3, 64, 64) in [-1, 1] → one logit each (N,): high for real pictures."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        w = config.d_width
        self.net = nn.Sequential(
            *_shrink(3, w, norm=False), *_shrink(w, 2 * w), *_shrink(2 * w, 4 * w), *_shrink(4 * w, 8 * w),
            nn.Conv2d(8 * w, 1, 4, 1, 0),
        )
        _dcgan_init(self)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net(pixels).flatten()


def _dcgan_init(module: nn.Module) -> None:
    """Weights as the DCGAN paper draws them: N(0, 0.02) for convolutions, N(1, 0.02) for BN scales."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def gan_losses(generator: nn.Module, discriminator: nn.Module, real: torch.Tensor,
               noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss_discriminator, loss_generator)`` for one batch, ready for ONE backward of their sum.

    The discriminator's loss sees the fakes detached (no gradient reaches the generator); the
    generator's loss goes through the discriminator with its parameters detached
    (``functional_call``), so its gradient reaches only the generator. One optimiser step then
    updates both networks at once (simultaneous gradient descent), each on its own loss.
    """
    bce = nn.functional.binary_cross_entropy_with_logits
    fake = generator(noise)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    loss_d = (bce(real_logits, torch.full_like(real_logits, REAL_LABEL))
              + bce(fake_logits, torch.zeros_like(fake_logits)))
    critic = getattr(discriminator, "module", discriminator)  # DDP-wrapped under accelerate launch
    frozen = {name: p.detach() for name, p in critic.named_parameters()}
    judged = torch.func.functional_call(critic, frozen, (fake,))
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
        generator(torch.randn(batch_size, generator.config.latent_dim, generator=rng).to(device))
    for norm in norms:
        norm.momentum = 0.1
    generator.eval()


def save_generator(generator: Generator, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``studio-gan.json`` into ``folder``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
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
    generator.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
    return generator.eval()
