"""P10, high resolution: peak memory of a 512² against a 2048² output, and the time per megapixel.

Each case runs in a fresh process (the peak resident set, ``ru_maxrss``, is per process); the figure
is the growth of the peak from the 512² case to the 2048² one (goal ≤ 1.5×), given for the whole
process and for what the run itself added above the process after its imports and model load.

- ``tiled``: tiled image-to-image on the shipped ``demo`` model (:func:`studio_diffusers.tiles.tiled_img2img`,
  MultiDiffusion-style latent windows, VAE tiling above 1024 px): a picture Lanczos-upscaled from 128²
  (resp. 512²) to 512² (resp. 2048²) and denoised with strength 0.3 (``--steps`` × 0.3 steps).
- ``esrgan``: a model upscaler in 128-px tiles (:mod:`studio_diffusers.upscalers`), an RRDBNet with
  random weights of ``--features`` features and ``--blocks`` blocks (real ESRGAN: 64 and 23), ×4 from
  128² (resp. 512²).

Usage: ``OMP_NUM_THREADS=1 .venv/bin/python bench/hires.py [--cases tiled esrgan] [--steps 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GROWTH_GOAL = 1.5
SIDES = (512, 2048)


def rss_mb() -> float:
    """This process's resident set now, in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def source_picture(side: int):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (side, side), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    draw.ellipse((side // 8, side // 4, side // 2, side * 3 // 4), fill=(220, 40, 40))
    draw.rectangle((side * 5 // 8, side // 8, side - side // 16, side // 2), fill=(40, 80, 220))
    return image


def run_tiled(side: int, steps: int) -> dict[str, Any]:
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="bench-hires-"))
    from PIL import Image
    from studio_diffusers.prompt_weights import prompt_arguments
    from studio_diffusers.tiles import tiled_img2img

    from studio.core.requests import GenerationRequest
    from studio.session import StudioSession

    session = StudioSession()
    model = session.load_model(GenerationRequest(model="demo", prompt="x"))
    request = GenerationRequest(model="demo", prompt="a red circle on a white background", init_image="x")
    pipe = model._pipeline(request)
    pipe.scheduler = model._scheduler("Euler a")
    args = prompt_arguments(pipe, request)
    picture = source_picture(side // 4).resize((side, side), Image.Resampling.LANCZOS)
    before, start = rss_mb(), time.perf_counter()
    out = tiled_img2img(pipe, picture, args, steps=steps, strength=0.3, guidance=4.0, seed=1,
                        report=lambda *a: None, cancelled=lambda: False)
    seconds = time.perf_counter() - start
    assert out.size == (side, side)
    session.close()
    return {"seconds": seconds, "rss_before_run_mb": before}


def run_esrgan(side: int, features: int, blocks: int) -> dict[str, Any]:
    import torch
    from studio_diffusers.esrgan import RRDBNet
    from studio_diffusers.upscalers import Upscaler

    torch.manual_seed(0)
    model = RRDBNet(3, 3, features=features, blocks=blocks, growth=features // 2, upsamples=2).eval()
    picture = source_picture(side // 4)
    before, start = rss_mb(), time.perf_counter()
    out = Upscaler("bench", model, 4).upscale(picture, (side, side), tile=128)
    seconds = time.perf_counter() - start
    assert out.size == (side, side)
    return {"seconds": seconds, "rss_before_run_mb": before}


def child(case: str, side: int, options: dict[str, Any]) -> dict[str, Any]:
    if case == "tiled":
        found = run_tiled(side, options["steps"])
    else:
        found = run_esrgan(side, options["features"], options["blocks"])
    found["peak_mb"] = peak_mb()
    found["run_added_mb"] = found["peak_mb"] - found["rss_before_run_mb"]
    found["seconds_per_megapixel"] = found["seconds"] / (side * side / 1e6)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["tiled", "esrgan"], choices=("tiled", "esrgan"))
    parser.add_argument("--steps", type=int, default=10, help="tiled: scheduler steps (× 0.3 are run)")
    parser.add_argument("--features", type=int, default=32, help="esrgan: RRDBNet features")
    parser.add_argument("--blocks", type=int, default=2, help="esrgan: RRDBNet blocks")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    options = {"steps": args.steps, "features": args.features, "blocks": args.blocks}
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), options)))
        return 0
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                              "threads": os.environ.get("OMP_NUM_THREADS", "unset"), "options": options}
    for case in args.cases:
        rows = {}
        for side in SIDES:
            command = [sys.executable, __file__, "--child", case, str(side), "--steps", str(args.steps),
                       "--features", str(args.features), "--blocks", str(args.blocks)]
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True)
            rows[side] = json.loads(done.stdout.strip().splitlines()[-1])
        small, large = rows[SIDES[0]], rows[SIDES[1]]
        report[case] = {
            **{f"{side}": {k: round(v, 2) for k, v in row.items()} for side, row in rows.items()},
            "peak_growth": round(large["peak_mb"] / small["peak_mb"], 2),
            "run_added_growth": round(large["run_added_mb"] / max(small["run_added_mb"], 1.0), 2),
            "goal_peak_growth": GROWTH_GOAL,
        }
        print(json.dumps({case: report[case]}), flush=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
