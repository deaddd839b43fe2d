"""The diffusers family's trainer: the recipes its manifest lists (``demo-image``, ``lora``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``: the job runner
calls it with a :class:`TrainRequest` (and, for fine-tuning, the base model found as a loader would
get it, in ``context``). ``add_arguments(recipe, parser)`` declares a recipe's command-line flags
(``studio train demo-image --help``). Importing this module is light: torch and diffusers load when a
run starts (:mod:`studio_diffusers.demo_image`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.plugins import (
    BadInput,
    Cancelled,
    JobResult,
    LoadContext,
    ModelEntry,
    Report,
    TrainRequest,
    collector_paused,
)

RECIPES = ("demo-image", "lora")


def _check(recipe: str) -> None:
    if recipe not in RECIPES:
        raise BadInput(f"The diffusers family has no training recipe '{recipe}'.",
                       f"Its recipes: {', '.join(RECIPES)}.")


def _path(text: str) -> str:
    """A path flag, made absolute (the request is stored with the job and may run elsewhere later)."""
    return str(Path(text).expanduser().absolute())


class _ListReplacingDefault(argparse.Action):
    """``append`` whose first use replaces the default list (a model's recommended words), not extends it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        current = getattr(namespace, self.dest, None)
        given = [] if current is None or current is parser.get_default(self.dest) else list(current)
        setattr(namespace, self.dest, [*given, values])


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train RECIPE``; their destinations are the request's options."""
    _check(recipe)
    if recipe == "lora":
        add_lora_arguments(parser)
    else:
        add_demo_image_arguments(parser)


def train(request: TrainRequest, report: Report, cancelled: Cancelled,
          context: LoadContext | None = None) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoints when ``resume``."""
    _check(request.recipe)
    if request.recipe == "lora":
        if context is None:
            raise BadInput("Fine-tuning needs a base model.",
                           "Pass --model (a diffusers folder, a checkpoint or 'demo').")
        with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
            from studio_diffusers.loader import load_pipeline
            from studio_diffusers.train_lora import train_lora

        return train_lora(request, report, cancelled, model=context.model, load_options=context.options,
                          load_pipeline=load_pipeline, model_defaults=context.model.details.get("defaults"))
    with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
        from studio.plugins.training import recipe_settings
        from studio_diffusers import demo_image

    return demo_image.run(recipe_settings(request, add_demo_image_arguments), report, cancelled)


# What a model's studio-defaults.json may recommend for its LoRAs (flag destinations).
RECOMMENDABLE = ("steps", "lr", "batch_size", "rank", "lr_schedule", "warmup_steps", "prior_images",
                 "prior_words", "text_encoder_lr", "snr_gamma", "repeats", "unet_layers")


def recipe_defaults(recipe: str, model: ModelEntry | None) -> dict[str, Any]:
    """Flag defaults that suit ``model`` (its author's ``studio-defaults.json`` "lora" block: any of
    ``RECOMMENDABLE``), applied by ``studio train`` and the window before the flags are read."""
    if recipe != "lora" or model is None:
        return {}
    recommended = (model.details.get("defaults") or {}).get("lora") or {}
    return {k: recommended[k] for k in RECOMMENDABLE if k in recommended}


def add_lora_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train lora``: the defaults teach a concept from 10–50 captioned images."""
    p.add_argument("--model", required=True,
                   help="base model: a diffusers folder, a .safetensors checkpoint or 'demo'")
    p.add_argument("--data", required=True, type=_path,
                   help="folder of images with captions (IMAGE.txt beside each, or metadata.jsonl)")
    p.add_argument("--out", required=True, type=_path, help="the LoRA file to write (.safetensors)")
    p.add_argument("--steps", type=int, default=LORA_DEFAULTS["steps"],
                   help="optimiser steps (default: the model's recommendation, else %(default)s)")
    p.add_argument("--rank", type=int, default=LORA_DEFAULTS["rank"], help="LoRA rank")
    p.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default: the rank, a scale of 1)")
    p.add_argument("--lr", type=float, default=LORA_DEFAULTS["lr"],
                   help="learning rate (default: the model's recommendation, else %(default)s)")
    p.add_argument("--text-encoder-lr", type=float, default=None,
                   help="learning rate of the text encoders' adapters (default: --lr)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine", "linear"), default="constant")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=LORA_DEFAULTS["batch_size"],
                   help="images per step (default: the model's recommendation, else %(default)s)")
    p.add_argument("--gradient-accumulation", type=int, default=1, help="batches per optimiser step")
    p.add_argument("--resolution", type=int, default=None,
                   help="training size in pixels (default: the model's own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--instance-prompt", default="", help="caption for images that have none")
    p.add_argument("--train-text-encoder", action=argparse.BooleanOptionalAction, default=None,
                   help="train LoRA on the text encoder(s) too (default: when a caption word is new to the "
                        "tokenizer, i.e. split into pieces)")
    p.add_argument("--prior-prompt", dest="prior_prompts", action="append", default=None,
                   help="prompt whose base-model pictures train beside yours, so the model keeps drawing "
                        "them (repeat; default, when captions have a word new to the tokenizer: the captions "
                        "with that word swapped for words the tokenizer knows that they never use)")
    p.add_argument("--prior-word", dest="prior_words", action=_ListReplacingDefault, default=None,
                   help="word that takes the new word's place in the default prior prompts (DreamBooth's class "
                        "word: for a new shape, other shapes; repeat for more; default: the model's "
                        "recommendation, else words the tokenizer knows that the captions never use)")
    p.add_argument("--prior-images", type=int, default=None,
                   help="how many prior pictures (default: as many as your images)")
    p.add_argument("--no-prior", dest="prior_prompts", action="store_const", const=[],
                   help="no prior preservation")
    p.add_argument("--repeats", type=int, default=None,
                   help="times each of your images counts per epoch (kohya's repeats; default: as many as the "
                        "prior pictures outnumber yours, so a batch holds about as many of each)")
    p.add_argument("--sample-prompt", dest="sample_prompts", action="append", default=[],
                   help="prompt for the sample pictures (repeat for more; default: the first caption)")
    p.add_argument("--sample-every", type=int, default=LORA_DEFAULTS["sample_every"],
                   help="steps between samples (0: none)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help=f"steps between checkpoints (default: {LORA_DEFAULTS['checkpoint_every']}, or steps/5 "
                        "for shorter runs)")
    p.add_argument("--unet-layers", choices=("attention", "transformer", "all"), default="all",
                   help="UNet layers that learn: attention projections, whole transformer blocks, or those and "
                        "the ResNet convolutions (default: the model's recommendation, else %(default)s)")
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no", help="fp16/bf16 on a GPU")
    p.add_argument("--gradient-checkpointing", action="store_true", help="less memory, slower steps")
    p.add_argument("--snr-gamma", type=float, default=5.0,
                   help="min-SNR loss weighting (0: plain MSE; default: the model's recommendation, else %(default)s)")
    p.add_argument("--run-dir", type=_path, default=None,
                   help="checkpoints, samples and metrics (default: STUDIO_HOME/runs/lora-NAME)")
    p.add_argument("--resume", dest="no_resume", action="store_false", default=False,
                   help="continue from the run folder's latest checkpoint (the default)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true", help="start over")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard scalars in RUN_DIR/tensorboard")
    p.add_argument("--format", choices=("diffusers", "kohya"), default="diffusers",
                   help="key format of the file: diffusers/peft (load_lora_weights) or kohya/A1111")


# Steps, learning rate and batch when neither the flags nor the model's studio-defaults.json ("lora":
# {"steps", "lr", "batch_size"}) say: what LoRA trainers commonly use for SD-sized models.
LORA_DEFAULTS = {"steps": 1500, "rank": 16, "lr": 1e-4, "batch_size": 4, "sample_every": 100,
                 "checkpoint_every": 100}


def add_demo_image_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train demo-image``."""
    p.add_argument("--out", type=_path, default=None,
                   help="pipeline folder to write (default: RUN_DIR/model, under STUDIO_HOME/runs)")
    p.add_argument("--run-dir", type=_path, default=None,
                   help="work folder for checkpoints, samples and metrics, resumed if present "
                        "(default: STUDIO_HOME/runs/demo-image)")
    p.add_argument("--steps", type=int, default=11000, help="UNet + text-encoder training steps")
    p.add_argument("--vae-steps", type=int, default=1300, help="VAE training steps")
    p.add_argument("--decoder-steps", type=int, default=2500,
                   help="steps refining the VAE decoder on the frozen encoder's latents (0: none)")
    p.add_argument("--stage", choices=("all", "decoder"), default="all",
                   help="all: VAE, decoder refinement, UNet, save; decoder: only the refinement "
                        "(it can run beside a UNet run on the same --run-dir)")
    p.add_argument("--vae-lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default; 1 is fastest on a busy machine)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--unet-channels", default=None,
                   help="UNet block widths, one level each, e.g. 32,64,64,64 (default: 32,64,64)")
    p.add_argument("--unet-downsample-padding", type=int, choices=(0, 1), default=0,
                   help="0: pad only right/bottom before each UNet downsampling (a position cue)")
    p.add_argument("--high-noise-frac", type=float, default=0.5,
                   help="share of each batch drawn from the noisier half of the timesteps")
    p.add_argument("--high-noise-from", type=int, default=2500,
                   help="UNet step from which --high-noise-frac applies (uniform timesteps before)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-every", type=int, default=500, help="steps between sample grids")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard scalars (loss, lr, it/s) under RUN_DIR/<stage>/tensorboard")
    p.add_argument("--export-only", action="store_true",
                   help="save the pipeline from the latest checkpoint in --run-dir, no training")
    p.add_argument("--resume", dest="no_resume", action="store_false", default=False,
                   help="continue from the latest checkpoints in --run-dir (the default)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true",
                   help="start over, ignoring checkpoints in --run-dir")
