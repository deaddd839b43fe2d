"""ESRGAN / Real-ESRGAN (RRDBNet) upscalers built from a state dict: no code from the file ever runs.

The architecture is read from the tensor names and shapes (as spandrel does): BasicSR's "new" keys
(``conv_first``, ``body.N.rdbK.convJ``, ``conv_up1`` …) and the original ESRGAN "old" keys
(``model.0``, ``model.1.sub.N.RDBK.convJ.0`` …), 1×, 2× and 4× models (the 1× and 2× ones take
pixel-unshuffled input, as Real-ESRGAN's x2plus does).
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F

_OLD_BODY = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_OLD_TRUNK = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3×3 convolutions, scaled residual."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        for index in range(5):
            out = features if index == 4 else growth
            setattr(self, f"conv{index + 1}", nn.Conv2d(features + index * growth, out, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        found = [x]
        for index in range(1, 5):
            conv = getattr(self, f"conv{index}")
            found.append(F.leaky_relu(conv(torch.cat(found, 1)), 0.2))
        return self.conv5(torch.cat(found, 1)) * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, scaled residual."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(features, growth)
        self.rdb2 = ResidualDenseBlock(features, growth)
        self.rdb3 = ResidualDenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """BasicSR's RRDBNet: the ESRGAN generator."""

    def __init__(self, in_channels: int, out_channels: int, features: int, blocks: int, growth: int,
                 upsamples: int) -> None:
        super().__init__()
        self.unshuffle = {out_channels: 1, out_channels * 4: 2, out_channels * 16: 4}.get(in_channels, 1)
        self.conv_first = nn.Conv2d(in_channels, features, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        self.upsamples = upsamples
        for index in range(upsamples):
            setattr(self, f"conv_up{index + 1}", nn.Conv2d(features, features, 3, 1, 1))
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, out_channels, 3, 1, 1)

    @property
    def scale(self) -> int:
        """Output side / input side."""
        return 2**self.upsamples // self.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for index in range(self.upsamples):
            conv = getattr(self, f"conv_up{index + 1}")
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


def new_arch_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict with original-ESRGAN ("old arch") names renamed to BasicSR's; others unchanged."""
    if "model.0.weight" not in state:
        return state
    out: dict[str, torch.Tensor] = {}
    tops: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if match := _OLD_BODY.match(key):
            block, rdb, conv, kind = match.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif match := _OLD_TRUNK.match(key):
            out[f"conv_body.{match.group(2)}"] = value
        elif match := _OLD_TOP.match(key):
            tops.setdefault(int(match.group(1)), {})[match.group(2)] = value
        else:
            out[key] = value  # unknown: left for the strict load to refuse
    order = sorted(tops)
    if len(order) >= 3:
        names = ["conv_first", *(f"conv_up{i + 1}" for i in range(len(order) - 3)), "conv_hr", "conv_last"]
        for name, index in zip(names, order, strict=True):
            for kind, value in tops[index].items():
                out[f"{name}.{kind}"] = value
    return out


def build_rrdbnet(state: dict[str, torch.Tensor]) -> RRDBNet | None:
    """An RRDBNet holding ``state``'s weights, or None when the names do not describe one; a state
    dict that names one but does not fit it raises ``ValueError``."""
    state = new_arch_keys(state)
    needed = ("conv_first.weight", "conv_body.weight", "conv_hr.weight", "conv_last.weight", "body.0.rdb1.conv1.weight")
    if not all(key in state and state[key].ndim == 4 for key in needed):
        return None
    blocks = 1 + max(int(key.split(".")[1]) for key in state if key.startswith("body."))
    upsamples = sum(1 for key in state if re.fullmatch(r"conv_up\d+\.weight", key))
    model = RRDBNet(
        in_channels=state["conv_first.weight"].shape[1],
        out_channels=state["conv_last.weight"].shape[0],
        features=state["conv_first.weight"].shape[0],
        blocks=blocks,
        growth=state["body.0.rdb1.conv1.weight"].shape[0],
        upsamples=upsamples,
    )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    return model.eval()
