"""P1 and P5: the studio's generation path against bare diffusers doing the same work.

P1 — one txt2img generation through the studio's job (runner, plugin, previews every step, PNG with
metadata, gallery) vs a bare ``pipe(...)`` call with the same model, steps, size and seed, in one run.
Goal: ratio ≤ 1.02.
P5 — switching back to a model already loaded (goal ≤ 0.1 s), and the first load through the
studio vs reading the raw safetensors weights (goal ≤ 1.2×).

    .venv/bin/python bench/generation.py [--model demo|sd15-random|PATH] [--steps 20] [--size N]
        [--repeat 5] [--load-repeat 3] [--threads 1] [--skip-p1] [--skip-p5]

``--model sd15-random`` is a Stable Diffusion 1.5-sized pipeline folder (UNet 860M parameters, CLIP
text encoder, VAE) with random weights, built once from the SD 1.x component configs the studio ships
(``resources/configs/sd1``) and saved as fp16 safetensors (about 2 GB) under ``--cache-dir``.

What the load figures mean:
- ``imports_s``: one-time Python imports (torch; the plugin's diffusers/transformers), outside any load.
- ``P5_first_load_in_process_s``: the first load in this process, which also pays the libraries'
  one-time set-up (lazy imports of the pipeline's classes, transformers' conversion tables).
- ``P5_load_s``: median of ``--load-repeat`` loads through the studio, each in a fresh state (the
  studio's model cache cleared), alternating with ``P5_raw_read_s``: every tensor of the same weight
  files read into memory (``safetensors.torch.load_file`` and a copy of each tensor; page cache warm
  for both). ``P5_load_file_mmap_s`` is ``load_file`` alone, which maps the files and reads nothing
  until a tensor is used, so it is no baseline for a load that uses every weight. On a CPU the
  studio also casts fp16 files to fp32 while loading; ``P5_raw_read_and_cast_s`` is the raw read
  with that cast to the load's dtype. No model stays resident during either measurement.
- ``P5_preview_map_fit_s``: fitting the latent→RGB preview map with the VAE, done on the first
  preview of a model, then remembered on disk (not part of the load).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a large blue square on the right on a white background"


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed(fn, cpu: list[float] | None = None) -> float:
    """Wall-clock seconds of ``fn()``; the process's CPU seconds are appended to ``cpu`` if given."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def build_sd15_random(folder: Path) -> Path:
    """An SD 1.5-architecture ``StableDiffusionPipeline`` folder with random weights (fp16 safetensors)."""
    if (folder / ".complete").is_file():
        return folder
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    configs = ROOT / "resources" / "configs"
    print(f"building a random-weight SD 1.5-sized pipeline in {folder} (once)…", flush=True)
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(configs / "sd1" / "unet"))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(configs / "sd1" / "vae"))
    text_config = CLIPTextConfig.from_json_file(configs / "sd1" / "text_encoder" / "config.json")
    text_encoder = CLIPTextModel(text_config)
    tokenizer = CLIPTokenizer.from_pretrained(configs / "clip_tokenizer")
    scheduler = PNDMScheduler.from_config(PNDMScheduler.load_config(configs / "sd1" / "scheduler"))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.to(torch.float16)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp, safe_serialization=True)
    (tmp / ".complete").write_text("random weights; configs from resources/configs/sd1\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="demo, sd15-random or a model path")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=None, help="image side (default: 64 for demo, else 512)")
    parser.add_argument("--repeat", type=int, default=5, help="P1: bare/studio pairs")
    parser.add_argument("--load-repeat", type=int, default=3, help="P5: fresh loads (and raw reads)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for both sides")
    parser.add_argument("--skip-p1", action="store_true")
    parser.add_argument("--skip-p5", action="store_true")
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "studio-bench"),
                        help="where --model sd15-random is built (outside git)")
    args = parser.parse_args()
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))

    imports_start = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    torch_import = time.perf_counter() - imports_start
    model = args.model
    if model == "sd15-random":
        model = str(build_sd15_random(Path(args.cache_dir).expanduser() / "sd15-random"))

    from safetensors.torch import load_file

    from studio.core.requests import GenerationRequest
    from studio.session import StudioSession

    session = StudioSession()
    entry = session.library.resolve(model)
    size = args.size or (64 if args.model == "demo" else 512)
    request = GenerationRequest(model=model, prompt=PROMPT, steps=args.steps, width=size, height=size, seed=3,
                                guidance=4.0, scheduler="DPM++ 2M", device="cpu")
    result: dict[str, object] = {"device": "cpu", "threads": args.threads, "model": args.model, "size": size,
                                 "steps": args.steps}

    # One-time imports: torch, then the plugin's module (diffusers, transformers), outside any load.
    start = time.perf_counter()
    session.registry.load_callable(session.registry.for_model(entry.kind, "txt2img"))
    result["imports_s"] = {"torch": round(torch_import, 3), "plugin": round(time.perf_counter() - start, 3)}

    if not args.skip_p5:
        weights = sorted(Path(entry.path).rglob("*.safetensors"))
        read_all = lambda: [{k: t.clone() for k, t in load_file(str(w)).items()} for w in weights]  # noqa: E731
        read_all()  # page cache warm
        result["P5_first_load_in_process_s"] = round(_timed(lambda: session.load_model(request)), 3)
        dtype = dtype_of(session, request)
        loads, raws, casts, mmaps = [], [], [], []
        read_and_cast = lambda: [{k: t.to(dtype) for k, t in load_file(str(w)).items()} for w in weights]  # noqa: E731
        for i in range(args.load_repeat):
            def studio_load():
                session.models.clear()
                gc.collect()
                loads.append(_timed(lambda: session.load_model(request)))

            def raw_read():
                session.models.clear()  # the same fresh state as a load: no model resident
                gc.collect()
                raws.append(_timed(read_all))
                gc.collect()
                casts.append(_timed(read_and_cast))
                gc.collect()
                mmaps.append(_timed(lambda: [load_file(str(w)) for w in weights]))

            for step in ((studio_load, raw_read) if i % 2 == 0 else (raw_read, studio_load)):
                step()
        load, raw = statistics.median(loads), statistics.median(raws)
        result.update({
            "P5_weights_bytes": sum(w.stat().st_size for w in weights),
            "P5_load_s": round(load, 3),
            "P5_load_runs_s": [round(t, 3) for t in loads],
            "P5_raw_read_s": round(raw, 3),
            "P5_raw_read_runs_s": [round(t, 3) for t in raws],
            "P5_load_file_mmap_s": round(statistics.median(mmaps), 3),
            "P5_raw_read_and_cast_s": round(statistics.median(casts), 3),
            "P5_load_vs_read_and_cast": round(load / statistics.median(casts), 2),
            "P5_load_dtype": str(dtype),
            "P5_load_ratio": round(load / raw, 2) if raw else None,
        })
        from studio_diffusers.previews import LatentPreview

        vae = session.load_model(request).pipe.vae
        result["P5_preview_map_fit_s"] = round(_timed(lambda: LatentPreview.fit(vae, vae.device, vae.dtype)), 3)

    if not args.skip_p1:
        # P1: the same generation, bare and through the studio, interleaved (which goes first alternates).
        from diffusers import DiffusionPipeline
        from studio_diffusers.schedulers import make_scheduler

        pipe = DiffusionPipeline.from_pretrained(entry.path, local_files_only=True, dtype=dtype_of(session, request))
        pipe.set_progress_bar_config(disable=True)
        pipe.scheduler = make_scheduler(request.scheduler, dict(pipe.scheduler.config))

        def bare():
            pipe(request.prompt, num_inference_steps=args.steps, guidance_scale=request.guidance, width=size,
                 height=size, generator=torch.Generator("cpu").manual_seed(3))

        def studio():
            job = session.runner.run_now(request)
            assert job.state.value == "done", job.error

        bare()
        studio()
        bare_times, studio_times, bare_cpu, studio_cpu = [], [], [], []
        for i in range(args.repeat):
            pair = ((bare_times, bare_cpu, bare), (studio_times, studio_cpu, studio))
            for times, cpu, fn in (pair if i % 2 == 0 else pair[::-1]):
                gc.collect()
                times.append(_timed(fn, cpu))
        bare_s, studio_s = statistics.median(bare_times), statistics.median(studio_times)
        result.update({
            "P1_bare_s": round(bare_s, 4),
            "P1_studio_s": round(studio_s, 4),
            "P1_ratio": round(studio_s / bare_s, 4),
            "P1_pair_ratios": [round(s / b, 3) for b, s in zip(bare_times, studio_times, strict=True)],
            # CPU seconds of the process: less sensitive to other processes taking the cores, but
            # blind to time spent waiting for the disk (fsync), so the wall-clock ratio is the goal's.
            "P1_bare_cpu_s": round(statistics.median(bare_cpu), 4),
            "P1_studio_cpu_s": round(statistics.median(studio_cpu), 4),
            "P1_cpu_ratio": round(statistics.median(studio_cpu) / statistics.median(bare_cpu), 4),
        })
        del pipe

    # P5a: switch to another model and back; the way back must not load anything.
    if not args.skip_p5:
        other = tempfile.mkdtemp(prefix="studio-bench-model-")
        shutil.copytree(entry.path, other, dirs_exist_ok=True)
        one_step = request.replace(steps=1)
        session.runner.run_now(one_step.replace(model=other))
        result["P5_models_cached"] = len(session.models._models)
        result["P5_switch_back_s"] = round(_timed(lambda: session.load_model(one_step)), 4)
        shutil.rmtree(other, ignore_errors=True)
    session.close()
    print(json.dumps(result, indent=2))


def dtype_of(session, request):
    """The dtype the studio runs the model in, so the bare pipeline does the same arithmetic."""
    return next(p.dtype for p in session.load_model(request).pipe.unet.parameters())


if __name__ == "__main__":
    main()
