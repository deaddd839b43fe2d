"""Judge the ``demo`` text-to-image model by its pixels on held-out caption combinations.

For each held-out caption (combinations never seen in training) and seed, render a 64×64 image
with the saved pipeline and judge it: background (border colour), foreground colour (nearest
palette colour), shape (a triangle tapers: its top third is much narrower than its bottom
third; otherwise the fill ratio of the bounding box tells a circle ≈ 0.79 from a square ≈ 1),
position (nearest of the five anchors to the centre of the shape's bounding box) and size.
Prints accuracies as JSON. By default it renders as ``studio generate --model demo`` does
(DPM++ 2M, 20 steps, guidance 2, the model's studio-defaults.json).

    python bench/demo_eval.py --model resources/models/demo            # the model
    python bench/demo_eval.py --ground-truth                          # validate the judge itself
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.training import shapes

_BG = {k: np.array(v, float) for k, v in shapes.BACKGROUNDS.items()}
_PAL = {k: np.array(v, float) for k, v in shapes.PALETTE.items()}


def _nearest(colour: np.ndarray, table: dict[str, np.ndarray]) -> str:
    return min(table, key=lambda k: float(np.linalg.norm(table[k] - colour)))


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of a boolean mask (stray pixels dropped)."""
    seen = np.zeros_like(mask)
    best: list[tuple[int, int]] = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        stack, comp = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            comp.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(comp) > len(best):
            best = comp
    out = np.zeros_like(mask)
    if best:
        ys, xs = zip(*best, strict=True)
        out[list(ys), list(xs)] = True
    return out


def judge(image) -> dict[str, object]:
    """What a 64×64 RGB image shows, judged by its pixels alone."""
    a = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, dtype=float)
    border = np.concatenate([a[:2].reshape(-1, 3), a[-2:].reshape(-1, 3),
                             a[:, :2].reshape(-1, 3), a[:, -2:].reshape(-1, 3)])
    bg = np.median(border, axis=0)
    d_bg = np.linalg.norm(a - bg, axis=2)
    rough = d_bg > 60
    out: dict[str, object] = {"background": _nearest(bg, _BG)}
    if rough.sum() < 6:
        out.update(colour=None, shape=None, position=None, size=None, area=int(rough.sum()))
        return out
    fg = np.median(a[rough], axis=0)
    mask = d_bg > np.linalg.norm(a - fg, axis=2)  # nearer the shape's colour than the background's
    mask = _largest_component(mask)
    ys, xs = np.nonzero(mask)
    if len(xs) < 6:
        ys, xs = np.nonzero(_largest_component(rough))
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    w, h = x1 - x0 + 1, y1 - y0 + 1
    fill = len(xs) / max(1.0, w * h)
    cx, cy = (x0 + x1) / 2 + 0.5, (y0 + y1) / 2 + 0.5
    position = min(shapes.POSITIONS, key=lambda k: (shapes.POSITIONS[k][0] - cx) ** 2
                   + (shapes.POSITIONS[k][1] - cy) ** 2)
    # A triangle (apex up) is narrow in the top third of its box and wide in the bottom third;
    # this survives blur better than the fill ratio alone. Circle vs square: fill ratio.
    band = max(1, round(h / 3))
    rows = mask[int(y0):int(y1) + 1, int(x0):int(x1) + 1].sum(axis=1)
    taper = rows[:band].mean() / max(1.0, rows[-band:].mean())
    shape = "triangle" if taper < 0.6 or fill < 0.62 else "circle" if fill < 0.89 else "square"
    extent = max(w, h)
    out.update(colour=_nearest(fg, _PAL), shape=shape, position=position,
               size="large" if extent > 21 else "small", fill=round(float(fill), 3),
               taper=round(float(taper), 3),
               centre=[round(float(cx), 1), round(float(cy), 1)], extent=round(float(extent), 1),
               area=len(xs))
    return out


