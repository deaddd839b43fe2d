"""A Stable Diffusion model on the ONNX Runtime backend: export on first use (inside the job, with
progress), cached under ``cache/onnx`` per model + LoRA set; later jobs reuse the export."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from studio.plugins import (
    BackgroundHash,
    BadInput,
    GenerationRequest,
    ImageOutput,
    JobResult,
    LoadContext,
    LoraRef,
    ModelEntry,
    ModelError,
    model_hash,
)
from studio.plugins.onnx import ExportCache, ModelExports, cache_key, folder_identity


def load_onnx(context: LoadContext) -> OnnxStableDiffusionModel:
    """The ONNX twin of :func:`studio_diffusers.loader.load`: nothing is exported yet (that needs the
    request's LoRAs); providers are chosen now."""
    model = OnnxStableDiffusionModel(context.model, ModelExports.for_context(context), context.options)
    model.hash = BackgroundHash(context.model.path)
    return model


class OnnxStableDiffusionModel:
    def __init__(self, entry: ModelEntry, exports: ModelExports, options: dict[str, Any]) -> None:
        self.entry = entry
        self.name = entry.name
        self.exports = exports
        self.options = options
        self.hash: BackgroundHash | None = None
        self._identity = ""
        self._active: tuple[str, Any] | None = None  # (cache key, OnnxStableDiffusion)
        self.memory_bytes = 0

    @property
    def cache(self) -> ExportCache:
        return self.exports.cache

    @property
    def model_hash(self) -> str:
        return self.hash.value if self.hash is not None else ""

    def unload(self) -> None:
        self._active = None
        gc.collect()

    # --------------------------------------------------------------------------------- the export

    def export_key(self, loras: tuple[LoraRef, ...]) -> str:
        if not self._identity:
            path = Path(self.entry.path)
            self._identity = model_hash(path) if path.is_file() else folder_identity(path)
        import diffusers
        import torch

        from studio_diffusers.onnx_export import EXPORT_VERSION

        lora_set = []
        for lora in loras:
            lora_path = Path(lora.path).expanduser()
            if not lora_path.is_file():
                raise ModelError(f"The LoRA file '{lora.path}' does not exist.")
            lora_set.append([model_hash(lora_path), float(lora.weight)])
        return cache_key({
            "model": self._identity, "kind": self.entry.kind, "loras": lora_set, "dtype": "float32",
            "export": EXPORT_VERSION, "torch": torch.__version__.split("+")[0],
            "diffusers": diffusers.__version__, "single_file_config": self.options.get("single_file_config"),
        })

    def pipeline(self, loras: tuple[LoraRef, ...], report):
        """The ONNX pipeline for this LoRA set: the cached export (checked), else a fresh one."""
        from studio_diffusers.onnx_pipeline import OnnxStableDiffusion

        key = self.export_key(loras)

        def write(pipe, folder: Path) -> dict[str, Any]:
            from studio_diffusers.onnx_export import export_pipeline

            meta = export_pipeline(pipe, folder, report, self.name)
            return {**meta, "model": self.entry.path, "loras": [[lora.path, lora.weight] for lora in loras]}

        folder = self.exports.folder(key, report, release=self.unload, load=lambda: self._torch_pipeline(loras),
                                     write=write)
        if self._active is None or self._active[0] != key:
            self._active = (key, OnnxStableDiffusion(folder, self.exports.choice))
        return self._active[1]

    def _torch_pipeline(self, loras: tuple[LoraRef, ...]):
        """The torch pipeline to export, float32, its LoRAs fused."""
        import torch

        from studio_diffusers.loader import load_pipeline
        from studio_diffusers.loras import LoraStack

        pipe = load_pipeline(self.entry, torch.float32, self.options)
        if loras:
            stack = LoraStack(pipe)
            stack.apply(loras)
            pipe.fuse_lora(adapter_names=list(stack.loaded.values()), lora_scale=1.0)
            pipe.unload_lora_weights()
        return pipe

    # ------------------------------------------------------------------------------------------ run

    def run(self, request: GenerationRequest, report, cancelled) -> JobResult:
        from studio_diffusers.inpaint import prepare_mask
        from studio_diffusers.loader import _open_image, _public_config
        from studio_diffusers.prompt_weights import refuse_on_onnx

        refuse_on_onnx(request)  # weighting syntax: refused before an export
        if request.controls or request.refiner:  # before an export
            raise BadInput(f"{'ControlNet' if request.controls else 'The SDXL refiner'} is not supported on the "
                           "ONNX Runtime backend yet.", "Use the torch backend (--backend torch) for this request.")
        size = (request.width, request.height)
        init = _open_image(request.init_image, "init image").resize(size) if request.init_image else None
        mask = prepare_mask(_open_image(request.mask, "mask"), size) if request.mask else None
        pipeline = self.pipeline(request.loras, report)
        pipeline.check_size(request)
        refuse_on_onnx(request, pipeline.tokenizer)  # a prompt longer than one chunk
        notices = []
        if provider_notice := self.exports.provider_notice():
            report(0, request.steps, notice=provider_notice)
            notices.append(provider_notice)
        images, scheduler = pipeline.generate(request, report, cancelled, init=init, mask=mask)
        about = {"model_name": self.name, "model_hash": self.model_hash, "backend": "onnx",
                 "provider": pipeline.provider, "scheduler_config": _public_config(scheduler.config)}
        seed = request.seed
        outputs = tuple(ImageOutput(image, request.replace(seed=seed + i), about) for i, image in enumerate(images))
        return JobResult(images=outputs, data={"seed": seed, "notice": " ".join(notices),
                                               "provider": pipeline.provider,
                                               "export_seconds": self.exports.last_export_seconds})
