"""``studio upscale IMAGE --scale X [--upscaler FILE|lanczos] [--tile PX] --out FILE`` (DESIGN.md §6)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from studio.core.paths import existing_file
from studio.core.requests import UpscaleRequest, field_range
from studio.core.results import Artifact, JobResult


def add_parser(commands: argparse._SubParsersAction) -> None:
    low, high = field_range(UpscaleRequest, "scale")
    up = commands.add_parser("upscale", help="upscale a picture with Lanczos or an ESRGAN upscaler file, in tiles")
    up.add_argument("image", metavar="IMAGE")
    up.add_argument("--scale", type=float, required=True, help=f"output side / input side ({low:g}–{high:g})")
    up.add_argument("--upscaler", default="lanczos", metavar="FILE|lanczos",
                    help="lanczos (default) or an ESRGAN-family .safetensors file (.pth: allowed pickles only)")
    up.add_argument("--tile", type=int, default=256, metavar="PX",
                    help="input pixels per tile side for a model upscaler (memory: one tile at a time)")
    up.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    up.add_argument("--out", required=True, help="output PNG file")
    up.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    up.set_defaults(func=upscale)


def upscale(args: argparse.Namespace) -> int:
    from studio.cli.jobs import check_output_path, out_paths, run_request
    from studio.core.imagemeta import check_image_file

    image = existing_file(args.image, "image")
    check_image_file(image, "image")
    upscaler = args.upscaler
    if upscaler.strip().lower() != "lanczos":
        upscaler = str(existing_file(upscaler, "upscaler file").resolve())
    request = UpscaleRequest(image=str(image.resolve()), scale=args.scale, upscaler=upscaler, tile=args.tile,
                             device=args.device)
    request.validate()
    out = check_output_path(args.out, overwrite=args.overwrite)
    for path in out_paths(run_request(request, finalize=_writing_png(out, args.overwrite, request))):
        print(path)
    return 0


def _writing_png(out: Path, overwrite: bool, request: UpscaleRequest):
    """A finaliser: the upscaled picture written to ``out`` as PNG before the job is recorded done, with
    the source's text chunks (its generation parameters); A1111's infotext gets the upscale as its
    Extras tab writes it (``Postprocess upscale by``, ``Postprocess upscaler``)."""
    from studio.cli.jobs import write_output

    def finalize(result: JobResult) -> JobResult:
        picture = result.images[0].image
        info = _carried_text(request, str(result.data.get("upscaler", "")))

        def fill(handle: BinaryIO) -> None:
            picture.save(handle, format="PNG", pnginfo=info)

        written = write_output(out, fill, overwrite=overwrite)
        return replace(result, artifacts=(*result.artifacts, Artifact(str(written), "out", result.data)))

    return finalize


def _carried_text(request: UpscaleRequest, upscaler: str):
    """The source PNG's text chunks for the upscaled file (none for another format)."""
    from PIL.PngImagePlugin import PngInfo

    from studio.core.imagemeta import A1111_CHUNK, png_text_chunks

    info = PngInfo()
    for key, value in (png_text_chunks(request.image) or {}).items():
        if key == A1111_CHUNK:
            value = f"{value}, Postprocess upscale by: {request.scale:g}, Postprocess upscaler: {upscaler}"
        info.add_text(key, value)
    return info
