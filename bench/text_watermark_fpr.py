"""Watermark detection rates of the causal-LM plugin: z-scores of watermarked generations and the
false-positive rate on paragraphs people wrote (the repo's README, docs, DESIGN.md and module
docstrings — at least 50 of them).

    python bench/text_watermark_fpr.py [--model demo-text] [--generations 20] [--tokens 200]

Prints JSON: for watermarked text the z-scores and the share detected (z >= 4); for human text
the z-scores' max/mean and the false-positive rates at z >= 3 and z >= 4.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.requests import TextRequest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo-text", help="library name or model folder")
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from tests.text.conftest import human_paragraphs, load_through_plugin

    torch.set_num_threads(args.threads)
    from studio.library_setup import library_for

    entry = library_for(scan_hf_cache=False).resolve(args.model)
    model = load_through_plugin(Path(entry.path))
    quiet, never = (lambda *a, **k: None), (lambda: False)

    def z(text: str) -> float:
        return model.run(TextRequest(model="m", prompt=text, mode="detect"), quiet, never).data["z_score"]

    t0 = time.perf_counter()
    prompts = ["The", "My lord,", "What is the", "A designer", "In the morning"]
    marked, unmarked = [], []
    for i in range(args.generations):
        request = TextRequest(model="m", prompt=prompts[i % len(prompts)], max_new_tokens=args.tokens, seed=i,
                              watermark=True)
        marked.append(z(model.run(request, quiet, never).text))
        unmarked.append(z(model.run(request.replace(watermark=False), quiet, never).text))
    human = [z(p) for p in human_paragraphs()]
    report = {
        "model": entry.path,
        "watermarked": {"n": len(marked), "tokens": args.tokens, "z_min": min(marked),
                        "z_median": statistics.median(marked),
                        "detected_share_z4": sum(v >= 4 for v in marked) / len(marked)},
        "unmarked_generations": {"n": len(unmarked), "z_max": max(unmarked),
                                 "false_positive_rate_z4": sum(v >= 4 for v in unmarked) / len(unmarked)},
        "human_paragraphs": {"n": len(human), "z_max": max(human), "z_mean": statistics.mean(human),
                             "false_positive_rate_z3": sum(v >= 3 for v in human) / len(human),
                             "false_positive_rate_z4": sum(v >= 4 for v in human) / len(human)},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
