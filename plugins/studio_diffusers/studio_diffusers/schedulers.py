"""Schedulers by the names designers know (A1111's sampler names)."""

from __future__ import annotations

from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LMSDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)

from studio.plugins import BadInput

SCHEDULERS: dict[str, tuple[type, dict[str, Any]]] = {
    "Euler a": (EulerAncestralDiscreteScheduler, {}),
    "Euler": (EulerDiscreteScheduler, {}),
    "DPM++ 2M": (DPMSolverMultistepScheduler, {}),
    "DPM++ 2M Karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "DDIM": (DDIMScheduler, {}),
    "UniPC": (UniPCMultistepScheduler, {}),
    "LMS": (LMSDiscreteScheduler, {}),
    "PNDM": (PNDMScheduler, {}),
}


def make_scheduler(name: str, base_config: dict[str, Any]):
    """A scheduler of the named kind built from the model's own scheduler config."""
    if name not in SCHEDULERS:
        raise BadInput(f"Unknown scheduler '{name}'.", f"Choose one of: {', '.join(SCHEDULERS)}.")
    cls, overrides = SCHEDULERS[name]
    return cls.from_config(base_config, **overrides)
