"""``studio generate``, ``studio info`` and ``studio regenerate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.cli.jobs import check_output_path, copy_outputs, run_request
from studio.cli.output import print_json
from studio.core.errors import BadInput
from studio.core.requests import GenerationRequest, LoraRef


def add_parser(commands: argparse._SubParsersAction) -> None:
    gen = commands.add_parser("generate", help="text-to-image, image-to-image or inpainting")
    gen.add_argument("--model", required=True, help="model folder, checkpoint file or library name (demo)")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--negative-prompt", default="")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--steps", type=int, default=None)
    gen.add_argument("--guidance", type=float, default=None)
    gen.add_argument("--width", type=int, default=None)
    gen.add_argument("--height", type=int, default=None)
    gen.add_argument("--scheduler", default=None)
    gen.add_argument("--batch", type=int, default=1)
    gen.add_argument("--init-image", default=None)
    gen.add_argument("--strength", type=float, default=0.75)
    gen.add_argument("--mask", default=None)
    gen.add_argument("--lora", action="append", default=[], metavar="FILE[:WEIGHT]")
    gen.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    gen.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    gen.add_argument("--out", required=True, help="output PNG file")
    gen.set_defaults(func=generate)

    info = commands.add_parser("info", help="generation parameters found in an image, as JSON")
    info.add_argument("image")
    info.set_defaults(func=info_cmd)

    regen = commands.add_parser("regenerate", help="make an image again from its own parameters")
    regen.add_argument("image")
    regen.add_argument("--out", required=True)
    regen.set_defaults(func=regenerate)


def _defaults_for(model: str) -> dict[str, object]:
    """The model's own size and recommended settings; a model that cannot be found is reported later."""
    from studio.core.errors import ModelError
    from studio.core.library import generation_defaults
    from studio.library_setup import library_for

    try:
        entry = library_for(scan_hf_cache=False).resolve(model)
    except ModelError:
        entry = None
    return generation_defaults(entry)


def generate(args: argparse.Namespace) -> int:
    defaults = _defaults_for(args.model)
    for path, what in ((args.init_image, "init image"), (args.mask, "mask")):
        if path and not Path(path).is_file():
            raise BadInput(f"The {what} '{path}' does not exist.")
    request = GenerationRequest(
        model=args.model,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seed=args.seed,
        steps=args.steps if args.steps is not None else defaults["steps"],
        guidance=args.guidance if args.guidance is not None else defaults["guidance"],
        width=args.width if args.width is not None else defaults["width"],
        height=args.height if args.height is not None else defaults["height"],
        scheduler=args.scheduler or defaults["scheduler"],
        batch=args.batch,
        init_image=str(Path(args.init_image).resolve()) if args.init_image else None,
        strength=args.strength,
        mask=str(Path(args.mask).resolve()) if args.mask else None,
        loras=tuple(LoraRef.parse(item) for item in args.lora),
        backend=args.backend,
        device=args.device,
    )
    request.validate()
    out = check_output_path(args.out)
    for path in copy_outputs(run_request(request), out):
        print(path)
    return 0


def info_cmd(args: argparse.Namespace) -> int:
    from studio.core.imagemeta import read_metadata

    if not Path(args.image).is_file():
        raise BadInput(f"'{args.image}' does not exist.")
    print_json(read_metadata(args.image))
    return 0


def regenerate(args: argparse.Namespace) -> int:
    from studio.core.imagemeta import request_from_image

    if not Path(args.image).is_file():
        raise BadInput(f"'{args.image}' does not exist.")
    request = request_from_image(args.image)
    out = check_output_path(args.out)
    for path in copy_outputs(run_request(request), out):
        print(path)
    return 0
