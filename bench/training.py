"""P7: step time of ``studio train lora`` vs a bare diffusers + peft training loop.

The bare loop is the one of diffusers' ``examples/text_to_image/train_text_to_image_lora.py``: the
pipeline's components loaded from the folder, frozen, ``unet.add_adapter(LoraConfig(...))``, AdamW on
the LoRA parameters, an ``Accelerator``, and per step: VAE encode (``latent_dist.sample() *
scaling_factor``), noise, random timesteps, ``add_noise``, text encoder on the batch's token ids,
the target of the scheduler's prediction type, UNet, float MSE, ``accelerator.backward``,
``clip_grad_norm_`` (max 1.0), optimizer and lr-scheduler step, ``zero_grad``. Same model, LoRA targets
and rank, batch, resolution, optimiser settings and steps on both sides; UNet only (no text encoder
LoRA, no prior preservation), no samples.

The studio side is the same request ``studio train lora --model demo --data DIR --out F
--no-train-text-encoder --no-prior`` builds, run as a job of a :class:`StudioSession`; a step's time is
the gap between two consecutive per-step progress events (what the job reports, as the CLI shows it).

Our recipe encodes the images with the VAE and the captions with the text encoder *once*; the
example encodes them every step. Two ratios, then:
- ``as_shipped``: studio / the example's loop as written (encodes every step);
- ``fair``: studio / the same loop with latents and text states encoded once beforehand (the work per
  step is then the same: UNet forward + backward + optimiser).

    OMP_NUM_THREADS=1 .venv/bin/python bench/training.py [--steps 40] [--rounds 2] [--batch-size 4]
        [--rank 16] [--model demo] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins" / "studio_diffusers"))

WARMUP = 3  # first steps left out of the median (allocations, first backward)
CLOCK = time.perf_counter  # --clock cpu: this thread's CPU time (both sides train on the calling thread)


def studio_steps(model: str, data: Path, out: Path, steps: int, batch: int, rank: int, lr: float) -> list[float]:
    from studio.cli.train_cmd import recipe_parser, request_from_flags
    from studio.core.events import Progress
    from studio.jobs import JobState
    from studio.session import StudioSession

    times: dict[int, float] = {}

    class Listener:
        def job_changed(self, job):
            pass

        def job_event(self, job_id, event):
            if isinstance(event, Progress) and event.total == steps and event.step > 0 and event.step not in times:
                times[event.step] = CLOCK()

    flags = ["--model", model, "--data", str(data), "--out", str(out), "--steps", str(steps), "--batch-size",
             str(batch), "--rank", str(rank), "--lr", str(lr), "--no-train-text-encoder", "--no-prior",
             "--sample-every", "0", "--checkpoint-every", str(steps * 10), "--no-resume", "--seed", "0"]
    request = request_from_flags("lora", recipe_parser("lora").parse_args(flags))
    session = StudioSession(listener=Listener())
    try:
        job = session.runner.run_now(request)
    finally:
        session.close()
    if job.state is not JobState.DONE:
        raise SystemExit(f"studio run failed: {job.error}")
    ordered = [times[s] for s in sorted(times)]
    return [b - a for a, b in itertools.pairwise(ordered)]


def bare_steps(folder: Path, data: Path, steps: int, batch: int, rank: int, lr: float, resolution: int,
               pre_encode: bool) -> list[float]:
    """The example's loop (``pre_encode``: latents and text states computed once beforehand)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from PIL import Image
    from studio_diffusers.train_lora import UNET_TARGETS
    from transformers import CLIPTextModel, CLIPTokenizer

    accelerator = Accelerator()
    torch.manual_seed(0)
    noise_scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
    tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    unet.requires_grad_(False)
    vae.requires_grad_(False)
    text_encoder.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=UNET_TARGETS))
    lora_layers = list(filter(lambda p: p.requires_grad, unet.parameters()))
    optimizer = torch.optim.AdamW(lora_layers, lr=lr, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _s: 1.0)  # "constant"

    images = sorted(data.glob("*.png"))
    pixels = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB").resize((resolution,) * 2),
                                                      dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)
                          for p in images])
    ids = tokenizer([p.with_suffix(".txt").read_text().strip() for p in images], max_length=tokenizer.model_max_length,
                    padding="max_length", truncation=True, return_tensors="pt").input_ids
    dataset = torch.utils.data.TensorDataset(pixels, ids)
    loader = torch.utils.data.DataLoader(dataset, shuffle=True, batch_size=batch, drop_last=True)
    unet, optimizer, loader, lr_scheduler = accelerator.prepare(unet, optimizer, loader, lr_scheduler)
    if pre_encode:
        with torch.no_grad():
            cached_latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
            cached_states = text_encoder(ids, return_dict=False)[0]
        order = list(range(len(images)))

    times = []
    step = 0
    unet.train()
    while step < steps:
        for pixel_values, input_ids in loader:
            if step >= steps:
                break
            t0 = CLOCK()
            if pre_encode:
                pick = torch.tensor([order[(step * batch + i) % len(order)] for i in range(batch)])
                latents, encoder_hidden_states = cached_latents[pick], cached_states[pick]
            else:
                latents = vae.encode(pixel_values).latent_dist.sample() * vae.config.scaling_factor
            noise = torch.randn_like(latents)
            bsz = latents.shape[0]
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (bsz,), device=latents.device)
            timesteps = timesteps.long()
            noisy_latents = noise_scheduler.add_noise(latents, noise, timesteps)
            if not pre_encode:
                encoder_hidden_states = text_encoder(input_ids, return_dict=False)[0]
            if noise_scheduler.config.prediction_type == "epsilon":
                target = noise
            else:
                target = noise_scheduler.get_velocity(latents, noise, timesteps)
            model_pred = unet(noisy_latents, timesteps, encoder_hidden_states, return_dict=False)[0]
            loss = F.mse_loss(model_pred.float(), target.float(), reduction="mean")
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(lora_layers, 1.0)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            loss.item()  # the example gathers the loss for logging every step
            times.append(CLOCK() - t0)
            step += 1
    return times[1:]  # as the studio's: gaps between steps, so one fewer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: thread CPU time per step, steadier when other processes share the cores")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter

    import torch

    torch.set_num_threads(args.threads)
    from tests.fixtures.stars import write_star_folder

    work = Path(tempfile.mkdtemp(prefix="bench-p7-"))
    os.environ["STUDIO_HOME"] = str(work / "home")
    folder = ROOT / "resources" / "models" / "demo" if args.model == "demo" else Path(args.model)
    resolution = json.loads((folder / "studio-defaults.json").read_text()).get("width", 64) \
        if (folder / "studio-defaults.json").is_file() else 512
    data = write_star_folder(work / "stars", args.images)
    medians: dict[str, list[float]] = {"studio": [], "bare": [], "bare_pre_encoded": []}
    for round_ in range(args.rounds):
        runs = {
            "studio": lambda out=work / f"lora-{round_}.safetensors": studio_steps(args.model, data, out, args.steps,
                                           args.batch_size, args.rank, args.lr),
            "bare": lambda: bare_steps(folder, data, args.steps, args.batch_size, args.rank, args.lr, resolution,
                                       pre_encode=False),
            "bare_pre_encoded": lambda: bare_steps(folder, data, args.steps, args.batch_size, args.rank, args.lr,
                                                   resolution, pre_encode=True),
        }
        for name, run in runs.items():
            times = run()[WARMUP:]
            medians[name].append(statistics.median(times))
            print(f"round {round_ + 1} {name}: median step {medians[name][-1] * 1000:.1f} ms "
                  f"({len(times)} steps)", file=sys.stderr)
    studio, bare, fair = (statistics.median(medians[k]) for k in ("studio", "bare", "bare_pre_encoded"))
    print(json.dumps({
        "model": args.model, "resolution": resolution, "batch": args.batch_size, "rank": args.rank,
        "steps": args.steps, "rounds": args.rounds, "threads": args.threads, "clock": args.clock,
        "median_step_ms": {"studio": round(studio * 1000, 2), "bare_example_loop": round(bare * 1000, 2),
                           "bare_pre_encoded": round(fair * 1000, 2)},
        "P7_ratio_fair": round(studio / fair, 3), "P7_ratio_as_shipped": round(studio / bare, 3),
        "per_round_medians_ms": {k: [round(v * 1000, 2) for v in vs] for k, vs in medians.items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
