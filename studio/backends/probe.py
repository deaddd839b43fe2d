"""Report the compute device as one JSON line: ``python -m studio.backends.probe``.

The UI runs this in a separate process (a QProcess) so that the GUI never imports torch.
Output: ``{"device": "CUDA: <name>" | "MPS" | "CPU", "memory": "...", "torch": "<version>" | null}``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB"


def system_memory() -> str:
    """Total physical memory of this machine, or '' where it cannot be told."""
    try:
        return _gib(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) + " RAM"
    except (ValueError, OSError, AttributeError):
        return ""


def probe() -> dict[str, Any]:
    """Which accelerator torch would use, and how much memory it has."""
    try:
        import torch
    except Exception as exc:  # no torch, or a broken install: the studio still opens
        return {"device": "CPU", "memory": system_memory(), "torch": None, "error": str(exc)}
    info: dict[str, Any] = {"torch": torch.__version__.split("+")[0]}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(device=f"CUDA: {props.name}", memory=_gib(props.total_memory) + " VRAM")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        info.update(device="MPS", memory=system_memory() + " (shared)")
    else:
        info.update(device="CPU", memory=system_memory())
    return info


def main() -> int:
    sys.stdout.write(json.dumps(probe()) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