FACTORS = ("colour", "position", "shape", "size", "background")


def score(pairs) -> dict[str, object]:
    """``pairs``: (spec, judged dict) → accuracy per factor and for all factors at once."""
    n = len(pairs)
    acc = {f: sum(j.get(f) == getattr(s, f) for s, j in pairs) / n for f in FACTORS}
    acc["all"] = sum(all(j.get(f) == getattr(s, f) for f in FACTORS) for s, j in pairs) / n
    return {"n": n, **{k: round(v, 4) for k, v in acc.items()}}


def ground_truth(seeds: int) -> dict[str, object]:
    pairs = []
    for seed in range(seeds):
        ds = shapes.ShapesDataset(len(shapes.heldout_specs()), seed=seed, split="heldout")
        pairs += [(it["spec"], judge(it["image"])) for it in (ds[i] for i in range(len(ds)))]
    all_ds = shapes.ShapesDataset(len(shapes.all_specs()), seed=5, split="all")
    pairs += [(it["spec"], judge(it["image"])) for it in (all_ds[i] for i in range(len(all_ds)))]
    return score(pairs)


SCHEDULERS = {"folder": None, "DPM++ 2M": "DPMSolverMultistepScheduler", "DDIM": "DDIMScheduler",
              "Euler a": "EulerAncestralDiscreteScheduler", "Euler": "EulerDiscreteScheduler"}


def evaluate(model: str, seeds: int = 1, steps: int = 20, guidance: float = 4.0,
             batch: int = 33, save: str | None = None, limit: int | None = None,
             scheduler: str = "DPM++ 2M") -> dict:
    import diffusers
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model)
    if SCHEDULERS[scheduler]:  # built from the model's own config, as the studio does
        pipe.scheduler = getattr(diffusers, SCHEDULERS[scheduler]).from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    specs = shapes.heldout_specs()[:limit]
    jobs = [(s, seed) for seed in range(seeds) for s in specs]
    pairs, t0 = [], time.time()
    for i in range(0, len(jobs), batch):
        chunk = jobs[i:i + batch]
        gens = [torch.Generator().manual_seed(1000 + seed) for _, seed in chunk]
        images = pipe([s.caption for s, _ in chunk], num_inference_steps=steps,
                      guidance_scale=guidance, generator=gens).images
        for (s, seed), im in zip(chunk, images, strict=True):
            j = judge(im)
            pairs.append((s, j))
            if save:
                Path(save).mkdir(parents=True, exist_ok=True)
                im.save(Path(save) / f"{s.key}-{seed}.png")
    res = score(pairs)
    res.update(model=model, scheduler=scheduler, steps=steps, guidance=guidance,
               seconds=round(time.time() - t0, 1),
               image_size=list(images[0].size))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resources/models/demo")
    p.add_argument("--seeds", type=int, default=1, help="seeds per held-out caption (66 captions)")
    p.add_argument("--steps", type=int, default=20, help="denoising steps (studio default for demo: 20)")
    p.add_argument("--guidance", type=float, nargs="+", default=[2.0],
                   help="one or more guidance scales (studio default for demo: 4.0)")
    p.add_argument("--scheduler", choices=list(SCHEDULERS), nargs="+", default=["DPM++ 2M"],
                   help="'folder' keeps the model's own (DDIM); default: the studio's DPM++ 2M")
    p.add_argument("--limit", type=int, default=None, help="only the first N held-out captions")
    p.add_argument("--save", default=None, help="folder to write the rendered images to")
    p.add_argument("--ground-truth", action="store_true",
                   help="judge the data set's own images instead (validates the judge)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    a = p.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.ground_truth:
        print(json.dumps({"ground_truth": ground_truth(3)}))
        return 0
    for sched in a.scheduler:
        for g in a.guidance:
            res = evaluate(a.model, a.seeds, a.steps, g, save=a.save, limit=a.limit, scheduler=sched)
            print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
