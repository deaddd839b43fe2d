"""``studio text``: continue a prompt with a local language model, streaming to stdout."""

from __future__ import annotations

import argparse

from studio.cli.jobs import check_output_path, run_request
from studio.core.requests import TextRequest
from studio.core.storage import atomic_write_text


def add_parser(commands: argparse._SubParsersAction) -> None:
    text = commands.add_parser("text", help="continue a prompt with a language model")
    text.add_argument("--model", required=True, help="language-model folder or library name (demo-text)")
    text.add_argument("--prompt", required=True)
    text.add_argument("--max-new-tokens", type=int, default=100)
    text.add_argument("--seed", type=int, default=None)
    text.add_argument("--temperature", type=float, default=0.8)
    text.add_argument("--top-p", type=float, default=0.95)
    text.add_argument("--top-k", type=int, default=50)
    text.add_argument("--repetition-penalty", type=float, default=1.1)
    text.add_argument("--watermark", action="store_true")
    text.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    text.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    text.add_argument("--out", default=None, help="write the text to this file instead of stdout")
    text.set_defaults(func=run_text)


def run_text(args: argparse.Namespace) -> int:
    request = TextRequest(
        model=args.model,
        prompt=args.prompt,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        watermark=args.watermark,
        backend=args.backend,
        device=args.device,
    )
    request.validate()
    out = check_output_path(args.out) if args.out else None
    job = run_request(request, stream_text=out is None)
    text = job.result.text if job.result else ""
    if out is not None:
        atomic_write_text(out, args.prompt + text)
    else:
        print()
    return 0
