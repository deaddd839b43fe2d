"""P2: ONNX Runtime (CPU provider) vs torch (CPU) on the same Stable Diffusion request.

Per-step UNet time (the classifier-free-guidance batch of 2, as a generation runs it) and end-to-end
image time through the studio's job runner, on the ``demo`` model (or ``--model``) at the given
sizes. Goal: ORT ≤ 0.7× torch per step. Then text tokens/s of the same greedy ``TextRequest`` on
both backends (``--text-model``, default ``demo-text``; ``--text-model ''`` skips it). Run with the
threads you want to compare at, e.g.

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python bench/backends.py --sizes 64 256

The export goes to a temporary STUDIO_HOME unless ``--home`` names one (then it is reused).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _median_seconds(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=10, help="steps of the end-to-end image")
    parser.add_argument("--repeats", type=int, default=10, help="UNet calls timed per size")
    parser.add_argument("--home", help="STUDIO_HOME to use (keeps the export between runs)")
    parser.add_argument("--text-model", default="demo-text", help="language model for tokens/s ('' skips)")
    parser.add_argument("--text-tokens", type=int, default=100)
    parser.add_argument("--image-model", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the image model (--no-image-model: text only)")
    args = parser.parse_args(argv)
    os.environ["STUDIO_HOME"] = args.home or tempfile.mkdtemp(prefix="studio-bench-")

    import numpy as np
    import torch

    from studio.core.requests import GenerationRequest, TextRequest
    from studio.jobs import JobState
    from studio.session import StudioSession

    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or None
    if threads:
        torch.set_num_threads(threads)
    session = StudioSession()
    rows = []
    try:
        # export (or reuse) and warm both backends with a first image
        def image(backend: str, size: int):
            request = GenerationRequest(model=args.model, prompt="a red circle on the left", width=size,
                                        height=size, steps=args.steps, seed=1, backend=backend, device="cpu")
            job = session.runner.run_now(request)
            if job.state is not JobState.DONE:
                raise SystemExit(f"{backend} failed: {job.error}")
            return job

        text_rows = _text_speed(session, args, TextRequest, JobState) if args.text_model else []
        if not args.image_model:
            _print_text(text_rows, args, threads)
            return 0
        started = time.perf_counter()
        first = image("onnx", args.sizes[0])
        print(f"export + first ONNX image: {time.perf_counter() - started:.1f} s "
              f"(export {first.result.data.get('export_seconds') or 0:.1f} s)", flush=True)
        image("torch", args.sizes[0])
        torch_model = next(m for m in session.models._models.values() if hasattr(m, "pipe"))
        onnx_model = next(m for m in session.models._models.values() if hasattr(m, "cache"))
        pipe, ort_pipe = torch_model.pipe, onnx_model._active[1]
        unet = pipe.unet
        hidden = pipe.text_encoder.config.hidden_size
        length = pipe.tokenizer.model_max_length
        scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        for size in args.sizes:
            side = size // scale
            latents = torch.randn(2, unet.config.in_channels, side, side, generator=torch.Generator().manual_seed(0))
            states = torch.randn(2, length, hidden, generator=torch.Generator().manual_seed(1))
            t = torch.tensor(500)

            def torch_step(latents=latents, states=states, t=t):
                with torch.inference_mode():
                    unet(latents, t, encoder_hidden_states=states, return_dict=False)

            def ort_step(latents=latents, states=states, t=t):
                ort_pipe.unet(latents, t, states)

            difference = float(np.abs(ort_pipe.unet(latents, t, states).numpy() - unet(
                latents, t, encoder_hidden_states=states, return_dict=False)[0].detach().numpy()).max())
            torch_s = _median_seconds(torch_step, args.repeats)
            ort_s = _median_seconds(ort_step, args.repeats)
            torch_image = _median_seconds(lambda size=size: image("torch", size), 3, warmup=1)
            ort_image = _median_seconds(lambda size=size: image("onnx", size), 3, warmup=1)
            rows.append((size, torch_s, ort_s, torch_image, ort_image, difference))
            print(f"{size}²: UNet step torch {torch_s * 1000:.1f} ms, ORT {ort_s * 1000:.1f} ms "
                  f"(ratio {ort_s / torch_s:.2f}); image ({args.steps} steps) torch {torch_image:.2f} s, "
                  f"ORT {ort_image:.2f} s (ratio {ort_image / torch_image:.2f}); max |Δ| UNet {difference:.1e}",
                  flush=True)
    finally:
        session.close()
    print(f"\nmodel {args.model}, threads {threads or 'default'}, ORT provider {first.result.data.get('provider')}")
    print("| size | UNet step torch | UNet step ORT | ratio | image torch | image ORT | ratio |")
    print("|---|---|---|---|---|---|---|")
    for size, torch_s, ort_s, torch_image, ort_image, _ in rows:
        print(f"| {size}² | {torch_s * 1000:.1f} ms | {ort_s * 1000:.1f} ms | {ort_s / torch_s:.2f} | "
              f"{torch_image:.2f} s | {ort_image:.2f} s | {ort_image / torch_image:.2f} |")
    goal = all(ort_s <= 0.7 * torch_s for _, torch_s, ort_s, *_ in rows)
    print(f"goal ORT ≤ 0.7× torch per step: {'met' if goal else 'NOT met'}")
    _print_text(text_rows, args, threads)
    return 0


def _text_speed(session, args, TextRequest, JobState) -> list[tuple[str, float, float, str]]:
    """(backend, tokens/s, first-job seconds incl. export, provider) of a greedy generation of
    ``--text-tokens`` tokens, the median of 3 after a warm-up job; both backends give the same text."""
    rows, texts = [], {}
    for backend in ("onnx", "torch"):
        request = TextRequest(model=args.text_model, prompt="The", max_new_tokens=args.text_tokens, seed=1,
                              temperature=0.0, repetition_penalty=1.1, backend=backend, device="cpu")
        started = time.perf_counter()
        job = session.runner.run_now(request)
        first = time.perf_counter() - started
        if job.state is not JobState.DONE:
            raise SystemExit(f"text on {backend} failed: {job.error}")
        tokens = job.result.data["new_tokens"]
        seconds = _median_seconds(lambda request=request: session.runner.run_now(request), 3, warmup=0)
        texts[backend] = job.result.text
        rows.append((backend, tokens / seconds, first, job.result.data.get("provider", "")))
        print(f"text {backend}: {tokens / seconds:.1f} tokens/s ({tokens} tokens; first job {first:.1f} s)",
              flush=True)
    print(f"greedy text identical on both backends: {texts['onnx'] == texts['torch']}")
    return rows


def _print_text(rows, args, threads) -> None:
    if not rows:
        return
    speed = {backend: tps for backend, tps, *_ in rows}
    print(f"\ntext model {args.text_model}, {args.text_tokens} greedy tokens, threads {threads or 'default'}")
    print("| backend | tokens/s | first job (with export) |")
    print("|---|---|---|")
    for backend, tps, first, provider in rows:
        print(f"| {backend}{f' ({provider})' if provider else ''} | {tps:.1f} | {first:.1f} s |")
    print(f"ORT / torch tokens/s: {speed['onnx'] / speed['torch']:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
