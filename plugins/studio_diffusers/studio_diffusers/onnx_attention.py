"""Attention as ONNX Runtime's fused ``com.microsoft.MultiHeadAttention`` in exported graphs.

The dynamo exporter writes ``scaled_dot_product_attention`` as MatMul → Softmax → MatMul, which
builds the whole (tokens × tokens) matrix: at 256² a Stable Diffusion UNet's self-attention over
4,096 latent positions is then 86 % of an ONNX Runtime step. ORT's ``MultiHeadAttention`` contrib op
runs a flash-attention kernel (MLAS on the CPU, flash/memory-efficient kernels on CUDA) that never
builds it. This translation table maps SDPA without a mask, dropout or causality (what SD's UNet and
VAE use) onto it; anything else keeps the exporter's own translation.
"""

from __future__ import annotations

import functools
from typing import Any

DOMAIN = "com.microsoft"


@functools.cache
def _register_schema() -> None:
    """Tell ``onnx.defs`` the op's signature (onnxscript builds nodes from registered schemas); the
    inputs SD needs: query, key, value in (batch, tokens, heads × head size)."""
    import onnx
    from onnx.defs import OpSchema

    if onnx.defs.has("MultiHeadAttention", DOMAIN):
        return
    onnx.defs.register_schema(OpSchema(
        "MultiHeadAttention", DOMAIN, 1,
        inputs=[OpSchema.FormalParameter(name, "T") for name in ("query", "key", "value")],
        outputs=[OpSchema.FormalParameter("output", "T")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)", "tensor(bfloat16)"], "float tensors")],
        attributes=[OpSchema.Attribute("num_heads", OpSchema.AttrType.INT, "number of heads"),
                    OpSchema.Attribute("scale", OpSchema.AttrType.FLOAT, "softmax scale", required=False)],
    ))


def translation_table() -> dict[Any, Any]:
    """``custom_translation_table`` for ``torch.onnx.export(dynamo=True)``."""
    import onnxscript
    import torch
    from onnxscript import opset18 as op
    from onnxscript.function_libs.torch_lib.ops.nn import aten_scaled_dot_product_attention

    _register_schema()
    multi_head_attention = onnxscript.values.Op(onnxscript.values.Opset(DOMAIN, 1), "MultiHeadAttention")

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        heads, head_size = query.shape[1], query.shape[3]
        fused = (attn_mask is None and not dropout_p and not is_causal and not enable_gqa
                 and isinstance(heads, int) and isinstance(head_size, int) and key.shape[1] == heads)
        if not fused:
            return aten_scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale,
                                                     enable_gqa)

        def tokens_first(x):  # (B, N, S, H) → (B, S, N·H)
            return op.Reshape(op.Transpose(x, perm=[0, 2, 1, 3]), op.Constant(value_ints=[0, 0, -1]))

        attributes: dict[str, Any] = {"num_heads": heads}
        if scale is not None:
            attributes["scale"] = float(scale)
        out = multi_head_attention(tokens_first(query), tokens_first(key), tokens_first(value), **attributes)
        shape = op.Concat(op.Shape(out, start=0, end=2), op.Constant(value_ints=[heads, head_size]), axis=0)
        return op.Transpose(op.Reshape(out, shape), perm=[0, 2, 1, 3])  # back to (B, N, S, H)

    return {torch.ops.aten.scaled_dot_product_attention.default: sdpa}
