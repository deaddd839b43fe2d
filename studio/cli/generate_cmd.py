"""``studio generate``, ``studio info`` and ``studio regenerate``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from studio.cli.jobs import check_output_path, out_paths, run_request, writing_outputs
from studio.cli.output import print_json
from studio.core.paths import existing_file
from studio.core.requests import BACKENDS, DEVICES, ControlRef, GenerationRequest, LoraRef, Request

# Fields with flags of their own: paths made absolute, repeatable LoRAs, and the two required ones.
_SPECIAL = {"model", "prompt", "init_image", "mask", "loras", "controls"}
_TYPES = {"int": int, "float": float, "str": str, "int | None": int, "str | None": str, "bool": bool}


def add_parser(commands: argparse._SubParsersAction) -> None:
    gen = commands.add_parser("generate", help="text-to-image, image-to-image or inpainting")
    gen.add_argument("--model", required=True, help="model folder, checkpoint file or library name (demo)")
    gen.add_argument("--prompt", default="",
                     help="what to draw (optional for families that take none, e.g. demo-vae)")
    add_request_flags(gen, GenerationRequest, skip=_SPECIAL)
    gen.add_argument("--init-image", default=None)
    gen.add_argument("--mask", default=None)
    gen.add_argument("--lora", action="append", default=[], metavar="FILE[:WEIGHT]")
    gen.add_argument("--control", action="append", default=[], metavar="FILE:MODEL[:WEIGHT[:START:END]]",
                     help="a control image and its ControlNet (folder or .safetensors); repeatable")
    gen.add_argument("--control-preprocess", action="append", default=[], metavar="NAME",
                     help="canny or none: one for every --control, or one per --control in order")
    gen.add_argument("--out", required=True, help="output PNG file (a new file, or an existing one with --overwrite)")
    gen.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    gen.set_defaults(func=generate)

    info = commands.add_parser("info", help="generation parameters found in an image, as JSON "
                                            "(without IMAGE: the settings' problems and images waiting to be indexed)")
    info.add_argument("image", nargs="?")
    info.set_defaults(func=info_cmd)

    regen = commands.add_parser("regenerate", help="make an image again from its own parameters")
    regen.add_argument("image")
    regen.add_argument("--out", required=True)
    regen.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
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


def add_request_flags(parser: argparse.ArgumentParser, cls: type[Request], skip: set[str]) -> None:
    """One flag per field of the request (``--negative-prompt`` for ``negative_prompt``): a new
    field gets its flag, its range (checked by ``validate``) and its default from the request
    definition alone. Flags default to None: the model's defaults fill what is not given."""
    choices = {"backend": BACKENDS, "device": DEVICES}
    for item in dataclasses.fields(cls):
        if item.name in skip:
            continue
        kind = _TYPES.get(str(item.type))
        if kind is None:
            raise TypeError(f"{cls.__name__}.{item.name}: no command-line flag for type {item.type}")
        flag = "--" + item.name.replace("_", "-")
        low_high = item.metadata.get("range")
        text = item.metadata.get("help", "")
        if low_high:
            text = f"{text} ({low_high[0]:g}–{low_high[1]:g})".strip()
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text or None)
        else:
            parser.add_argument(flag, type=kind, default=None, choices=choices.get(item.name), help=text or None)


def given_fields(args: argparse.Namespace, cls: type[Request], skip: set[str]) -> dict[str, Any]:
    """The request fields the command line set (flags left out are not in the mapping)."""
    names = {item.name for item in dataclasses.fields(cls)} - skip
    return {name: value for name, value in vars(args).items() if name in names and value is not None}


def generate(args: argparse.Namespace) -> int:
    from studio.session import check_input_files

    for path, what in ((args.init_image, "init image"), (args.mask, "mask")):
        if path is not None:
            existing_file(path, what)
    values = {**_defaults_for(args.model), **given_fields(args, GenerationRequest, _SPECIAL)}
    if values.get("refiner") and Path(values["refiner"]).exists():  # a folder, not a library name
        values["refiner"] = str(Path(values["refiner"]).resolve())
    if values.get("upscaler") and Path(values["upscaler"]).is_file():  # an upscaler file, not "lanczos"
        values["upscaler"] = str(Path(values["upscaler"]).resolve())
    request = GenerationRequest(
        model=args.model,
        prompt=args.prompt,
        init_image=str(Path(args.init_image).resolve()) if args.init_image else None,
        mask=str(Path(args.mask).resolve()) if args.mask else None,
        loras=tuple(LoraRef.parse(item) for item in args.lora),
        controls=_controls(args.control, args.control_preprocess),
        **values,
    )
    request.validate()
    check_input_files(request)
    out = check_output_path(args.out, overwrite=args.overwrite, count=request.batch)
    for path in out_paths(run_request(request, finalize=writing_outputs(out, overwrite=args.overwrite))):
        print(path)
    return 0


def _controls(texts: list[str], preprocess: list[str]) -> tuple[ControlRef, ...]:
    """``--control`` values with their ``--control-preprocess`` (one for all, or one each), paths absolute."""
    from studio.core.errors import BadInput

    if preprocess and len(preprocess) not in (1, len(texts)):
        raise BadInput(f"{len(preprocess)} --control-preprocess values for {len(texts)} --control flags.",
                       "Give one for all controls, or one per control in the same order.")
    names = [("" if name == "none" else name) for name in preprocess] * (len(texts) if len(preprocess) == 1 else 1)
    controls = []
    for index, text in enumerate(texts):
        control = ControlRef.parse(text, names[index] if names else "")
        model = Path(control.model)
        controls.append(dataclasses.replace(control, image=str(Path(control.image).resolve()),
                                            model=str(model.resolve()) if model.exists() else control.model))
    return tuple(controls)


def info_cmd(args: argparse.Namespace) -> int:
    from studio.core.imagemeta import read_metadata

    if args.image is None:
        from studio.core.settings import Settings
        from studio.outputs import pending_count

        print_json({**Settings.load().report(), "images_waiting_for_the_gallery_index": pending_count()})
        return 0
    existing_file(args.image, "image")
    print_json(read_metadata(args.image))
    return 0


def regenerate(args: argparse.Namespace) -> int:
    from studio.core.imagemeta import request_from_image

    existing_file(args.image, "image")
    request = request_from_image(args.image)
    _check_control_images(args.image)
    out = check_output_path(args.out, overwrite=args.overwrite, count=request.batch)
    for path in out_paths(run_request(request, finalize=writing_outputs(out, overwrite=args.overwrite))):
        print(path)
    return 0


def _check_control_images(image: str) -> None:
    """Refuse to regenerate from control images that changed since the picture was made (their
    SHA-256 in its record): the result would not be the same picture."""
    import hashlib

    from studio.core.errors import BadInput
    from studio.core.imagemeta import read_metadata

    controls = read_metadata(image).get("controls")
    for control in controls if isinstance(controls, list) else []:
        path, recorded = (control.get("image"), control.get("image_sha256")) if isinstance(control, dict) else (0, 0)
        if not isinstance(path, str) or not isinstance(recorded, str) or not Path(path).is_file():
            continue  # a missing control image is reported with the other input files
        if hashlib.sha256(Path(path).read_bytes()).hexdigest() != recorded:
            raise BadInput(f"The control image '{path}' changed since this picture was made.",
                           "Put the original control image back to regenerate the same picture.")
