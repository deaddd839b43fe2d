"""Judge a picture family's samples by their pixels: the share of seeds whose picture is a valid shapes
picture (the GAN's and the VAE's goal, issue #15).

    .venv/bin/python -m tests.sample_validity gan resources/models/demo-gan --seeds 100
    .venv/bin/python -m tests.sample_validity vae resources/models/demo-vae --seeds 100
"""

from __future__ import annotations

import argparse
import importlib
import json

from studio.plugins import GenerationRequest, LoadContext
from tests.vae.judge import is_valid


def sample_validity(family: str, folder: str, seeds: range) -> float:
    """The share of ``seeds`` whose sample (as ``studio generate --seed S`` draws it) from the ``family``
    ("gan", "vae") model in ``folder`` is valid."""
    entry = importlib.import_module(f"studio_{family}.detect").identify(folder)
    assert entry is not None, f"{folder} is not a {family.upper()} folder"
    model = importlib.import_module(f"studio_{family}.loader").load(LoadContext(model=entry, device="cpu"))
    request = GenerationRequest(model=folder, width=64, height=64, seed=seeds.start, batch=len(seeds))
    result = model.run(request, lambda *a, **k: None, lambda: False)
    return sum(is_valid(output.image) for output in result.images) / len(seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=("gan", "vae"))
    parser.add_argument("model")
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    share = sample_validity(args.family, args.model, range(args.seeds))
    print(json.dumps({"model": args.model, "seeds": args.seeds, "valid": round(share, 3)}))


if __name__ == "__main__":
    main()
