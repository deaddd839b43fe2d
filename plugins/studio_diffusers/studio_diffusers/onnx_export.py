"""Export a Stable Diffusion pipeline to ONNX (the dynamo exporter): text encoder(s), UNet, VAE encoder
and decoder, with the request's LoRAs fused first, plus what the ONNX pipeline needs besides the
graphs (tokenizers, scheduler config, VAE constants, the preview map) — so a cached export runs
without loading the torch model at all.

SD 1.x/2.x export one text encoder (its last hidden states) and a UNet taking the text states;
SDXL exports both encoders as SDXL reads them (penultimate hidden states; the second's pooled
projection too) and a UNet that also takes the pooled text and the six size/crop "time ids"."""

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
from studio_diffusers.onnx_attention import translation_table

log = logging.getLogger("studio.onnx")

EXPORT_VERSION = 2  # bump when what is exported (inputs, outputs, files) changes (2: fused attention)
GRAPHS = ("text_encoder", "text_encoder_2", "unet", "vae_encoder", "vae_decoder")  # text_encoder_2: SDXL only
CONFIG = "pipeline.json"


class _TextEncoder(torch.nn.Module):
    def __init__(self, encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids):
        return self.encoder(input_ids)[0]


class _Unet(torch.nn.Module):
    def __init__(self, unet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]


class _SdxlTextEncoder(torch.nn.Module):
    """A CLIP text encoder as SDXL reads it: the penultimate hidden states, and for the second
    encoder (with projection) its pooled ``text_embeds`` first."""

    def __init__(self, encoder, pooled: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooled = pooled

    def forward(self, input_ids):
        out = self.encoder(input_ids, output_hidden_states=True)
        if self.pooled:
            return out[0], out.hidden_states[-2]
        return out.hidden_states[-2]


class _SdxlUnet(torch.nn.Module):
    def __init__(self, unet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False,
                         added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids})[0]


def is_sdxl(pipe) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


class _VaeEncoder(torch.nn.Module):
    """Pixels → the latent distribution's parameters (mean and log-variance, concatenated): the
    sampling stays in torch, with the request's generators, as diffusers does it."""

    def __init__(self, vae) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encode(sample).latent_dist.parameters


class _VaeDecoder(torch.nn.Module):
    def __init__(self, vae) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


def supported(pipe) -> str:
    """Why ``pipe`` cannot be exported ("" when it can)."""
    unet = pipe.unet
    added = getattr(unet.config, "addition_embed_type", None)
    if is_sdxl(pipe):
        if getattr(pipe.config, "requires_aesthetics_score", False):
            return "SDXL refiners (aesthetic-score conditioning) are not supported on the ONNX backend yet"
        if added != "text_time":
            return "this SDXL UNet does not take SDXL's text-and-size conditioning"
    elif added:
        return f"UNets with extra '{added}' conditioning are not supported on the ONNX backend yet"
    if getattr(unet.config, "time_cond_proj_dim", None):
        return "UNets with guidance-embedded timesteps (LCM) are not supported on the ONNX backend yet"
    if getattr(pipe, "text_encoder", None) is None or getattr(pipe, "tokenizer", None) is None:
        return "the model has no text encoder"
    return ""


