"""P6: tokens/s and time to first token of the studio's text path against a bare ``model.generate``.

Both run in this process, on the same loaded model (``demo-text`` by default, loaded through the
causal-LM plugin), with the same prompt, seed and sampling settings, alternating, ``--runs`` times:

- studio: a ``TextRequest`` through ``StudioSession`` → job runner → plugin (streamer thread,
  stop criterion, progress events, SQLite progress writes); first token = first text chunk the job
  listener receives; the clock starts when the job is submitted;
- bare: ``model.generate(**same kwargs)``; first token = first generated token handed to a no-op
  streamer; the clock starts at the call.

Prints medians and the ratios (goal: tokens/s ratio >= 0.97, first token within +50 ms).

    python bench/text_speed.py [--model demo-text] [--tokens 200] [--runs 5] [--threads 1]
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


class FirstChunk:
    """Job listener that notes when the first text chunk arrives."""

    def __init__(self) -> None:
        self.first: float | None = None

    def job_changed(self, job) -> None:
        pass

    def job_event(self, job_id, event) -> None:
        from studio.core.events import TextChunk

        if isinstance(event, TextChunk) and self.first is None:
            self.first = time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo-text")
    parser.add_argument("--prompt", default="The king")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    from transformers.generation.streamers import BaseStreamer

    from studio.session import StudioSession
    from tests.text.conftest import plugin_registry

    torch.set_num_threads(args.threads)
    listener = FirstChunk()
    session = StudioSession(registry=plugin_registry(), listener=listener)
    request = TextRequest(model=args.model, prompt=args.prompt, max_new_tokens=args.tokens, seed=1, device="cpu")
    warm = session.runner.run_now(request.replace(max_new_tokens=8))  # loads the model into the session's cache
    assert warm.result is not None, warm.error
    model = next(iter(session.models._models.values()))

    class FirstToken(BaseStreamer):
        def __init__(self) -> None:
            self.first: float | None = None
            self.prompt_seen = False

        def put(self, value) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
            elif self.first is None:
                self.first = time.perf_counter()

        def end(self) -> None:
            pass

    def bare() -> tuple[float, float, int]:
        ids, _ = model.prompt_ids(request)
        kwargs = model.generate_kwargs(request, ids)
        streamer = FirstToken()
        t0 = time.perf_counter()
        torch.manual_seed(request.seed)
        with torch.inference_mode():
            out = model.model.generate(**kwargs, streamer=streamer)
        elapsed = time.perf_counter() - t0
        n = out.shape[-1] - ids.shape[-1]
        return n / elapsed, streamer.first - t0, n

    def studio() -> tuple[float, float, int]:
        listener.first = None
        t0 = time.perf_counter()
        job = session.runner.run_now(request)
        elapsed = time.perf_counter() - t0
        n = job.result.data["new_tokens"]
        return n / elapsed, listener.first - t0, n

    rows = {"bare": [], "studio": []}
    for i in range(args.runs):  # alternate which goes first, so drift on a busy machine hits both
        if i % 2:
            rows["studio"].append(studio())
            rows["bare"].append(bare())
        else:
            rows["bare"].append(bare())
            rows["studio"].append(studio())
    session.close()
    med = {k: {"tokens_per_s": statistics.median(r[0] for r in v),
               "first_token_ms": 1000 * statistics.median(r[1] for r in v),
               "new_tokens": v[0][2]} for k, v in rows.items()}
    report = {
        "model": args.model, "threads": args.threads, "runs": args.runs, "max_new_tokens": args.tokens,
        **med,
        "tokens_per_s_ratio": med["studio"]["tokens_per_s"] / med["bare"]["tokens_per_s"],
        "first_token_delta_ms": med["studio"]["first_token_ms"] - med["bare"]["first_token_ms"],
        "per_run_ratios": [round(s[0] / b[0], 3) for s, b in zip(rows["studio"], rows["bare"], strict=True)],
    }
    report["median_per_run_ratio"] = statistics.median(report["per_run_ratios"])
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
