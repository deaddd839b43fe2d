"""P1 and P5: the studio's generation path against bare diffusers doing the same work.

P1 — one txt2img generation through the studio's job (runner, plugin, previews every step, PNG with
metadata, gallery) vs a bare ``pipe(...)`` call with the same model, steps, size and seed, in one run.
Goal: ratio ≤ 1.02.
P5 — switching back to a model already loaded (goal ≤ 0.1 s), and the first load through the
studio vs reading the raw safetensors weights (goal ≤ 1.2×).

    .venv/bin/python bench/generation.py [--model demo|PATH] [--steps 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=None, help="image side (default: 64 for demo, else 512)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))

    import torch
    from diffusers import DiffusionPipeline
    from safetensors.torch import load_file

    from studio.core.requests import GenerationRequest
    from studio.session import StudioSession

    session = StudioSession()
    entry = session.library.resolve(args.model)
    size = args.size or (64 if args.model == "demo" else 512)
    request = GenerationRequest(model=args.model, prompt="a large blue square on the right on a white background",
                                steps=args.steps, width=size, height=size, seed=3, guidance=4.0,
                                scheduler="DPM++ 2M", device="cpu")

    # P5b: first load through the studio vs reading the raw weights (libraries imported first).
    session.registry.load_callable(session.registry.for_model(entry.kind, "txt2img"))
    weights = sorted(Path(entry.path).rglob("*.safetensors"))
    raw = _median_time(lambda: [load_file(str(w)) for w in weights], 3)
    start = time.perf_counter()
    job = session.runner.run_now(request.replace(steps=1))
    first_job = time.perf_counter() - start
    assert job.state.value == "done", job.error
    first_load = first_job - _median_time(lambda: session.runner.run_now(request.replace(steps=1)), 3)

    # P1: the same generation, bare and through the studio, interleaved.
    pipe = DiffusionPipeline.from_pretrained(entry.path, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    from studio_diffusers.schedulers import make_scheduler

    pipe.scheduler = make_scheduler(request.scheduler, dict(pipe.scheduler.config))

    def bare():
        pipe(request.prompt, num_inference_steps=args.steps, guidance_scale=request.guidance, width=size,
             height=size, generator=torch.Generator("cpu").manual_seed(3))

    def studio():
        assert session.runner.run_now(request).state.value == "done"

    bare()
    studio()
    bare_times, studio_times = [], []
    for _ in range(args.repeat):
        bare_times.append(_median_time(bare, 1))
        studio_times.append(_median_time(studio, 1))

    # P5a: switch to another model and back; the way back must not load anything.
    other = tempfile.mkdtemp(prefix="studio-bench-model-")
    import shutil

    shutil.copytree(entry.path, other, dirs_exist_ok=True)
    session.runner.run_now(request.replace(model=other, steps=1))
    key_count = len(session.models._models)
    start = time.perf_counter()
    session.runner.run_now(request.replace(steps=1))
    switch_back_job = time.perf_counter() - start
    one_step = _median_time(lambda: session.runner.run_now(request.replace(steps=1)), 3)
    session.close()
    shutil.rmtree(other, ignore_errors=True)

    result = {
        "device": "cpu",
        "model": args.model,
        "size": size,
        "steps": args.steps,
        "P1_bare_s": round(statistics.median(bare_times), 4),
        "P1_studio_s": round(statistics.median(studio_times), 4),
        "P1_ratio": round(statistics.median(studio_times) / statistics.median(bare_times), 4),
        "P5_switch_back_s": round(max(0.0, switch_back_job - one_step), 4),
        "P5_models_cached": key_count,
        "P5_first_load_s": round(first_load, 3),
        "P5_raw_safetensors_read_s": round(raw, 3),
        "P5_load_ratio": round(first_load / raw, 2) if raw else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