def export_pipeline(pipe, folder: Path, report, name: str, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """Write the four graphs and ``pipeline.json`` into ``folder``; reports ``Exporting …`` progress.
    ``dtype`` fp16 is for the CUDA provider only (the CPU provider runs fp32)."""
    if why := supported(pipe):
        raise ModelError(f"'{name}' cannot run on the ONNX backend: {why}.", "Use the torch backend for it.")
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export", "torch._dynamo"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    pipe.to("cpu", dtype)
    sdxl = is_sdxl(pipe)
    for module in (pipe.unet, pipe.vae, pipe.text_encoder, getattr(pipe, "text_encoder_2", None)):
        if module is not None:
            module.eval()
    latent_channels = pipe.unet.config.in_channels
    vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    text_length = int(pipe.tokenizer.model_max_length)
    hidden = pipe.unet.config.cross_attention_dim
    if not isinstance(hidden, int):
        hidden = pipe.text_encoder.config.hidden_size
    unet_multiple = 2 ** (len(pipe.unet.config.down_block_types) - 1)  # latent sides the UNet takes
    batch = torch.export.Dim("batch", min=1, max=64)
    height = torch.export.Dim("height", min=1, max=1024)
    width = torch.export.Dim("width", min=1, max=1024)
    ids = torch.zeros(2, text_length, dtype=torch.int64)
    latent_side = 2 * unet_multiple
    latents = torch.randn(2, latent_channels, latent_side, latent_side, dtype=dtype)
    vae_latents = torch.randn(2, pipe.vae.config.latent_channels, latent_side, latent_side, dtype=dtype)
    pixels = torch.rand(2, 3, latent_side * vae_scale, latent_side * vae_scale, dtype=dtype) * 2 - 1
    unet_shapes = {"sample": {0: batch, 2: unet_multiple * height, 3: unet_multiple * width},
                   "timestep": {0: batch}, "encoder_hidden_states": {0: batch}}
    unet_args = (latents, torch.tensor([999.0, 999.0]), torch.randn(2, text_length, hidden, dtype=dtype))
    if sdxl:
        pooled = pipe.text_encoder_2.config.projection_dim
        jobs = [
            ("text_encoder", "Exporting the first text encoder…", _SdxlTextEncoder(pipe.text_encoder, False),
             (ids,), {"input_ids": {0: batch}}, ["input_ids"], ["hidden_states"]),
            ("text_encoder_2", "Exporting the second text encoder…", _SdxlTextEncoder(pipe.text_encoder_2, True),
             (ids,), {"input_ids": {0: batch}}, ["input_ids"], ["text_embeds", "hidden_states"]),
            ("unet", "Exporting the UNet…", _SdxlUnet(pipe.unet),
             (*unet_args, torch.randn(2, pooled, dtype=dtype), torch.full((2, 6), 64.0, dtype=dtype)),
             unet_shapes | {"text_embeds": {0: batch}, "time_ids": {0: batch}},
             ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"], ["out_sample"]),
        ]
    else:
        jobs = [
            ("text_encoder", "Exporting the text encoder…", _TextEncoder(pipe.text_encoder), (ids,),
             {"input_ids": {0: batch}}, ["input_ids"], ["last_hidden_state"]),
            ("unet", "Exporting the UNet…", _Unet(pipe.unet), unet_args, unet_shapes,
             ["sample", "timestep", "encoder_hidden_states"], ["out_sample"]),
        ]
    jobs += [
        ("vae_encoder", "Exporting the VAE encoder…", _VaeEncoder(pipe.vae), (pixels,),
         {"sample": {0: batch, 2: vae_scale * height, 3: vae_scale * width}}, ["sample"], ["latent_parameters"]),
        ("vae_decoder", "Exporting the VAE decoder…", _VaeDecoder(pipe.vae), (vae_latents,),
         {"latent_sample": {0: batch, 2: height, 3: width}}, ["latent_sample"], ["sample"]),
    ]
    total = len(jobs) + 1
    for index, (graph, message, module, args, shapes, inputs, outputs) in enumerate(jobs):
        report(index, total, message=message)
        _export(module, args, shapes, inputs, outputs, folder / graph / "model.onnx", name, graph)
    report(len(jobs), total, message="Saving the tokenizer and settings…")
    pipe.tokenizer.save_pretrained(folder / "tokenizer")
    if sdxl:
        pipe.tokenizer_2.save_pretrained(folder / "tokenizer_2")
    config = pipeline_config(pipe, dtype, vae_scale, text_length)
    config["unet"]["side_multiple"] = unet_multiple * vae_scale  # image sides must be multiples of this
    (folder / CONFIG).write_text(json.dumps(config, indent=1), encoding="utf-8")
    report(total, total, message="Export done")
    return {"name": name, "dtype": str(dtype).removeprefix("torch."), "opset": OPSET}


def pipeline_config(pipe, dtype: torch.dtype, vae_scale: int, text_length: int) -> dict[str, Any]:
    """Everything the ONNX pipeline reads from the torch one, as JSON."""
    from studio_diffusers.previews import LatentPreview

    preview = LatentPreview.fit(pipe.vae, torch.device("cpu"), dtype)
    return {
        "export_version": EXPORT_VERSION,
        "dtype": str(dtype).removeprefix("torch."),
        "scheduler": {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")}
        | {"_class_name": pipe.scheduler.config.get("_class_name", type(pipe.scheduler).__name__)},
        "unet": {"in_channels": pipe.unet.config.in_channels, "out_channels": pipe.unet.config.out_channels,
                 "sample_size": pipe.unet.config.sample_size},
        "vae": {"scaling_factor": pipe.vae.config.scaling_factor,
                "shift_factor": getattr(pipe.vae.config, "shift_factor", None),
                "latent_channels": pipe.vae.config.latent_channels, "scale_factor": vae_scale},
        "text": {"max_length": text_length,
                 "use_attention_mask": bool(getattr(pipe.text_encoder.config, "use_attention_mask", False))},
        "preview": {"weights": preview.weights.tolist(), "bias": preview.bias.tolist()},
        "sdxl": {
            "force_zeros_for_empty_prompt": bool(pipe.config.get("force_zeros_for_empty_prompt", True)),
            "max_length_2": int(pipe.tokenizer_2.model_max_length),
        } if is_sdxl(pipe) else None,
    }


def _export(module, args, shapes, inputs, outputs, path: Path, name: str, graph: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    chatter = io.StringIO()
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, args, str(path), dynamo=True, opset_version=OPSET, dynamic_shapes=shapes,
                input_names=inputs, output_names=outputs, external_data=True, optimize=True,
                custom_translation_table=translation_table(),  # attention as ORT's fused op
            )
    except Exception as exc:
        log.debug("ONNX export of %s failed; exporter output: %s", graph, chatter.getvalue())
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"'{name}' could not be exported to ONNX: its {graph.replace('_', ' ')} failed ({first[:300]}).",
            "Use the torch backend for this model.",
        ) from None
    log.debug("Exported %s: %s", graph, chatter.getvalue()[-2000:])
