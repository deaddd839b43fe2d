"""The exported UNet and VAE run attention as ONNX Runtime's fused MultiHeadAttention (flash attention on
the CPU and CUDA) instead of MatMul → Softmax → MatMul over a tokens × tokens matrix; the text encoder,
whose attention is causal, keeps the exporter's own translation."""

from __future__ import annotations

import onnx

from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.session import StudioSession


def _ops(path) -> dict[str, int]:
    graph = onnx.load(str(path), load_external_data=False).graph
    counts: dict[str, int] = {}
    for node in graph.node:
        key = f"{node.domain or 'ai.onnx'}:{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_the_demo_export_uses_fused_attention(onnx_home, shared_onnx_cache) -> None:
    session = StudioSession()
    try:
        job = session.runner.run_now(GenerationRequest(model="demo", prompt="a red circle", width=64, height=64,
                                                       steps=2, seed=1, backend="onnx"))
        assert job.state is JobState.DONE, job.error
    finally:
        session.close()
    (unet,) = shared_onnx_cache.glob("*/unet/model.onnx")
    folder = unet.parent.parent
    unet_ops = _ops(unet)
    assert unet_ops.get("com.microsoft:MultiHeadAttention", 0) >= 2  # self- and cross-attention
    assert "ai.onnx:Softmax" not in unet_ops
    assert "ai.onnx:Softmax" not in _ops(folder / "vae_decoder" / "model.onnx")  # fused where it has attention
    assert "com.microsoft:MultiHeadAttention" not in _ops(folder / "text_encoder" / "model.onnx")  # causal
