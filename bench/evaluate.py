"""What the studio's own models make, judged (issue #15, point 5): one command, one table.

    .venv/bin/python bench/evaluate.py [--seeds 100] [--scorer demo-clip] [--json]

- Each image family (``demo-gan`` when installed, ``demo-vae``, ``demo``): the share of ``--seeds``
  samples the pixel judge calls valid (one shape of a palette colour on a plain data-set background,
  ``tests/vae/judge.py``) and a **Fréchet distance** between the samples and shapes data-set pictures,
  computed on the scorer's image features (the 256-value hidden layer of demo-clip's image encoder:
  no downloaded Inception weights exist here). ``demo`` draws the held-out captions in turn (DPM++ 2M,
  20 steps, guidance 2); the GAN and the VAE draw from their seeds. The row ``shapes data set`` is the
  floor: a second sample of the data set against the first.
- The scorer's text→image top-1 over the held-out shapes pairs.
- ``demo-lstm``'s and ``demo-text``'s held-out perplexity against their unigram baseline, read from the
  ``training_metrics.json`` saved with each model.
Runs on one CPU thread; ``demo``'s pictures take most of the time (about 1 s each here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from studio.training import shapes  # noqa: E402

IMAGE_FAMILIES = ("demo-gan", "demo-vae", "demo")
TEXT_MODELS = ("demo-lstm", "demo-text")
REFERENCE_SEED = 99


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature rows ``a`` and ``b``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(0))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(0)  # eigenvalues of (cov_a cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(cross).sum())


def samples(session, model: str, seeds: int) -> list:
    """``seeds`` pictures of ``model`` as ``studio generate`` draws them (not written anywhere)."""
    from studio.core.requests import GenerationRequest

    if model != "demo":
        request = GenerationRequest(model=model, width=64, height=64, seed=0, batch=seeds, steps=1)
        return [o.image for o in session.load_model(request).run(request, _quiet, _never).images]
    captions = [spec.caption for spec in shapes.heldout_specs()]
    pictures = []
    for seed in range(seeds):
        request = GenerationRequest(model="demo", prompt=captions[seed % len(captions)], seed=seed, width=64,
                                    height=64, steps=20, guidance=2.0, scheduler="DPM++ 2M")
        pictures.extend(o.image for o in session.load_model(request).run(request, _quiet, _never).images)
    return pictures


def data_pictures(count: int, seed: int) -> list:
    """``count`` shapes data-set pictures of combinations drawn at random (all splits)."""
    data = shapes.ShapesDataset(len(shapes.all_specs()) * 8, seed=seed, split="all")
    return [data[int(i)]["image"] for i in np.random.default_rng(seed).permutation(len(data))[:count]]


def _quiet(*args, **kwargs) -> None:
    return None


def _never() -> bool:
    return False


def perplexities(name: str) -> dict[str, float] | None:
    path = ROOT / "resources" / "models" / name / "training_metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    return {"perplexity": metrics["held_out_perplexity"], "unigram": metrics["unigram_perplexity"]}


def evaluate(seeds: int, scorer_name: str) -> dict:
    import torch

    from studio.core.requests import ScoreRequest
    from studio.session import StudioSession
    from tests.clip.evaluate import heldout_top1
    from tests.vae.judge import is_valid

    torch.set_num_threads(1)
    session = StudioSession()
    try:
        scorer = session.load_model(ScoreRequest(model=scorer_name, images=("x",), prompts=("x",)))
        encoder = scorer.module.image

        def features(pictures: list) -> np.ndarray:
            from studio_clip.recipe import to_tensor

            with torch.no_grad():
                return encoder.features_of(torch.stack([to_tensor(p) for p in pictures])).double().numpy()

        count = max(seeds, 1000)
        reference = features(data_pictures(count, REFERENCE_SEED))
        floor = data_pictures(seeds, REFERENCE_SEED + 1)
        rows = {"shapes data set": {"valid": np.mean([is_valid(p) for p in floor]),
                                    "frechet": frechet_distance(features(floor), reference), "seconds": 0.0}}
        for model in IMAGE_FAMILIES:
            try:
                session.library.resolve(model)
            except Exception:  # not installed here (demo-gan before it ships)
                continue
            t0 = time.time()
            pictures = samples(session, model, seeds)
            rows[model] = {"valid": float(np.mean([is_valid(p) for p in pictures])),
                           "frechet": frechet_distance(features(pictures), reference),
                           "seconds": round(time.time() - t0, 1)}
        with tempfile.TemporaryDirectory() as work:
            top1 = heldout_top1(scorer, Path(work))
    finally:
        session.close()
    return {"seeds": seeds, "scorer": scorer_name, "images": rows, "scorer_heldout_text_to_image_top1": top1,
            "text": {name: perplexities(name) for name in TEXT_MODELS}}


def table(result: dict) -> str:
    lines = [f"| image model | valid ({result['seeds']} seeds) | Fréchet distance ({result['scorer']} features) |",
             "|---|---|---|"]
    for name, row in result["images"].items():
        lines.append(f"| {name} | {row['valid']:.0%} | {row['frechet']:.2f} |")
    lines += ["", f"Scorer text→image top-1 on the held-out shapes pairs: "
                  f"{result['scorer_heldout_text_to_image_top1']:.1%}", "",
              "| text model | held-out perplexity | unigram |", "|---|---|---|"]
    for name, row in result["text"].items():
        lines.append(f"| {name} | {row['perplexity']:.2f} | {row['unigram']:.2f} |" if row else f"| {name} | — | — |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100, help="samples per image model")
    parser.add_argument("--scorer", default="demo-clip", help="the scorer whose image features the distance uses")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args(argv)
    result = evaluate(args.seeds, args.scorer)
    print(json.dumps(result, indent=2, default=float) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
