"""Judge a GAN's samples by their pixels: the share of seeds whose picture is a valid shapes picture.

    .venv/bin/python -m tests.gan.evaluate resources/models/demo-gan --seeds 100
"""

from __future__ import annotations

import argparse
import json

from studio_gan.detect import identify
from studio_gan.loader import load

from studio.plugins import GenerationRequest, LoadContext
from tests.vae.judge import is_valid


def sample_validity(folder: str, seeds: range) -> float:
    """The share of ``seeds`` whose sample (as ``studio generate --seed S`` draws it) is valid."""
    entry = identify(folder)
    assert entry is not None, f"{folder} is not a GAN folder"
    model = load(LoadContext(model=entry, device="cpu"))
    request = GenerationRequest(model=folder, width=64, height=64, seed=seeds.start, batch=len(seeds))
    result = model.run(request, lambda *a, **k: None, lambda: False)
    return sum(is_valid(output.image) for output in result.images) / len(seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    share = sample_validity(args.model, range(args.seeds))
    print(json.dumps({"model": args.model, "seeds": args.seeds, "valid": round(share, 3)}))


if __name__ == "__main__":
    main()
