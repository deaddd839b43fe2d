"""Recipe "lora": LoRA fine-tuning of a Stable Diffusion model on a designer's own images.

The user's model (a diffusers folder or a single-file checkpoint, SD 1.x, 2.x or SDXL) is loaded the
way generation loads it; peft adapters go on the UNet's attention, projection and feed-forward
layers (and, if asked, the text encoders' attention). The images are encoded by the frozen VAE once,
the captions by the frozen text encoder once, so each step runs the UNet only. The studio's training
engine (accelerate) runs the loop: checkpoints with the full trainable state every N steps, resume at
the same step, metrics and samples as job events, TensorBoard if asked, several GPUs under
``accelerate launch``.

The result is one ``.safetensors`` in the diffusers/peft LoRA format that ``pipe.load_lora_weights``
reads (or kohya's key format on request), with the run's metadata in its header (``ss_*`` keys).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from studio.plugins import (
    BadInput,
    ImageOutput,
    JobResult,
    ModelEntry,
    ModelError,
    TrainRequest,
    atomic_write_bytes,
    collector_paused,
)
from studio.plugins.training import TrainConfig, Trainer, TrainingTask, checkpoint_interval, read_metrics
from studio_diffusers.lora_data import CaptionedImages, scan_folder, square

#: The UNet layers that get adapters, by ``--unet-layers``: the attention projections (diffusers'
#: train_text_to_image_lora.py), the whole transformer blocks, or those and the ResNet convolutions too
#: (kohya's LoCon): more layers learn more and cost more per step.
UNET_LAYERS = {
    "attention": ["to_q", "to_k", "to_v", "to_out.0"],
    "transformer": ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"],
    "all": ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2"],
}
UNET_TARGETS = UNET_LAYERS["all"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
SAMPLE_SEED = 1234
PRIOR_BATCH_PIXELS = 16 * 64 * 64  # prior pictures drawn per pipeline call: 16 at 64 px, one at 512 px


class LoraTask(TrainingTask):
    """What the engine trains: LoRA adapters on a frozen pipeline, over cached latents."""

    name = "lora"
    checkpoint_trainable_only = True  # the adapters, a few MB; the frozen model is loaded again on resume

    def __init__(self, pipe, data: CaptionedImages, *, resolution: int, rank: int, alpha: float,
                 train_text_encoder: bool, sample_prompts: list[str], sample_steps: int, sample_guidance: float,
                 gradient_checkpointing: bool = False, prior: CaptionedImages | None = None,
                 snr_gamma: float = 5.0, text_encoder_lr_scale: float = 1.0, repeats: int = 1,
                 unet_layers: str = "all") -> None:
        self.pipe, self.data, self.prior = pipe, data, prior
        self.unet_layers = unet_layers
        self.repeats = max(1, repeats)
        self.resolution, self.rank, self.alpha = resolution, rank, alpha
        self.train_text_encoder = train_text_encoder
        self.snr_gamma = snr_gamma
        self.text_encoder_lr_scale = text_encoder_lr_scale
        self.sample_prompts, self.sample_steps, self.sample_guidance = sample_prompts, sample_steps, sample_guidance
        self.gradient_checkpointing = gradient_checkpointing
        self.sdxl = hasattr(pipe, "text_encoder_2") and pipe.text_encoder_2 is not None
        from diffusers import DDPMScheduler

        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.prediction = self.noise_scheduler.config.prediction_type
        self.encoders = [e for e in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if e is not None]

    # -- models ---------------------------------------------------------------------------
    def build_models(self) -> dict[str, torch.nn.Module]:
        with collector_paused():
            from peft import LoraConfig

        pipe = self.pipe
        for module in (pipe.unet, pipe.vae, *self.encoders):
            module.requires_grad_(False)
        pipe.unet.add_adapter(LoraConfig(r=self.rank, lora_alpha=self.alpha, init_lora_weights="gaussian",
                                         target_modules=UNET_LAYERS[self.unet_layers]))
        if self.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
        models = {"unet": pipe.unet}
        if self.train_text_encoder:
            for index, encoder in enumerate(self.encoders):
                encoder.add_adapter(LoraConfig(r=self.rank, lora_alpha=self.alpha, init_lora_weights="gaussian",
                                               target_modules=TEXT_TARGETS))
                models["text_encoder" if index == 0 else "text_encoder_2"] = encoder
        return models

    def parameters(self, models: dict[str, torch.nn.Module]) -> list[Any]:
        """The UNet's adapters at the run's learning rate, the text encoders' at theirs (one group when
        they are the same, as checkpoints of earlier runs hold)."""
        def trainable(names: list[str]) -> list[torch.nn.Parameter]:
            return [p for name in names for p in models[name].parameters() if p.requires_grad]

        encoders = [name for name in models if name.startswith("text_encoder")]
        if not encoders or self.text_encoder_lr_scale == 1.0:
            return trainable(list(models))
        return [{"params": trainable(["unet"])},
                {"params": trainable(encoders), "lr_scale": self.text_encoder_lr_scale}]

    def trainable_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Checkpoints keep the adapters only (the base weights never change)."""
        return {k: v for k, v in model.state_dict().items() if "lora_" in k}

    # -- data -----------------------------------------------------------------------------
    def dataset(self):
        pipe = self.pipe
        latents = []
        items_and_prior = [*self.data.items, *(self.prior.items if self.prior else ())]
        with torch.no_grad():
            for path, _caption in items_and_prior:
                pixels = _to_tensor(square(path, self.resolution)).to(pipe.vae.device, pipe.vae.dtype)
                latent = pipe.vae.encode(pixels[None]).latent_dist.mean[0]
                shift = getattr(pipe.vae.config, "shift_factor", None) or 0.0
                latents.append(((latent - shift) * pipe.vae.config.scaling_factor).float().cpu())
        captions = [caption for _path, caption in items_and_prior]
        items = [{"latents": z, "index": i} for i, z in enumerate(latents)]
        mine = len(self.data.items)  # the designer's images come first; each counts `repeats` times an epoch
        items = items[:mine] * self.repeats + items[mine:]
        self._captions = captions
        if not self.train_text_encoder:  # frozen encoders: each caption is encoded once, here
            with torch.no_grad():
                self._states = [self._encode([c]) for c in captions]
        return items

    def collate(self, items: list[Any]) -> Any:
        return {"latents": torch.stack([i["latents"] for i in items]),
                "index": torch.tensor([i["index"] for i in items])}

    def _encode(self, captions: list[str]) -> dict[str, torch.Tensor]:
        """Prompt embeddings (and SDXL's pooled embedding) for ``captions``."""
        pipe = self.pipe
        tokenizers = [t for t in (pipe.tokenizer, getattr(pipe, "tokenizer_2", None)) if t is not None]
        hidden, pooled = [], None
        for tokenizer, encoder in zip(tokenizers, self.encoders, strict=False):
            ids = tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length,
                            truncation=True, return_tensors="pt").input_ids.to(encoder.device)
            if self.sdxl:
                out = encoder(ids, output_hidden_states=True)
                hidden.append(out.hidden_states[-2])
                pooled = out[0]  # the last encoder's pooled projection
            else:
                hidden.append(encoder(ids)[0])
        states = {"encoder_hidden_states": torch.cat(hidden, dim=-1)}
        if self.sdxl:
            states["pooled"] = pooled
        return states

    # -- loss -----------------------------------------------------------------------------
    def loss(self, models, batch, step):
        latents = batch["latents"]
        indices = batch["index"].tolist()
        if self.train_text_encoder:
            states = self._encode([self._captions[i] for i in indices])
        else:
            states = {k: torch.cat([self._states[i][k] for i in indices]) for k in self._states[indices[0]]}
        noise = torch.randn_like(latents)
        count = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, count, (latents.shape[0],), device=latents.device).long()
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        if self.prediction == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        kwargs: dict[str, Any] = {}
        if self.sdxl:
            size = self.resolution
            time_ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=latents.dtype, device=latents.device)
            kwargs["added_cond_kwargs"] = {"text_embeds": states["pooled"],
                                           "time_ids": time_ids.repeat(latents.shape[0], 1)}
        prediction = models["unet"](noisy, timesteps, states["encoder_hidden_states"].to(latents.dtype),
                                    **kwargs).sample
        if not self.snr_gamma:
            return torch.nn.functional.mse_loss(prediction.float(), target.float())
        # Min-SNR weighting (Hang et al. 2023, as diffusers' training examples do it): no timestep's
        # easy, low-noise loss dominates; the weight for v-prediction is min(snr, γ) / (snr + 1).
        alphas = self.noise_scheduler.alphas_cumprod.to(latents.device)[timesteps]
        snr = alphas / (1 - alphas).clamp(min=1e-8)
        weight = torch.minimum(snr, torch.full_like(snr, self.snr_gamma))
        weight = weight / (snr + 1) if self.prediction == "v_prediction" else weight / snr.clamp(min=1e-8)
        per_item = torch.nn.functional.mse_loss(prediction.float(), target.float(), reduction="none")
        return (per_item.mean(dim=list(range(1, per_item.ndim))) * weight).mean()

    # -- samples --------------------------------------------------------------------------
    def sample(self, models, step):
        """A row of pictures from the sample prompts, one fixed seed each, with the adapters as now."""
        if not self.sample_prompts:
            return None
        import numpy as np
        from PIL import Image

        pipe = self.pipe
        was_training = [m.training for m in models.values()]
        for module in models.values():
            module.eval()
        try:
            generators = [torch.Generator().manual_seed(SAMPLE_SEED + i) for i in range(len(self.sample_prompts))]
            with torch.no_grad():
                images = pipe(self.sample_prompts, num_inference_steps=self.sample_steps,
                              guidance_scale=self.sample_guidance, generator=generators,
                              height=self.resolution, width=self.resolution, output_type="np").images
        finally:
            for module, mode in zip(models.values(), was_training, strict=True):
                module.train(mode)
        row = (np.concatenate(list(images), axis=1) * 255).round().astype(np.uint8)
        return Image.fromarray(row)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "images": len(self.data), "prior_images": len(self.prior or ()),
                "repeats": self.repeats, "unet_layers": self.unet_layers, "snr_gamma": self.snr_gamma,
                "resolution": self.resolution, "rank": self.rank,
                "alpha": self.alpha, "train_text_encoder": self.train_text_encoder,
                "captions": [c for _p, c in self.data.items]}


