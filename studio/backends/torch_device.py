"""Device and dtype choices for torch plugins. Imported by plugin code at run time, never by the UI."""

from __future__ import annotations

import torch


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an unavailable explicit choice falls back to CPU."""
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if device in ("auto", "mps") and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA, fp32 elsewhere (CPU fp16 is slow and MPS fp16 is fragile)."""
    return torch.float16 if device.type == "cuda" else torch.float32


def cpu_generator(seed: int) -> torch.Generator:
    """Initial noise comes from a CPU generator, so CPU and GPU start from the same noise."""
    return torch.Generator(device="cpu").manual_seed(seed)
