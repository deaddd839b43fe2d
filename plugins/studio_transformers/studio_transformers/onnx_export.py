"""Export a causal language model's decoder to ONNX with its key/value cache (the dynamo exporter).

The graph takes ``input_ids`` [1, seq], ``attention_mask`` [1, past + seq], ``position_ids`` [1, seq]
and, per layer, ``past.{i}.key`` / ``past.{i}.value`` [1, heads, past, head_dim] (``past`` may be 0:
the first call feeds empty tensors), and returns the last position's ``logits`` [1, 1, vocab] and
``present.{i}.key`` / ``present.{i}.value`` (past + seq long), fed back as the next call's past.
The cache is a transformers ``DynamicCache`` built inside the traced wrapper, so any architecture
whose torch forward takes one (Llama, Mistral, Qwen, Phi, GPT-2 …) exports the same way.

Why not onnxruntime-genai's model builder: its wheel requires the CPU-only ``onnxruntime`` package,
which cannot be installed beside ``onnxruntime-gpu`` (both are the ``onnxruntime`` module), and its
search runs inside its own C++ generator, while the studio's sampling presets and green-list
watermark are transformers logits processors that must see every step's logits.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from studio.plugins import ModelError
from studio.plugins.onnx import OPSET

log = logging.getLogger("studio.onnx")

EXPORT_VERSION = 1  # bump when the graph's inputs, outputs or files change
GRAPH = "decoder/model.onnx"
CONFIG = "decoder.json"


class _Decoder(torch.nn.Module):
    """``model`` with its cache as flat tensors in and out (what an ONNX graph can carry)."""

    def __init__(self, model, layers: int) -> None:
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache([(past[2 * i], past[2 * i + 1]) for i in range(self.layers)], config=self.model.config)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True, logits_to_keep=1)
        present = []
        for layer in out.past_key_values.layers:
            present += [layer.keys, layer.values]
        return (out.logits, *present)


def cache_shapes(model) -> list[tuple[int, int]]:
    """(heads, head_dim) of each layer's cached keys and values, read from a real forward pass."""
    with torch.no_grad():
        out = model(input_ids=torch.zeros(1, 2, dtype=torch.int64), use_cache=True)
    cache = out.past_key_values
    layers = getattr(cache, "layers", None)
    if not layers or any(getattr(layer, "keys", None) is None for layer in layers):
        raise ModelError(f"'{model.config.model_type}' models keep a cache the ONNX export does not support.",
                         "Use the torch backend for this model.")
    shapes = []
    for layer in layers:
        for tensor in (layer.keys, layer.values):
            if tensor.dim() != 4:
                raise ModelError("The model's key/value cache is not [batch, heads, length, dim]: not supported "
                                 "on the ONNX backend.", "Use the torch backend for this model.")
        shapes.append((int(layer.keys.shape[1]), int(layer.keys.shape[3])))
    return shapes


def input_names(layers: int) -> list[str]:
    return ["input_ids", "attention_mask", "position_ids",
            *[f"past.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]]


def output_names(layers: int) -> list[str]:
    return ["logits", *[f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]]


def export_decoder(model, folder: Path, report, name: str, window: int) -> dict[str, Any]:
    """Write ``decoder/model.onnx`` (+ external weights) and ``decoder.json`` into ``folder``."""
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export", "torch._dynamo"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    model = model.to("cpu", torch.float32).eval()
    report(0, 2, message=f"Exporting '{name}' to ONNX…")
    shapes = cache_shapes(model)
    layers = len(shapes)
    limit = max(16, window)
    seq = torch.export.Dim("seq", min=1, max=limit)
    past = torch.export.Dim("past", min=0, max=limit)
    total = torch.export.Dim("total", min=1, max=2 * limit)
    p, s = 3, 4  # example lengths (neither 0 nor 1, which torch.export would specialise on)
    args = (torch.ones(1, s, dtype=torch.int64), torch.ones(1, p + s, dtype=torch.int64),
            torch.arange(p, p + s).unsqueeze(0),
            *[torch.randn(1, heads, p, dim) for heads, dim in shapes for _ in ("key", "value")])
    dynamic = {"input_ids": {1: seq}, "attention_mask": {1: total}, "position_ids": {1: seq},
               "past": tuple({2: past} for _ in range(2 * layers))}
    path = folder / GRAPH
    path.parent.mkdir(parents=True, exist_ok=True)
    chatter = io.StringIO()
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
            warnings.simplefilter("ignore")
            torch.onnx.export(_Decoder(model, layers), args, str(path), dynamo=True, opset_version=OPSET,
                              dynamic_shapes=dynamic, input_names=input_names(layers),
                              output_names=output_names(layers), external_data=True, optimize=True)
    except Exception as exc:
        log.debug("ONNX export of %s failed; exporter output: %s", name, chatter.getvalue())
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"'{name}' could not be exported to ONNX ({first[:300]}).",
                         "Use the torch backend for this model.") from None
    log.debug("Exported %s: %s", name, chatter.getvalue()[-2000:])
    config = {"export_version": EXPORT_VERSION, "layers": layers, "cache": [list(shape) for shape in shapes],
              "vocab_size": int(model.config.get_text_config().vocab_size), "window": window, "dtype": "float32"}
    (folder / CONFIG).write_text(json.dumps(config, indent=1), encoding="utf-8")
    report(2, 2, message="Export done")
    return {"name": name, "dtype": "float32", "opset": OPSET}
