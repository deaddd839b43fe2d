"""Judge the ``demo-text`` language model on the plays it never saw.

Held-out perplexity (non-overlapping 128-token windows over the three held-out plays) against an
add-one-smoothed unigram model of the training tokens with the same tokenizer, plus a few seeded
samples. Prints JSON.

    python bench/demo_text_eval.py [--model resources/models/demo-text]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio_transformers import demo_text  # the recipe lives in the transformers family's plugin

from studio.core.paths import DEMO_MODELS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(DEMO_MODELS / "demo-text"))
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(args.model, local_files_only=True, dtype=torch.float32).eval()
    train_plays, held_plays, names = demo_text.load_corpus(demo_text.corpus_dir())
    train_ids = demo_text.encode_plays(tokenizer, train_plays)
    held_ids = demo_text.encode_plays(tokenizer, held_plays)
    ppl = demo_text.model_perplexity(model, held_ids, args.block)
    uni = demo_text.unigram_perplexity(train_ids, held_ids, len(tokenizer))
    size = sum(p.stat().st_size for p in Path(args.model).iterdir() if p.is_file())
    report = {
        "model": args.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "folder_bytes": size,
        "held_out_plays": names,
        "held_out_tokens": len(held_ids),
        "held_out_perplexity": round(ppl, 2),
        "unigram_perplexity": round(uni, 2),
        "ratio": round(ppl / uni, 3),
        "samples_seed5": demo_text.samples(model, tokenizer, seed=5),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