def _to_tensor(image) -> torch.Tensor:
    import numpy as np

    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


# ------------------------------------------------------------------------------------------ run
def train_lora(request: TrainRequest, report, cancelled, *, model: ModelEntry, load_pipeline,
               load_options: dict[str, Any] | None = None, model_defaults: dict[str, Any] | None = None) -> JobResult:
    """Train a LoRA for ``model`` as ``request`` asks; write it to ``options["out"]``."""
    options = dict(request.options)
    out = Path(str(options.get("out") or "")).expanduser()
    if not out.name or out.suffix != ".safetensors":
        raise BadInput("Give the LoRA file to write, ending in .safetensors (--out).")
    _check_writable(out.parent)
    onnx = model.kind == "diffusers" and any(Path(model.path).glob("*/*.onnx"))  # an ONNX export: no weights to train
    if model.kind not in ("diffusers", "sd-checkpoint") or onnx:
        raise ModelError(f"'{model.name}' ({model.kind}) cannot be fine-tuned.",
                         "Train on a diffusers folder or a .safetensors checkpoint (not a pickle or an export).")
    data = scan_folder(request.data or options.get("data") or "", options.get("instance_prompt", ""))
    for line in data.skipped:
        report(0, request.steps, notice=f"Skipped {line}")
    defaults = dict(model_defaults or {})
    resolution = int(options.get("resolution") or defaults.get("width") or 512)
    if resolution % 8 or not 8 <= resolution <= 4096:
        raise BadInput(f"Resolution {resolution} is not usable.", "Use a multiple of 8 between 8 and 4096.")
    rank = int(options.get("rank") or 16)
    alpha = float(options.get("alpha") or rank)
    if rank < 1 or alpha <= 0:
        raise BadInput(f"LoRA rank must be at least 1 and alpha positive (rank {rank}, alpha {alpha}).")
    if options.get("repeats") is not None and int(options["repeats"]) < 1:
        raise BadInput(f"Repeats must be at least 1 (got {options['repeats']}).")
    unet_layers = str(options.get("unet_layers") or "all")
    if unet_layers not in UNET_LAYERS:
        raise BadInput(f"Unknown UNet layer set '{unet_layers}'.", f"Choose {', '.join(UNET_LAYERS)}.")
    fmt = str(options.get("format") or "diffusers")
    if fmt not in ("diffusers", "kohya"):
        raise BadInput(f"Unknown LoRA format '{fmt}'.", "Choose diffusers or kohya.")
    report(0, request.steps, message=f"Loading {model.name}…")
    mixed = str(options.get("mixed_precision") or "no")
    pipe = load_pipeline(model, torch.float32, load_options or {})
    pipe.set_progress_bar_config(disable=True)
    sample_prompts = list(options.get("sample_prompts") or []) or [data.items[0][1]]
    captions = [caption for _path, caption in data.items]
    new = new_words(pipe.tokenizer, captions)
    train_text = options.get("train_text_encoder")
    if train_text is None:  # auto: a word the tokenizer does not know must be taught to the encoder
        train_text = bool(new)
        if new:
            report(0, request.steps, notice=f"Training the text encoder too: new words {', '.join(new[:5])}.")
    prior_prompts = options.get("prior_prompts")
    count = int(options.get("prior_images") or 0)  # 0: one prior picture per prompt
    if prior_prompts is None:  # auto: what the model draws for the captions with the new words swapped stays
        prior_prompts = prior_prompts_for(captions, new, pipe.tokenizer, request.seed,
                                          list(options.get("prior_words") or ()), count) if new else []
    prior = None
    if prior_prompts:
        count = count or len(prior_prompts)
        from accelerate import PartialState

        with PartialState().main_process_first():  # one process draws them; the others read them
            prior = prior_images(pipe, list(prior_prompts), count, Path(request.run_dir) / "prior", resolution,
                                 int(defaults.get("steps") or 20), float(defaults.get("guidance") or 7.0),
                                 request.seed, report, request.steps)
    task = LoraTask(
        pipe, data, resolution=resolution, rank=rank, alpha=alpha,
        train_text_encoder=bool(train_text), sample_prompts=sample_prompts,
        sample_steps=int(defaults.get("steps") or 20), sample_guidance=float(defaults.get("guidance") or 7.0),
        gradient_checkpointing=bool(options.get("gradient_checkpointing")), prior=prior,
        snr_gamma=float(options.get("snr_gamma", 5.0) or 0.0),
        text_encoder_lr_scale=_text_encoder_lr(request) / request.learning_rate,
        repeats=_repeats(options, len(data), len(prior or ())), unet_layers=unet_layers,
    )
    config = TrainConfig(
        run_dir=request.run_dir, max_steps=request.steps, batch_size=min(request.batch_size, len(data)),
        seed=request.seed, lr=request.learning_rate, weight_decay=1e-2,
        lr_schedule=str(options.get("lr_schedule") or "constant"), warmup_steps=int(options.get("warmup_steps") or 0),
        grad_clip=1.0, keep_checkpoints=2,
        checkpoint_every=int(options.get("checkpoint_every") or checkpoint_interval(request.steps, 100)),
        sample_every=int(options.get("sample_every") or 0), log_every=int(options.get("log_every") or 10),
        mixed_precision=mixed, resume=request.resume, tensorboard=bool(options.get("tensorboard")),
        gradient_accumulation=int(options.get("gradient_accumulation") or 1),
    )
    started = time.time()
    trainer = Trainer(task, config, report=report, cancelled=cancelled)
    result = trainer.run()
    if result.status != "done":
        return JobResult(data={"status": result.status, "step": result.step, "run_dir": str(request.run_dir)})
    if not trainer.accelerator.is_main_process:
        return JobResult(data={"status": "done", "step": result.step})
    models = trainer.unwrapped()
    metadata = _metadata(request, model, data, resolution, rank, alpha, started)
    save_lora(models, out, metadata, fmt)
    report(result.step, request.steps, notice=f"Saved the LoRA to {out}.")
    outputs = ()
    final_sample = task.sample(models, result.step)
    if final_sample is not None:
        outputs = (ImageOutput(final_sample, _sample_request(model, sample_prompts[0], defaults, resolution, out),
                               {"model_name": model.name, "lora_training": str(request.run_dir)}),)
    curve = [{k: r[k] for k in ("step", "loss") if k in r} for r in read_metrics(request.run_dir)]
    return JobResult(images=outputs, data={"status": "done", "step": result.step, "lora": str(out),
                                           "format": fmt, "images": len(data), "skipped": data.skipped,
                                           "final_loss": curve[-1]["loss"] if curve else None,
                                           "seconds": round(time.time() - started, 1)})


