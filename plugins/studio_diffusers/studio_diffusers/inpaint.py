"""Inpainting helpers: masks and compositing the untouched pixels back, as A1111 does."""

from __future__ import annotations

from PIL import Image, ImageFilter


def prepare_mask(mask: Image.Image, size: tuple[int, int], feather: int = 0) -> Image.Image:
    """A grayscale mask at ``size`` (white = repaint); ``feather`` blurs its edge by that many pixels."""
    mask = mask.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    if feather > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(feather))
    return mask


def composite(original: Image.Image, generated: Image.Image, mask: Image.Image) -> Image.Image:
    """Keep ``original`` wherever the mask is black; take ``generated`` where it is white."""
    generated = generated.convert("RGB")
    if generated.size != original.size:
        generated = generated.resize(original.size, Image.Resampling.LANCZOS)
    return Image.composite(generated, original.convert("RGB"), mask)


class LatentBlend:
    """Inpainting with any text-to-image UNet, through the image-to-image pipeline.

    diffusers' inpaint pipeline takes a 9-channel inpainting UNet or a 4-channel SD UNet; for the
    latter it replaces, after every step, the latents outside the mask with the original image's
    latents noised to the next timestep. This does the same for UNets of any latent width (the
    8-channel ``demo`` model), as a step-end callback of the image-to-image pipeline.
    """

    def __init__(self, pipe, init: Image.Image, mask: Image.Image, seed: int) -> None:
        import numpy as np
        import torch

        from studio.plugins.devices import cpu_generator

        vae = pipe.vae
        pixels = pipe.image_processor.preprocess(init.convert("RGB")).to(vae.device, vae.dtype)
        with torch.no_grad():
            self.init_latents = vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor
        h, w = self.init_latents.shape[-2:]
        keep = 1.0 - np.asarray(mask.convert("L").resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255.0
        self.keep = torch.from_numpy(keep)[None, None].to(self.init_latents.device, self.init_latents.dtype)
        self.noise = torch.randn(self.init_latents.shape, generator=cpu_generator(seed), dtype=torch.float32).to(
            self.init_latents.device, self.init_latents.dtype)

    def __call__(self, pipe, step: int, latents):
        """The latents after step ``step``, with the area outside the mask taken from the original."""
        import torch

        timesteps = pipe.scheduler.timesteps
        original = self.init_latents
        if step + 1 < len(timesteps):  # not the last step: the original at the next step's noise level
            original = pipe.scheduler.add_noise(original, self.noise, torch.tensor([timesteps[step + 1]]))
        return self.keep * original.to(latents.dtype) + (1.0 - self.keep) * latents
