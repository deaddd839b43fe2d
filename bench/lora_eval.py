"""Judge a star LoRA on the demo model by its pixels: stars drawn for star prompts (with and without the
LoRA) and old shapes kept. The star judge is tests/fixtures/stars.py's (points of the outline and
solidity); the old shapes are judged as bench/demo_eval.py judges them.

    python bench/lora_eval.py LORA.safetensors [--seeds 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAR_PROMPTS = [("large", "red", "left", "white"), ("large", "blue", "right", "white"),
                ("large", "green", "centre", "black"), ("large", "yellow", "top", "gray"),
                ("large", "purple", "bottom", "white"), ("large", "orange", "left", "gray"),
                ("large", "green", "centre", "white"), ("large", "red", "right", "black"),
                ("large", "blue", "top", "white"), ("large", "orange", "centre", "black")]
# Small (16 px) stars are beyond the demo: its VAE gives back no 16-px star it is handed (encode → decode
# of 24 clean small stars: 0 judged stars, all round; of the large ones 24/24), so no LoRA on the UNet and
# text encoder can draw one. They are measured apart (--small), not counted in the goal's ten.
SMALL_STAR_PROMPTS = [("small", "green", "centre", "black"), ("small", "orange", "left", "gray"),
                      ("small", "red", "right", "black")]
# Old shapes, each with its seed: of twelve large-shape prompts (seeds 300 + index) the first five, across
# the three shapes, whose picture by the base model the judge calls right (the base draws some squares
# with corners so round that the judge says circle; "kept" is only measurable where it was right).
OLD_PROMPTS = [(("large", "red", "circle", "left", "white"), 300),
               (("large", "green", "triangle", "centre", "black"), 302),
               (("large", "orange", "triangle", "left", "gray"), 305),
               (("large", "red", "square", "top", "white"), 307),
               (("large", "yellow", "square", "centre", "black"), 309)]


def evaluate(lora: str | None, seeds: int = 1, model: str = "demo") -> dict[str, object]:
    from PIL import Image

    from studio.core.requests import GenerationRequest, LoraRef
    from studio.session import StudioSession
    from tests.fixtures.stars import PHRASES, judge, star_caption

    loras = (LoraRef(lora, 1.0),) if lora else ()
    session = StudioSession()
    rows: list[dict[str, object]] = []
    try:
        def render(prompt: str, seed: int):
            request = GenerationRequest(model=model, prompt=prompt, seed=seed, width=64, height=64, steps=20,
                                        guidance=2.0, scheduler="DPM++ 2M", loras=loras)
            job = session.runner.run_now(request)
            return judge(Image.open(job.result.artifacts[0].path))

        stars = old = small = 0
        for seed in range(seeds):
            for i, spec in enumerate(SMALL_STAR_PROMPTS):
                got = render(star_caption(*spec), 200 + 17 * seed + i)
                ok = got["shape"] == "star" and got["colour"] == spec[1]
                small += ok
                rows.append({"prompt": star_caption(*spec), "ok": ok, "counted": False, **got})
            for i, spec in enumerate(STAR_PROMPTS):
                got = render(star_caption(*spec), 100 + 17 * seed + i)
                ok = got["shape"] == "star" and got["colour"] == spec[1]
                stars += ok
                rows.append({"prompt": star_caption(*spec), "ok": ok, **got})
            for (size, colour, shape, place, bg), old_seed in OLD_PROMPTS:
                prompt = f"a {size} {colour} {shape} {PHRASES[place]} on a {bg} background"
                got = render(prompt, old_seed + 17 * seed)
                ok = got["shape"] == shape and got["colour"] == colour
                old += ok
                rows.append({"prompt": prompt, "ok": ok, **got})
    finally:
        session.close()
    return {"lora": lora, "stars": f"{stars}/{len(STAR_PROMPTS) * seeds}",
            "old_shapes_kept": f"{old}/{len(OLD_PROMPTS) * seeds}",
            "small_stars_not_counted": f"{small}/{len(SMALL_STAR_PROMPTS) * seeds}", "rows": rows}


def vae_round_trip(model: str = "demo") -> dict[str, str]:
    """Stars the model's VAE gives back (encode → decode, judged) of clean stars in every colour, at two
    places and on two backgrounds: what any LoRA on the UNet and text encoder can hope to draw."""
    import itertools

    import numpy as np
    import torch
    from diffusers import AutoencoderKL
    from PIL import Image

    from studio.core.library import DEMO_NAMES
    from studio.core.paths import DEMO_MODELS
    from tests.fixtures.stars import PALETTE, SIZES, draw_star, judge

    vae = AutoencoderKL.from_pretrained(DEMO_MODELS / DEMO_NAMES[model] / "vae").eval()
    kept = {size: 0 for size in SIZES}
    total = {size: 0 for size in SIZES}
    for size, colour, place, background in itertools.product(SIZES, PALETTE, ("left", "centre"), ("white", "black")):
        picture = np.asarray(draw_star(size, colour, place, background), dtype=np.float32) / 127.5 - 1
        with torch.no_grad():
            latents = vae.encode(torch.from_numpy(picture).permute(2, 0, 1)[None]).latent_dist.mode()
            back = vae.decode(latents).sample[0].permute(1, 2, 0).clamp(-1, 1)
        got = judge(Image.fromarray(((back + 1) * 127.5).round().byte().numpy()))
        kept[size] += got["shape"] == "star" and got["colour"] == colour
        total[size] += 1
    return {size: f"{kept[size]}/{total[size]}" for size in SIZES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lora", nargs="?", default=None, help="LoRA file (none: the base model)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--rows", action="store_true", help="print every judged picture")
    parser.add_argument("--vae", action="store_true", help="also: the stars the demo's VAE gives back")
    args = parser.parse_args()
    result = evaluate(args.lora, args.seeds)
    if args.vae:
        result["vae_round_trip_stars"] = vae_round_trip()
    if not args.rows:
        result.pop("rows")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
