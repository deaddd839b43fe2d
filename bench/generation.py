"""P1 and P5: the studio's generation path against bare diffusers doing the same work.

P1 — one txt2img generation through the studio's job (runner, plugin, previews every step, PNG with
metadata, gallery) vs a bare ``pipe(...)`` call with the same model, steps, size and seed, in one run.
Goal: ratio ≤ 1.02.
P5 — switching back to a model already loaded (goal ≤ 0.1 s), and the first load through the
studio vs reading the raw safetensors weights (goal ≤ 1.2×).

    .venv/bin/python bench/generation.py [--model demo|sd15-random|sd15-random-fp32|PATH] [--steps 20]
        [--size N] [--repeat 5] [--load-repeat 3] [--threads 1] [--device cpu|cuda|auto] [--cold]
        [--skip-p1] [--skip-p5]

``--model sd15-random`` is a Stable Diffusion 1.5-sized pipeline folder (UNet 860M parameters, CLIP
text encoder, VAE) with random weights, built once from the SD 1.x component configs the studio ships
(``resources/configs/sd1``) and saved as fp16 safetensors (about 2 GB) under ``--cache-dir``;
``sd15-random-fp32`` is the same saved in fp32 (about 4.3 GB), as the original SD 1.5 folder is.
``--device cuda`` runs both sides on the GPU in fp16, as a designer's workstation does.

What the load figures mean (every one a median of ``--load-repeat`` runs, taken in turn, each from
the same fresh state: the studio's model cache cleared, no model resident):
- ``imports_s``: one-time Python imports (torch; the plugin's diffusers/transformers), outside any load.
- ``P5_first_load_in_process_s``: the first load in this process, which also pays the libraries'
  one-time set-up (lazy imports of the pipeline's classes, transformers' conversion tables).
- ``P5_load_s``: a load through the studio, ready to generate.
- ``P5_load_and_touch_s``: a load, then every weight of the UNet, VAE and text encoder read once.
  diffusers maps safetensors files and uses fp32 tensors where they lie, so a CPU load of an fp32
  file reads its weights only when they are first used; this figure counts that read.
- ``P5_raw_read_s``: every tensor of the same weight files read into memory (``load_file`` and a
  copy of each tensor; onto the GPU with ``--device cuda``): the goal's baseline.
- ``P5_raw_map_and_touch_s``: the files mapped and every tensor read once (summed), nothing copied:
  the least work any read can do, the strict baseline for ``P5_load_and_touch_s``.
- ``P5_raw_read_and_cast_s``: the raw read, cast to the dtype the studio runs in. On a CPU that is
  fp32, so fp16 files are cast while loading, which writes twice the bytes the raw read writes.
- ``--cold``: every measurement starts with the weight files dropped from the page cache
  (``posix_fadvise``), so each reads the disk, as the first load after a reboot does; otherwise the
  page cache is warm for all of them.
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


def _timed(fn, cpu: list[float] | None = None) -> float:
    """Wall-clock seconds of ``fn()``; the process's CPU seconds are appended to ``cpu`` if given."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def build_sd15_random(folder: Path, dtype_name: str = "float16") -> Path:
    """An SD 1.5-architecture ``StableDiffusionPipeline`` folder with random weights (safetensors in
    ``dtype_name``: fp16 as most shared checkpoints, or fp32 as the original SD 1.5 folder)."""
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
    pipe.to(getattr(torch, dtype_name))
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp, safe_serialization=True)
    (tmp / ".complete").write_text("random weights; configs from resources/configs/sd1\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="demo, sd15-random, sd15-random-fp32 or a model path")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                        help="where both sides run (cuda: fp16, as on a designer's GPU)")
    parser.add_argument("--cold", action="store_true",
                        help="P5: drop the weight files from the page cache before every load and raw read")
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
    if model in ("sd15-random", "sd15-random-fp32"):
        dtype_name = "float32" if model.endswith("fp32") else "float16"
        model = str(build_sd15_random(Path(args.cache_dir).expanduser() / model, dtype_name))

    from safetensors.torch import load_file

    from studio.backends.torch_device import resolve_device
    from studio.core.requests import GenerationRequest
    from studio.session import StudioSession

    session = StudioSession()
    entry = session.library.resolve(model)
    size = args.size or (64 if args.model == "demo" else 512)
    request = GenerationRequest(model=model, prompt=PROMPT, steps=args.steps, width=size, height=size, seed=3,
                                guidance=4.0, scheduler="DPM++ 2M", device=args.device)
    device = resolve_device(args.device)  # as the studio resolves the request's device
    result: dict[str, object] = {"device": str(device), "cold": args.cold, "threads": args.threads,
                                 "model": args.model, "size": size, "steps": args.steps}

    # One-time imports: torch, then the plugin's module (diffusers, transformers), outside any load.
    start = time.perf_counter()
    session.registry.load_callable(session.registry.for_model(entry.kind, "txt2img"))
    result["imports_s"] = {"torch": round(torch_import, 3), "plugin": round(time.perf_counter() - start, 3)}

    if not args.skip_p5:
        weights = sorted(Path(entry.path).rglob("*.safetensors"))

        def prepare() -> None:
            """The same fresh state before every measurement: no model resident, page cache as asked."""
            session.models.clear()
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            if args.cold:
                drop_from_page_cache(weights)

        def read(convert) -> None:
            tensors = [{k: convert(t) for k, t in load_file(str(w)).items()} for w in weights]
            _sync(device)
            del tensors

        def map_and_touch() -> None:
            """The cheapest read there is: map the files, read every tensor once, copy nothing."""
            for w in weights:
                for t in load_file(str(w), device=str(device)).values():
                    t.sum()
            _sync(device)

        def load() -> None:
            session.load_model(request)
            _sync(device)

        def load_and_touch() -> None:
            """A load, then every weight read once: a load that maps fp32 files reads them only here."""
            pipe = session.load_model(request).pipe
            for module in (pipe.unet, pipe.vae, pipe.text_encoder):
                for parameter in module.parameters():
                    parameter.detach().sum()
            _sync(device)

        copy = (lambda t: t.clone()) if device.type == "cpu" else (lambda t: t.to(device))
        read(copy)  # page cache warm (dropped again before each measurement with --cold)
        prepare()
        result["P5_first_load_in_process_s"] = round(_timed(load), 3)
        dtype = dtype_of(session, request)
        measured: dict[str, list[float]] = {
            name: [] for name in ("load", "load_and_touch", "raw_read", "raw_read_and_cast", "raw_map_and_touch")
        }
        steps = {
            "load": load,
            "load_and_touch": load_and_touch,
            "raw_read": lambda: read(copy),
            "raw_read_and_cast": lambda: read(lambda t: t.to(device, dtype, copy=True)),
            "raw_map_and_touch": map_and_touch,
        }
        for i in range(args.load_repeat):
            for name in (list(steps) if i % 2 == 0 else list(steps)[::-1]):
                prepare()
                measured[name].append(_timed(steps[name]))
        median = {name: statistics.median(times) for name, times in measured.items()}
        result.update({
            "P5_weights_bytes": sum(w.stat().st_size for w in weights),
            "P5_load_dtype": str(dtype),
            **{f"P5_{name}_s": round(median[name], 3) for name in steps},
            **{f"P5_{name}_runs_s": [round(t, 3) for t in times] for name, times in measured.items()},
            "P5_load_ratio": round(median["load"] / median["raw_read"], 2),
            "P5_load_and_touch_ratio": round(median["load_and_touch"] / median["raw_read"], 2),
            "P5_load_vs_read_and_cast": round(median["load"] / median["raw_read_and_cast"], 2),
            "P5_load_and_touch_vs_map_and_touch": round(median["load_and_touch"] / median["raw_map_and_touch"], 2),
        })
        prepare()
        from studio_diffusers.previews import LatentPreview

        vae = session.load_model(request).pipe.vae
        result["P5_preview_map_fit_s"] = round(_timed(lambda: LatentPreview.fit(vae, vae.device, vae.dtype)), 3)

    if not args.skip_p1:
        # P1: the same generation, bare and through the studio, interleaved (which goes first alternates).
        from diffusers import DiffusionPipeline
        from studio_diffusers.schedulers import make_scheduler

        pipe = DiffusionPipeline.from_pretrained(entry.path, local_files_only=True, dtype=dtype_of(session, request))
        pipe.to(device)
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


def drop_from_page_cache(files: list[Path]) -> None:
    """Evict the files' pages (Linux; no root needed), so the next read comes from the disk."""
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize()


def dtype_of(session, request):
    """The dtype the studio runs the model in, so the bare pipeline does the same arithmetic."""
    return next(p.dtype for p in session.load_model(request).pipe.unet.parameters())


if __name__ == "__main__":
    main()
