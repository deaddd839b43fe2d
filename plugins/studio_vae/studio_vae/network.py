"""The VAE itself (torch): a convolutional encoder to a Gaussian latent, a mirrored decoder, and the
files it is kept in (``model.safetensors`` + ``studio-vae.json``).

Pictures are 64×64 RGB in [0, 1]. The encoder halves the side four times (64 → 4) and maps the
last feature map to the mean and log-variance of a ``latent_dim`` Gaussian; the decoder mirrors it.
Beside the networks the weights file holds the *sampling prior*: the aggregate posterior of
``prior_components`` training pictures, i.e. the encoder's Gaussian of each (``prior.means``,
``prior.stds``), fitted after training. A sample picks one component with its seed and draws from
it. Sampling from the aggregate posterior rather than from N(0, I) keeps samples where the decoder
was trained: a VAE's posteriors never fill the unit Gaussian, and its holes decode to blends of
several shapes and colours (``prior_components = 0`` samples N(0, I)).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

CONFIG_NAME = "studio-vae.json"
WEIGHTS_NAME = "model.safetensors"
FAMILY = "studio-vae"
SIDE = 64


@dataclass(frozen=True)
class VaeConfig:
    """The shape of a VAE: channel widths of the four encoder levels and the latent size."""

    channels: tuple[int, int, int, int] = (32, 64, 64, 128)
    latent_dim: int = 32
    side: int = SIDE
    prior_components: int = 1024

    def to_json(self) -> dict:
        return {"family": FAMILY, **asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_json(cls, data: dict) -> VaeConfig:
        channels = tuple(int(c) for c in data.get("channels", cls.channels))
        if len(channels) != 4 or min(channels) < 1:
            raise ValueError(f"channels must be four positive widths, not {channels}")
        side = int(data.get("side", SIDE))
        if side != SIDE:
            raise ValueError(f"only {SIDE}x{SIDE} VAEs are supported, not {side}")
        return cls(channels=channels, latent_dim=int(data.get("latent_dim", cls.latent_dim)), side=side,  # type: ignore[arg-type]
                   prior_components=int(data.get("prior_components", 0)))


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2))


class ConvVae(nn.Module):
    """Encoder → (mean, log-variance) → reparameterised latent → decoder, plus the sampling prior."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        self.config = config
        c0, c1, c2, c3 = config.channels
        cells = 4 * 4 * c3
        self.encoder = nn.Sequential(_down(3, c0), _down(c0, c1), _down(c1, c2), _down(c2, c3), nn.Flatten())
        self.to_stats = nn.Linear(cells, 2 * config.latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(config.latent_dim, cells), nn.LeakyReLU(0.2))
        self.decoder = nn.Sequential(_up(c3, c2), _up(c2, c1), _up(c1, c0), nn.ConvTranspose2d(c0, 3, 4, 2, 1))
        self.prior_means = torch.zeros(0, config.latent_dim)  # not in the state dict: fitted after training
        self.prior_stds = torch.ones(0, config.latent_dim)

    def encode(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels (N, 3, 64, 64) in [0, 1] → latent mean and log-variance (N, latent_dim) each."""
        stats = self.to_stats(self.encoder(pixels * 2 - 1))
        mean, logvar = stats.chunk(2, dim=1)
        return mean, logvar.clamp(-12, 8)

    def decode_logits(self, latent: torch.Tensor) -> torch.Tensor:
        c3 = self.config.channels[3]
        return self.decoder(self.from_latent(latent).view(-1, c3, 4, 4))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent_dim) → pixels (N, 3, 64, 64) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(latent))

    def sample_latent(self, generator: torch.Generator) -> torch.Tensor:
        """One latent (1, latent_dim) from the sampling prior, drawn with ``generator`` (CPU)."""
        noise = torch.randn(1, self.config.latent_dim, generator=generator)
        if not len(self.prior_means):
            return noise
        index = int(torch.randint(len(self.prior_means), (1,), generator=generator))
        return self.prior_means[index] + self.prior_stds[index] * noise

    @torch.no_grad()
    def fit_prior(self, pixels: torch.Tensor) -> None:
        """The sampling prior: the encoder's Gaussians of ``pixels`` (N, 3, 64, 64) in [0, 1]."""
        stats = [self.encode(part) for part in pixels.split(256)]
        self.prior_means = torch.cat([mean for mean, _ in stats]).cpu()
        self.prior_stds = torch.cat([torch.exp(0.5 * logvar) for _, logvar in stats]).cpu()


def loss_terms(model: ConvVae, pixels: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, reconstruction, KL) per picture: binary cross-entropy summed over pixels + beta·KL."""
    mean, logvar = model.encode(pixels)
    latent = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
    logits = model.decode_logits(latent)
    recon = nn.functional.binary_cross_entropy_with_logits(logits, pixels, reduction="sum") / len(pixels)
    kl = (-0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(dim=1)).mean()
    return recon + beta * kl, recon, kl


def save_model(model: ConvVae, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``studio-vae.json`` into ``folder``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tensors.update({"prior.means": model.prior_means.contiguous(), "prior.stds": model.prior_stds.contiguous()})
    save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    config = {**model.config.to_json(), "prior_components": len(model.prior_means), **(extra or {})}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def load_model(folder: str | Path) -> ConvVae:
    """The VAE saved in ``folder`` (on the CPU, in eval mode)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = VaeConfig.from_json(json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")))
    model = ConvVae(config)
    tensors = load_file(str(folder / WEIGHTS_NAME))
    means, stds = tensors.pop("prior.means", None), tensors.pop("prior.stds", None)
    model.load_state_dict(tensors)
    if means is not None and stds is not None and means.shape == stds.shape and means.shape[1:] == (config.latent_dim,):
        model.prior_means, model.prior_stds = means.float(), stds.float()
    return model.eval()
