"""``studio text``: continue (or rewrite) text with a local language model, streaming to stdout;
``studio text detect FILE --model M``: check a text file for the studio's green-list watermark.

    studio text --model M --prompt P [--preset NAME] [--max-new-tokens N] [--seed S] [--temperature T]
                [--top-p P] [--top-k K] [--repetition-penalty R] [--watermark] [--instruction I] [--out F]
    studio text detect FILE --model M [--watermark-key K] [--watermark-bias B] [--watermark-ratio G]
                [--threshold Z]          prints {"z_score": …, "detected": …, …} as JSON

``detect`` is dispatched inside this command (an optional leading word), so the generation
command line keeps its shape: ``--prompt`` is checked here rather than by argparse.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli.jobs import check_output_path, run_request, write_output
from studio.core.errors import BadInput
from studio.core.paths import existing_file
from studio.core.requests import WATERMARK_KEY, TextRequest

# Sampling flags default to None so that an explicit flag wins over --preset, and no flag means the preset's value.
_SAMPLING_DEFAULTS = {"max_new_tokens": 100, "temperature": 0.8, "top_p": 0.95, "top_k": 50,
                      "repetition_penalty": 1.1}


def add_parser(commands: argparse._SubParsersAction) -> None:
    text = commands.add_parser(
        "text", help="continue a prompt with a language model ('text detect FILE' checks a watermark)",
        usage="studio text --model M --prompt P [options]\n       studio text detect FILE --model M [options]",
    )
    text.add_argument("action", nargs="*", metavar="detect FILE", help="check FILE for the studio's text watermark")
    text.add_argument("--model", required=True, help="language-model folder or library name (demo-text)")
    text.add_argument("--prompt", default=None, help="the text to continue (or to rewrite, with --instruction)")
    text.add_argument("--preset", default=None, help="sampling preset: Precise, Balanced, Creative or one of yours")
    text.add_argument("--max-new-tokens", type=int, default=None)
    text.add_argument("--seed", type=int, default=None)
    text.add_argument("--temperature", type=float, default=None)
    text.add_argument("--top-p", type=float, default=None)
    text.add_argument("--top-k", type=int, default=None)
    text.add_argument("--repetition-penalty", type=float, default=None)
    text.add_argument("--instruction", default=None, help="rewrite the prompt following this instruction")
    text.add_argument("--watermark", action="store_true", help="mark the generated text with a green-list watermark")
    text.add_argument("--watermark-key", type=int, default=WATERMARK_KEY, help="watermark hashing key")
    text.add_argument("--watermark-bias", type=float, default=2.0, help="watermark logit bias")
    text.add_argument("--watermark-ratio", type=float, default=0.25, help="watermark green-list ratio")
    text.add_argument("--threshold", type=float, default=4.0, help="detect: z-score at which text counts as marked")
    text.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    text.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    text.add_argument("--out", default=None, help="write the text to this file instead of stdout")
    text.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    text.set_defaults(func=run_text)


def _watermark_fields(args: argparse.Namespace) -> dict:
    return {"watermark_key": args.watermark_key, "watermark_bias": args.watermark_bias,
            "watermark_ratio": args.watermark_ratio, "detect_threshold": args.threshold}


def run_text(args: argparse.Namespace) -> int:
    if args.action:
        if args.action[0] != "detect":
            raise BadInput(f"Unknown text command '{args.action[0]}'.",
                           "Use 'studio text --model M --prompt P' or 'studio text detect FILE --model M'.")
        if len(args.action) != 2:
            raise BadInput("'studio text detect' takes exactly one FILE.")
        return run_detect(args, Path(args.action[1]))
    if args.prompt is None:
        raise BadInput("No prompt given.", "Pass --prompt with the text to continue.")
    sampling = dict(_SAMPLING_DEFAULTS)
    if args.preset:
        from studio.core.text_presets import SAMPLING_FIELDS, get_preset

        preset = get_preset(args.preset)
        sampling.update({f: getattr(preset, f) for f in SAMPLING_FIELDS})
    for name in sampling:
        if getattr(args, name) is not None:
            sampling[name] = getattr(args, name)
    request = TextRequest(
        model=args.model,
        prompt=args.prompt,
        seed=args.seed,
        watermark=args.watermark,
        mode="rewrite" if args.instruction is not None else "continue",
        instruction=args.instruction or "",
        backend=args.backend,
        device=args.device,
        **sampling,
        **_watermark_fields(args),
    )
    request.validate()
    out = check_output_path(args.out, overwrite=args.overwrite) if args.out else None
    job = run_request(request, stream_text=out is None)
    result = job.result
    text = result.text if result else ""
    if out is not None:
        data = ((args.prompt if request.mode == "continue" else "") + text).encode("utf-8")
        write_output(out, lambda handle: handle.write(data), overwrite=args.overwrite)
    else:
        print()
    for notice in (result.data.get("notices", []) if result else []):
        print(f"studio: note: {notice}", file=sys.stderr)
    return 0


def run_detect(args: argparse.Namespace, path: Path) -> int:
    existing_file(path, "file")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"The file '{path}' could not be read as UTF-8 text ({exc}).") from None
    request = TextRequest(model=args.model, prompt=content, mode="detect", backend=args.backend, device=args.device,
                          **_watermark_fields(args))
    request.validate()
    job = run_request(request)
    data = dict(job.result.data) if job.result else {}
    print(json.dumps(data, sort_keys=True))
    return 0
