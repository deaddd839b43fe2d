"""``studio score IMAGE... --prompt P [--prompt P]... --model M [--json]``: how well each picture
matches each prompt, with a model whose family declares the ``score`` capability (e.g. demo-clip), as
a table or as JSON ``{"images": [{"image": PATH, "scores": [{"prompt": P, "score": X}, ...]}, ...]}``
(DESIGN.md §6). A score is the family's similarity, a cosine in [-1, 1] for the CLIP family."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.core.paths import existing_file
from studio.core.requests import DEFAULT_SCORER, ScoreRequest


def add_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("score", help="how well each picture matches each prompt (a CLIP-style scorer)")
    cmd.add_argument("images", metavar="IMAGE", nargs="+", help="pictures to score")
    cmd.add_argument("--prompt", dest="prompts", action="append", required=True, metavar="P",
                     help="a prompt to score every picture against (repeat for more)")
    cmd.add_argument("--model", default=DEFAULT_SCORER, help=f"a scorer (default: {DEFAULT_SCORER})")
    cmd.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    cmd.add_argument("--json", action="store_true", help="print the scores as JSON")
    cmd.set_defaults(func=score)


def score(args: argparse.Namespace) -> int:
    from studio.cli.jobs import run_request
    from studio.core.errors import BadInput
    from studio.core.imagemeta import check_image_file

    resolved: dict[str, str] = {}
    for path in args.images:
        image = existing_file(path, "picture")
        check_image_file(image, "picture")
        resolved[str(image.resolve())] = path
    if len(resolved) < len(args.images):
        raise BadInput("A picture is named twice.", "Name each picture once.")
    request = ScoreRequest(model=args.model, images=tuple(resolved), prompts=tuple(args.prompts), device=args.device)
    request.validate()
    job = run_request(request)
    rows = [{"image": resolved.get(row["image"], row["image"]), "scores": row["scores"]}
            for row in (job.result.data.get("images", []) if job.result else [])]
    print(json.dumps({"images": rows}, indent=2) if args.json else table(rows, list(args.prompts)))
    return 0


def table(rows: list[dict[str, Any]], prompts: list[str]) -> str:
    """Pictures down, prompts across (P1, P2 … named below); the best prompt of each picture starred."""
    names = [f"P{index + 1}" for index in range(len(prompts))]
    width = max(len("image"), *(len(row["image"]) for row in rows))
    lines = [f"{'image':<{width}}  " + "  ".join(f"{name:>8}" for name in names)]
    for row in rows:
        values = [entry["score"] for entry in row["scores"]]
        best = max(range(len(values)), key=values.__getitem__)
        cells = [f"{value:>7.3f}{'*' if index == best else ' '}" for index, value in enumerate(values)]
        lines.append(f"{row['image']:<{width}}  " + "  ".join(cells))
    lines.append("")
    lines.extend(f"{name}: {prompt}" for name, prompt in zip(names, prompts, strict=True))
    lines.append("* the prompt each picture matches best (cosine similarity, -1 to 1)")
    return "\n".join(lines)
