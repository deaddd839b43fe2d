"""Recipe: train the ``demo`` text-to-image model from nothing on the shapes data set.

Two stages, both run by the studio's training engine and both resumable:

1. ``vae``  — a tiny AutoencoderKL (factor 4, 8 latent channels) learns to encode/decode the
   64×64 shapes images.
2. ``unet`` — a tiny UNet2DConditionModel (cross-attention at every resolution) and a tiny
   CLIPTextModel (word-level CLIPTokenizer built from the captions' words) learn to denoise the
   frozen VAE's 16×16 latents (v-prediction, zero terminal SNR, 10 % caption dropout for
   classifier-free guidance).

The result is saved as a standard diffusers ``StableDiffusionPipeline`` folder (safetensors only,
no safety checker) whose default output is 64×64, plus ``training_metrics.json`` beside it.

It runs as a job: ``studio train demo-image [flags]`` builds a ``TrainRequest``; the job runner
calls :func:`studio_diffusers.train.train`, which calls :func:`run` here with the flags of
:func:`studio_diffusers.train.add_demo_image_arguments`. Each stage's progress, metrics and sample
grids go through the job's ``report``; pause and cancel are obeyed at every step.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.plugins import Artifact, JobCancelled, JobResult, loading_weights
from studio.plugins.training import (
    TrainConfig,
    Trainer,
    TrainingTask,
    checkpoint_interval,
    model_folders,
    read_metrics,
    shapes,
    torch_threads,
    trained_artifacts,
)

MAX_TOKENS = 77
LATENT_CHANNELS = 8
VAE_CHANNELS = (16, 32, 64)
UNET_CHANNELS = (32, 64, 64)
TEXT_DIM = 128
#: What the studio proposes for this model (``studio-defaults.json``); bench/demo_eval.py swept the
#: guidance: 2.0 judged best (4.0 tints white backgrounds and loses colour accuracy).
GENERATION_DEFAULTS = {"steps": 20, "guidance": 2.0, "scheduler": "DPM++ 2M",
                       # LoRA: fits 10 min on 2 cores; plain MSE (min-SNR lost old shapes) and each star
                       # twice an epoch taught "star" in all 9 sampling sets of 3 seeds (bench/README)
                       "lora": {"steps": 2100, "lr": 1e-3, "batch_size": 8, "lr_schedule": "cosine",
                                "prior_images": 48, "repeats": 2, "snr_gamma": 0.0}}
SAMPLE_CAPTIONS = [
    "a large red circle on the left on a white background",
    "a small blue square on the right on a black background",
    "a large yellow triangle at the top on a gray background",
    "a small green circle at the bottom on a white background",
    "a large purple square in the centre on a white background",
    "a large orange triangle on the right on a black background",
    "a small white circle in the centre on a gray background",
    "a large black square at the bottom on a white background",
]


# ------------------------------------------------------------------------------------ components
def build_tokenizer(words: list[str] | None = None):
    """A word-level CLIPTokenizer: every caption word is one token; other text falls to letters.

    transformers 5 ignores ``vocab_file=``/``merges_file=``; we pass ``vocab=`` and ``merges=``.
    Merges are generated longest word first and then repaired until every word is one token.
    """
    from transformers import CLIPTokenizer

    words = sorted(words or shapes.vocabulary())
    special = ["<|startoftext|>", "<|endoftext|>"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab: dict[str, int] = {}
    for t in special + letters + [c + "</w>" for c in letters]:
        vocab.setdefault(t, len(vocab))
    merges: list[tuple[str, str]] = []

    def add_chain(pieces: list[str]) -> None:
        cur = pieces[0]
        for p in pieces[1:]:
            if (cur, p) not in merges:
                merges.append((cur, p))
            cur = cur + p
            vocab.setdefault(cur, len(vocab))

    for w in sorted(words, key=lambda w: (-len(w), w)):
        if len(w) > 1:
            add_chain([*list(w[:-1]), w[-1] + "</w>"])
    for _ in range(20):
        tok = CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=MAX_TOKENS,
                            pad_token="<|endoftext|>")
        bad = [w for w in words if len(tok(w, add_special_tokens=False).input_ids) != 1]
        if not bad:
            return tok
        for w in bad:
            add_chain(tok.convert_ids_to_tokens(tok(w, add_special_tokens=False).input_ids))
    raise RuntimeError(f"could not build a word-level tokenizer for {bad}")


def build_text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(vocab_size=vocab_size, hidden_size=TEXT_DIM, intermediate_size=2 * TEXT_DIM,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=MAX_TOKENS, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1, projection_dim=TEXT_DIM)
    return CLIPTextModel(cfg)


def build_vae():
    from diffusers import AutoencoderKL

    n = len(VAE_CHANNELS)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=VAE_CHANNELS,
                         layers_per_block=1, latent_channels=LATENT_CHANNELS, norm_num_groups=16,
                         sample_size=shapes.IMAGE_SIZE, mid_block_add_attention=False)


def build_unet(latent_size: int, downsample_padding: int = 1,
               channels: tuple[int, ...] = UNET_CHANNELS):
    """``downsample_padding=0`` pads only right/bottom before each stride-2 conv, an explicit
    left/right, top/bottom cue for position words."""
    from diffusers import UNet2DConditionModel

    n = len(channels)
    return UNet2DConditionModel(
        sample_size=latent_size, in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS,
        block_out_channels=tuple(channels), down_block_types=("CrossAttnDownBlock2D",) * n,
        up_block_types=("CrossAttnUpBlock2D",) * n, layers_per_block=1,
        cross_attention_dim=TEXT_DIM, attention_head_dim=2, norm_num_groups=16,
        downsample_padding=downsample_padding)


def build_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear",
                         beta_start=0.00085, beta_end=0.012, prediction_type="v_prediction",
                         rescale_betas_zero_snr=True, timestep_spacing="trailing",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def _images_to_tensor(images: list) -> torch.Tensor:
    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def render_dataset(length: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    ds = shapes.ShapesDataset(length, seed=seed, split="train")
    items = [ds[i] for i in range(length)]
    return _images_to_tensor([it["image"] for it in items]), [it["caption"] for it in items]


class _TensorDataset(torch.utils.data.Dataset):
    def __init__(self, **tensors: torch.Tensor) -> None:
        self.tensors = tensors
        self.n = len(next(iter(tensors.values())))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}


# ------------------------------------------------------------------------------------- tasks
class VaeTask(TrainingTask):
    """Stage 1: reconstruct shapes images (L1 + L2, tiny KL)."""

    name = "demo-image-vae"

    def __init__(self, length: int = 4096, seed: int = 0, kl_weight: float = 1e-6,
                 fg_weight: float = 4.0) -> None:
        self.length, self.seed, self.kl_weight, self.fg_weight = length, seed, kl_weight, fg_weight

    def build_models(self):
        return {"vae": build_vae()}

    def dataset(self):
        x, _ = render_dataset(self.length, self.seed)
        return _TensorDataset(pixels=x)

    def loss(self, models, batch, step):
        vae = models["vae"]
        x = batch["pixels"]
        post = vae.encode(x).latent_dist
        # Decode the posterior's mean: sampling early on (when the predicted variance is still
        # large) taught the decoder average colours (red -> orange) for hundreds of steps.
        rec = vae.decode(post.mode()).sample
        # Shapes cover a small part of each image: weight their pixels (those unlike the corner's
        # background colour) so colours and outlines are learnt early, not just backgrounds.
        fg = ((x - x[:, :, :1, :1]).abs().amax(dim=1, keepdim=True) > 0.05).float()
        w = 1.0 + self.fg_weight * fg
        err = (rec - x).abs() * w + (rec - x).pow(2) * w
        return err.mean() + self.kl_weight * post.kl().mean()

    def sample(self, models, step):
        from PIL import Image

        vae = models["vae"]
        ds = shapes.ShapesDataset(8, seed=99, split="heldout")
        x = _images_to_tensor([ds[i]["image"] for i in range(8)])
        rec = vae.decode(vae.encode(x).latent_dist.mode()).sample
        both = torch.cat([x, rec]).clamp(-1, 1)
        grid = ((both + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        rows = [np.concatenate(list(grid[r * 8:(r + 1) * 8]), axis=1) for r in range(2)]
        return Image.fromarray(np.concatenate(rows, axis=0))

    def describe(self):
        return {"name": self.name, "length": self.length, "seed": self.seed,
                "channels": list(VAE_CHANNELS), "latent_channels": LATENT_CHANNELS}


class DecoderTask(VaeTask):
    """Stage 3: refine only the VAE's decoder on the frozen encoder's latents.

    The UNet learnt the encoder's latent space, so the encoder must not change; the decoder can
    keep improving (colours, crisp small shapes) after the UNet has started or finished.
    """

    name = "demo-image-decoder"

    def __init__(self, vae, length: int = 4096, seed: int = 0, fg_weight: float = 4.0) -> None:
        super().__init__(length=length, seed=seed + 1, fg_weight=fg_weight)
        self.vae = vae

    def build_models(self):
        self.vae.requires_grad_(False)
        self.vae.decoder.requires_grad_(True)
        self.vae.post_quant_conv.requires_grad_(True)
        return {"vae": self.vae}

    def dataset(self):
        x, _ = render_dataset(self.length, self.seed)
        with torch.no_grad():
            lat = torch.cat([self.vae.encode(x[i:i + 256]).latent_dist.mode()
                             for i in range(0, len(x), 256)])
        return _TensorDataset(pixels=x, latents=lat)

    def loss(self, models, batch, step):
        vae = models["vae"]
        x = batch["pixels"]
        rec = vae.decode(batch["latents"]).sample
        fg = ((x - x[:, :, :1, :1]).abs().amax(dim=1, keepdim=True) > 0.05).float()
        w = 1.0 + self.fg_weight * fg
        return ((rec - x).abs() * w + (rec - x).pow(2) * w).mean()


class DiffusionTask(TrainingTask):
    """Stage 2: UNet + text encoder on the frozen VAE's latents (v-prediction, zero-SNR)."""

    name = "demo-image-unet"

    def __init__(self, vae, length: int = 6600, seed: int = 0, caption_dropout: float = 0.1,
                 high_noise_frac: float = 0.0, high_noise_from: int = 0,
                 downsample_padding: int = 1, unet_channels: tuple[int, ...] = UNET_CHANNELS) -> None:
        self.downsample_padding = downsample_padding
        self.unet_channels = tuple(unet_channels)
        self.vae = vae.eval().requires_grad_(False)
        self.length, self.seed, self.caption_dropout = length, seed, caption_dropout
        # Share of each batch whose timesteps come from the noisier half, where the layout
        # (position) is decided; 0 means uniform timesteps.
        self.high_noise_frac, self.high_noise_from = high_noise_frac, high_noise_from
        self.tokenizer = build_tokenizer()
        self.scheduler = build_scheduler()
        self.alphas = self.scheduler.alphas_cumprod.float()
        self.scaling = float(vae.config.scaling_factor)
        self.uncond_ids = self.tokenize([""])[0]

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        return self.tokenizer(captions, padding="max_length", max_length=MAX_TOKENS,
                              truncation=True, return_tensors="pt").input_ids

    def build_models(self):
        latent = shapes.IMAGE_SIZE // 2 ** (len(VAE_CHANNELS) - 1)
        unet = build_unet(latent, downsample_padding=self.downsample_padding, channels=self.unet_channels)
        return {"unet": unet, "text_encoder": build_text_encoder(len(self.tokenizer))}

    def dataset(self):
        x, captions = render_dataset(self.length, self.seed)
        with torch.no_grad():
            lat = torch.cat([self.vae.encode(x[i:i + 256]).latent_dist.mean
                             for i in range(0, len(x), 256)])
        return _TensorDataset(latents=lat * self.scaling, input_ids=self.tokenize(captions))

    def loss(self, models, batch, step):
        unet, te = models["unet"], models["text_encoder"]
        z0, ids = batch["latents"], batch["input_ids"].clone()
        b = z0.shape[0]
        drop = torch.rand(b) < self.caption_dropout
        ids[drop] = self.uncond_ids.to(ids.device)
        enc = te(ids)[0]
        n_t = len(self.alphas)
        t = torch.randint(0, n_t, (b,))
        if self.high_noise_frac > 0 and step >= self.high_noise_from:
            k = round(b * self.high_noise_frac)
            t[:k] = torch.randint(n_t // 2, n_t, (k,))
        a = self.alphas[t].view(b, 1, 1, 1).to(z0.device)
        noise = torch.randn_like(z0)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        target = a.sqrt() * noise - (1 - a).sqrt() * z0
        pred = unet(zt, t.to(z0.device), enc).sample
        return torch.nn.functional.mse_loss(pred, target)

    def pipeline(self, models):
        from diffusers import StableDiffusionPipeline

        return StableDiffusionPipeline(
            vae=self.vae, text_encoder=models["text_encoder"], tokenizer=self.tokenizer,
            unet=models["unet"], scheduler=build_scheduler(), safety_checker=None,
            feature_extractor=None, requires_safety_checker=False)

    def sample(self, models, step):
        from PIL import Image

        pipe = self.pipeline(models)
        pipe.set_progress_bar_config(disable=True)
        g = torch.Generator().manual_seed(0)
        out = pipe(SAMPLE_CAPTIONS, num_inference_steps=20, guidance_scale=GENERATION_DEFAULTS["guidance"], generator=g,
                   output_type="np").images
        grid = (out * 255).round().astype(np.uint8)
        return Image.fromarray(np.concatenate(list(grid), axis=1))

    def describe(self):
        return {"name": self.name, "length": self.length, "seed": self.seed,
                "unet_channels": list(self.unet_channels), "text_dim": TEXT_DIM,
                "caption_dropout": self.caption_dropout, "high_noise_frac": self.high_noise_frac,
                "high_noise_from": self.high_noise_from,
                "downsample_padding": self.downsample_padding}


# ------------------------------------------------------------------------------------ driver
def _quiet(step, total, preview=None, message=None, **events) -> None:
    pass


def _staged(report: Callable[..., None], stage: str) -> Callable[..., None]:
    """``report`` with the stage's name before each message and notice (``[unet] step 10/11000 …``)."""

    def staged(step, total, preview=None, message=None, *, notice=None, **events) -> None:
        report(step, total, preview=preview, message=f"[{stage}] {message}" if message else message,
               notice=f"[{stage}] {notice}" if notice else notice, **events)

    return staged


def compute_scaling_factor(vae, seed: int) -> float:
    x, _ = render_dataset(512, seed + 7)
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mean
    return float(1.0 / z.std())


def train_vae(work: Path, steps: int, seed: int, batch_size: int = 8, lr: float = 2e-3,
              resume: bool = True, report=None, cancelled=None, tensorboard: bool = False):
    cfg = TrainConfig(run_dir=str(work / "vae"), max_steps=steps, batch_size=batch_size, seed=seed,
                      lr=lr, lr_schedule="cosine", warmup_steps=50, checkpoint_every=checkpoint_interval(steps, 250),
                      sample_every=250, log_every=10, resume=resume, tensorboard=tensorboard)
    trainer = Trainer(VaeTask(seed=seed), cfg, report=report or _quiet,
                      cancelled=cancelled)
    result = trainer.run()
    vae = trainer.unwrapped()["vae"].eval()
    return vae, result


def train_unet(work: Path, vae, steps: int, seed: int, batch_size: int = 32, lr: float = 1e-3,
               resume: bool = True, report=None, cancelled=None, sample_every: int = 500,
               high_noise_frac: float = 0.0, high_noise_from: int = 0,
               downsample_padding: int = 1, tensorboard: bool = False,
               unet_channels: tuple[int, ...] = UNET_CHANNELS):
    cfg = TrainConfig(run_dir=str(work / "unet"), max_steps=steps, batch_size=batch_size,
                      seed=seed, lr=lr, lr_schedule="cosine", warmup_steps=100,
                      checkpoint_every=checkpoint_interval(steps, 250), sample_every=sample_every, log_every=10,
                      resume=resume, keep_checkpoints=3, tensorboard=tensorboard)
    task = DiffusionTask(vae, seed=seed, high_noise_frac=high_noise_frac,
                         high_noise_from=high_noise_from, downsample_padding=downsample_padding,
                         unet_channels=unet_channels)
    trainer = Trainer(task, cfg, report=report or _quiet, cancelled=cancelled)
    result = trainer.run()
    return task, trainer, result


def train_decoder(work: Path, vae, steps: int, seed: int, batch_size: int = 8, lr: float = 1e-3,
                  resume: bool = True, report=None, cancelled=None, tensorboard: bool = False):
    cfg = TrainConfig(run_dir=str(work / "decoder"), max_steps=steps, batch_size=batch_size,
                      seed=seed, lr=lr, lr_schedule="cosine", warmup_steps=20,
                      checkpoint_every=checkpoint_interval(steps, 250), sample_every=500, log_every=10, resume=resume,
                      tensorboard=tensorboard)
    trainer = Trainer(DecoderTask(vae, seed=seed), cfg, report=report or _quiet,
                      cancelled=cancelled)
    result = trainer.run()
    return trainer.unwrapped()["vae"].eval(), result


def load_vae(work: Path):
    """The stage-3 refined VAE if there is one, else stage 1's."""
    from diffusers import AutoencoderKL

    for name in ("vae_refined", "vae_final"):
        if (work / name / "config.json").is_file():
            with loading_weights():
                return AutoencoderKL.from_pretrained(work / name).eval()
    return None


def save_pipeline(task: DiffusionTask, models: dict, out: Path, work: Path) -> Path:
    """Save the pipeline atomically (temp folder + rename) with training metrics beside it."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe = task.pipeline({k: v.eval() for k, v in models.items()})
    pipe.save_pretrained(tmp, safe_serialization=True)
    for config in tmp.glob("*/config.json"):  # no training machine's paths in a shipped model
        data = json.loads(config.read_text(encoding="utf-8"))
        if data.pop("_name_or_path", None) is not None:
            config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    summary: dict[str, Any] = {}
    for stage in ("vae", "unet", "decoder"):
        steps = read_metrics(work / stage)
        bucket = max(1, len(steps) // 100)
        summary[stage] = {
            "steps": steps[-1]["step"] if steps else 0,
            "curve": [{"step": s["step"], "loss": round(s["loss"], 5), "lr": s["lr"]}
                      for i, s in enumerate(steps) if i % bucket == 0 or i == len(steps) - 1],
        }
        cfg_file = work / stage / "config.json"
        if cfg_file.is_file():
            summary[stage]["config"] = json.loads(cfg_file.read_text())
    (tmp / "training_metrics.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    (tmp / "studio-defaults.json").write_text(json.dumps(GENERATION_DEFAULTS), encoding="utf-8")
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
    return out


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def export_checkpoint(work: Path, vae, out: Path, checkpoint: Path | None = None,
                      downsample_padding: int = 1, unet_channels: tuple[int, ...] = UNET_CHANNELS) -> Path:
    """Save a pipeline from a UNet-stage checkpoint (the latest by default) without training."""
    from safetensors.torch import load_file

    from studio.plugins.training import CheckpointError, latest_checkpoint

    checkpoint = checkpoint or latest_checkpoint(work / "unet")
    if checkpoint is None:
        raise CheckpointError(f"No checkpoint in {work / 'unet'} to export.",
                              "Train first: studio train demo-image --run-dir " + str(work))
    task = DiffusionTask(vae, downsample_padding=downsample_padding, unet_channels=unet_channels)
    with loading_weights():
        models = task.build_models()
    for i, model in enumerate(models.values()):  # accelerate names them model, model_1, …
        model.load_state_dict(load_file(str(checkpoint / f"model{'' if i == 0 else f'_{i}'}.safetensors")))
    return save_pipeline(task, models, out, work)


def _channels(args: argparse.Namespace) -> tuple[int, ...]:
    text = getattr(args, "unet_channels", None)
    return tuple(int(c) for c in text.split(",")) if text else UNET_CHANNELS


def run(args: argparse.Namespace, report: Callable[..., None] = _quiet,
        cancelled: Callable[[], bool] | None = None) -> JobResult:
    """Train (or resume) the stages ``args`` ask for and save the pipeline.

    Raises :class:`JobCancelled` when the user stopped a stage (its checkpoint is kept: the next
    run resumes there)."""
    from diffusers import AutoencoderKL

    model_folders(args, "demo-image")  # refused before anything starts
    with torch_threads(getattr(args, "threads", 0)):
        return _run(args, report, cancelled, AutoencoderKL)


def _stopped(stage: str, res) -> JobCancelled:
    return JobCancelled(f"The {stage} stage stopped at step {res.step} of {res.total}; "
                        "run it again with the same run folder to resume.")


def _run(args: argparse.Namespace, report, cancelled, AutoencoderKL) -> JobResult:
    work, out_dir = model_folders(args, "demo-image")  # --out defaults to RUN_DIR/model
    work.mkdir(parents=True, exist_ok=True)
    resume = not args.no_resume
    tensorboard = bool(getattr(args, "tensorboard", False))
    vae_dir = work / "vae_final"
    report(0, 1, notice=f"torch threads: {torch.get_num_threads()}")
    data: dict[str, Any] = {"recipe": "demo-image", "run_dir": str(work)}
    if (vae_dir / "config.json").is_file() and resume:
        with loading_weights():
            vae = AutoencoderKL.from_pretrained(vae_dir).eval()
        report(0, 1, notice=f"[vae] using the trained VAE in {vae_dir}")
    else:
        vae, res = train_vae(work, args.vae_steps, args.seed, resume=resume, lr=args.vae_lr,
                             tensorboard=tensorboard, report=_staged(report, "vae"), cancelled=cancelled)
        if res.status != "done":
            raise _stopped("VAE", res)
        vae.register_to_config(scaling_factor=compute_scaling_factor(vae, args.seed))
        vae.save_pretrained(vae_dir, safe_serialization=True)
    stage = getattr(args, "stage", "all")
    if stage in ("all", "decoder") and args.decoder_steps > 0:
        if not (work / "vae_refined" / "config.json").is_file() or not resume:
            refined, res = train_decoder(work, vae, args.decoder_steps, args.seed, resume=resume,
                                         tensorboard=tensorboard, report=_staged(report, "decoder"),
                                         cancelled=cancelled)
            if res.status != "done":
                raise _stopped("decoder", res)
            refined.save_pretrained(work / "vae_refined", safe_serialization=True)
            with loading_weights():
                vae = AutoencoderKL.from_pretrained(work / "vae_refined").eval()
        if stage == "decoder":
            refined_dir = work / "vae_refined"
            return JobResult(artifacts=(Artifact(str(refined_dir), "model", {"stage": "decoder"}),),
                             data=data | {"stage": "decoder", "vae_refined": str(refined_dir)})
    if getattr(args, "export_only", False):
        out = export_checkpoint(work, load_vae(work), out_dir,
                                downsample_padding=getattr(args, "unet_downsample_padding", 1),
                                unet_channels=_channels(args))
        return JobResult(artifacts=(Artifact(str(out), "model", {"recipe": "demo-image"}),),
                         data=data | {"out": str(out), "bytes": folder_bytes(out)})
    task, trainer, res = train_unet(work, vae, args.steps, args.seed, batch_size=args.batch_size,
                                    lr=args.lr, resume=resume, sample_every=args.sample_every,
                                    high_noise_frac=getattr(args, "high_noise_frac", 0.0),
                                    high_noise_from=getattr(args, "high_noise_from", 0),
                                    downsample_padding=getattr(args, "unet_downsample_padding", 1),
                                    tensorboard=tensorboard, unet_channels=_channels(args),
                                    report=_staged(report, "unet"), cancelled=cancelled)
    if res.status != "done":
        raise _stopped("UNet", res)
    task.vae = load_vae(work)
    out = save_pipeline(task, trainer.unwrapped(), out_dir, work)
    report(res.step, res.total, notice=f"Saved the pipeline to {out}.")
    return JobResult(artifacts=trained_artifacts(out, "demo-image", res),
                     data=data | {"out": str(out), "bytes": folder_bytes(out), "steps": res.step, "loss": res.loss})