def _repeats(options: dict[str, Any], images: int, prior: int) -> int:
    """How many times each of the designer's images counts per epoch (kohya's "repeats"): ``--repeats``,
    else as many times as the prior pictures outnumber them, so a batch holds about as many of the
    designer's images as of the base model's (DreamBooth's one-to-one)."""
    if options.get("repeats") is not None:
        return int(options["repeats"])
    return max(1, round(prior / images)) if images and prior else 1


def _text_encoder_lr(request: TrainRequest) -> float:
    """The text encoders' learning rate: ``--text-encoder-lr``, else the run's."""
    return float(request.options.get("text_encoder_lr") or request.learning_rate)


def prior_prompts_for(captions: list[str], new: list[str], tokenizer=None, seed: int = 0,
                      words: list[str] | None = None, count: int = 0) -> list[str]:
    """What the base model should keep drawing: ``count`` prompts (default one per caption), each a caption
    with its new word swapped for one of ``words`` (DreamBooth's class words: for a new shape, the other
    shapes), taken in turn so each is drawn about as often; without ``words``, words the tokenizer knows
    whole but the captions never use; without either, the captions without their new words."""
    import random

    used = {w.lower().strip(",.") for caption in captions for w in caption.split()}
    known = list(words or ()) or sorted(
        w[:-4] for w in (tokenizer.get_vocab() if tokenizer is not None else ())
        if w.endswith("</w>") and w[:-4].isalpha() and len(w[:-4]) >= 3 and w[:-4].lower() not in used)
    if not known:  # nothing to swap in: keep what the captions draw without the new words
        return [without(caption, new) for caption in captions]
    rng = random.Random(seed)
    rng.shuffle(known)
    drop = {n.lower() for n in new}
    prompts = []
    for i in range(count or len(captions)):  # caption i, each pass over the captions a different word
        word = known[(i + i // len(captions)) % len(known)]
        prompts.append(" ".join(word if w.lower() in drop else w for w in captions[i % len(captions)].split()))
    return prompts


def without(caption: str, words: list[str]) -> str:
    """``caption`` with ``words`` left out (the prompt of what the base model keeps drawing)."""
    drop = {w.lower() for w in words}
    return " ".join(w for w in caption.replace(",", " , ").split() if w.lower() not in drop).replace(" ,", ",")


def prior_images(pipe, prompts: list[str], count: int, folder: Path, size: int, steps: int, guidance: float,
                 seed: int, report, total: int) -> CaptionedImages:
    """The base model's own pictures for ``prompts`` (prior preservation: training on them beside the
    designer's images keeps what the model did before). Made once per run folder and reused on resume."""
    folder.mkdir(parents=True, exist_ok=True)
    found = CaptionedImages(folder)
    paths = [(folder / f"prior-{i:04d}.png", folder / f"prior-{i:04d}.txt") for i in range(count)]
    missing = [i for i, (image, caption) in enumerate(paths) if not (image.is_file() and caption.is_file())]
    if missing:
        report(0, total, message="Drawing the base model's own pictures (prior preservation)…")
    batch = max(1, PRIOR_BATCH_PIXELS // (size * size))  # several at once: faster, and memory stays bounded
    for start in range(0, len(missing), batch):
        chunk = missing[start:start + batch]
        chunk_prompts = [prompts[i % len(prompts)] for i in chunk]
        generators = [torch.Generator().manual_seed(seed * 7919 + i) for i in chunk]  # each picture its seed
        with torch.no_grad():
            images = pipe(chunk_prompts, num_inference_steps=steps, guidance_scale=guidance, generator=generators,
                          height=size, width=size).images
        for i, prompt, image in zip(chunk, chunk_prompts, images, strict=True):
            image.save(paths[i][0])
            paths[i][1].write_text(prompt + "\n", encoding="utf-8")
    for image_path, caption_path in paths:
        found.items.append((image_path, caption_path.read_text(encoding="utf-8").strip()))
    made = len(missing)
    if made:
        report(0, total, notice=f"Prior preservation: {count} pictures of the base model for "
                                f"{len(prompts)} prompt(s) without the new words.")
    return found


def new_words(tokenizer, captions: list[str]) -> list[str]:
    """Caption words the tokenizer splits into pieces (it has no token of their own)."""
    words = sorted({w for caption in captions for w in caption.lower().replace(",", " ").split()})
    return [w for w in words if len(tokenizer.tokenize(w)) > 1]


def _sample_request(model: ModelEntry, prompt: str, defaults: dict[str, Any], size: int, lora: Path):
    from studio.plugins import GenerationRequest, LoraRef

    return GenerationRequest(model=model.path, prompt=prompt, seed=SAMPLE_SEED, width=size, height=size,
                             steps=int(defaults.get("steps") or 20), guidance=float(defaults.get("guidance") or 7.0),
                             loras=(LoraRef(str(lora), 1.0),))


def _check_writable(folder: Path) -> None:
    import os

    if not folder.is_dir():
        raise BadInput(f"The output folder '{folder}' does not exist.")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"The output folder '{folder}' is read-only.", "Choose a folder you can write to.")


def _metadata(request: TrainRequest, model: ModelEntry, data: CaptionedImages, resolution: int, rank: int,
              alpha: float, started: float) -> dict[str, str]:
    """The run's facts in the file header, in kohya's ``ss_*`` keys (what LoRA tools read) and ours."""
    from studio.plugins import model_hash

    try:
        base_hash = model_hash(model.path)
        unet = sorted(Path(model.path).glob("unet/*.safetensors")) if not base_hash else []
        base_hash = base_hash or (model_hash(unet[0]) if unet else "")  # a folder: its UNet weights' hash
    except Exception:  # the hash is informative; an unreadable file was caught at load
        base_hash = ""
    variant = model.details.get("variant") or ("sdxl" if "XL" in str(model.details.get("pipeline", "")) else "sd1")
    facts = {
        "ss_network_module": "networks.lora", "ss_network_dim": str(rank), "ss_network_alpha": f"{alpha:g}",
        "ss_sd_model_name": model.name, "ss_new_sd_model_hash": base_hash,
        "ss_base_model_version": {"sd1": "sd_v1", "sd2": "sd_v2", "sdxl": "sdxl_base_v1-0"}.get(variant, variant),
        "ss_num_train_images": str(len(data)), "ss_max_train_steps": str(request.steps),
        "ss_learning_rate": f"{request.learning_rate:g}", "ss_train_batch_size": str(request.batch_size),
        "ss_unet_lr": f"{request.learning_rate:g}",
        "ss_text_encoder_lr": f"{_text_encoder_lr(request):g}",
        "ss_resolution": f"({resolution}, {resolution})", "ss_seed": str(request.seed),
        "ss_training_started_at": f"{started:.0f}", "ss_training_finished_at": f"{time.time():.0f}",
        "ss_tag_frequency": json.dumps({"captions": _word_counts(c for _p, c in data.items)}),
    }
    facts["studio"] = json.dumps({"base_model": model.path, "base_model_hash": base_hash, "recipe": "lora",
                                  "request": request.to_dict()}, sort_keys=True)
    return facts


def _word_counts(captions) -> dict[str, int]:
    counts: dict[str, int] = {}
    for caption in captions:
        for word in caption.replace(",", " ").split():
            counts[word] = counts.get(word, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:200])


def save_lora(models: dict[str, torch.nn.Module], out: Path, metadata: dict[str, str], fmt: str = "diffusers") -> Path:
    """Write the adapters as one safetensors file, atomically, in diffusers/peft or kohya key format."""
    from diffusers.utils import convert_state_dict_to_kohya
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save

    state: dict[str, torch.Tensor] = {}
    alphas: dict[str, float] = {}
    for name, module in models.items():
        peft_state = get_peft_model_state_dict(module)
        if fmt == "kohya":
            prefix = {"unet": "lora_unet", "text_encoder": "lora_te1" if "text_encoder_2" in models else "lora_te",
                      "text_encoder_2": "lora_te2"}[name]
            converted = convert_state_dict_to_kohya(peft_state)
            if name != "unet" and not hasattr(module, "text_model"):  # transformers 5's CLIP lacks that level;
                converted = {f"text_model_{k}": v for k, v in converted.items()}  # kohya/A1111 keys have it
            for key, value in converted.items():
                state[f"{prefix}_{key}" if not key.startswith("lora_") else key.replace("lora_unet", prefix, 1)] = value
        else:  # peft's own keys (lora_A / lora_B) under the component's prefix, as diffusers reads them
            for key, value in peft_state.items():
                state[f"{name}.{key}"] = value
        config = module.peft_config["default"]
        alphas[name] = config.lora_alpha / config.r
    if fmt == "diffusers":  # the adapters' configs as diffusers writes them: keys "unet.r", "unet.lora_alpha" …
        adapter = {f"{name}.{key}": value for name, module in models.items()
                   for key, value in _adapter_config(module).items()}
        metadata = {**metadata, "lora_adapter_metadata": json.dumps(adapter, sort_keys=True)}
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}
    return atomic_write_bytes(out, save(tensors, metadata=metadata))


def _adapter_config(module) -> dict[str, Any]:
    """The peft LoraConfig of ``module``'s adapter, JSON-ready (sets become sorted lists)."""
    config = module.peft_config["default"].to_dict()
    return {k: sorted(v) if isinstance(v, set) else v for k, v in config.items()
            if isinstance(v, str | int | float | bool | list | set | dict | type(None))}


def steps_per_epoch(images: int, batch: int) -> int:
    return max(1, math.ceil(images / max(1, batch)))
