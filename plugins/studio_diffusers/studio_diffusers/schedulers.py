"""Schedulers by the names designers know (A1111's sampler names); each class is imported from
diffusers when a job first asks for it."""

from __future__ import annotations

from typing import Any

from studio.plugins import BadInput

#: name -> (diffusers scheduler class name, config overrides)
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "PNDM": ("PNDMScheduler", {}),
}


def make_scheduler(name: str, base_config: dict[str, Any]):
    """A scheduler of the named kind built from the model's own scheduler config."""
    if name not in SCHEDULERS:
        raise BadInput(f"Unknown scheduler '{name}'.", f"Choose one of: {', '.join(SCHEDULERS)}.")
    import diffusers

    class_name, overrides = SCHEDULERS[name]
    return getattr(diffusers, class_name).from_config(base_config, **overrides)
