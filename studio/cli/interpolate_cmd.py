"""``studio interpolate --model M A B --frames N --out DIR``: N frames from picture A to picture B
through the model's latent space (a family that declares the ``interpolate`` capability, e.g. a VAE),
written as ``DIR/frame-000.png`` … (DESIGN.md §6)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from studio.core.paths import existing_file
from studio.core.requests import InterpolateRequest, field_range
from studio.core.results import Artifact, JobResult


def add_parser(commands: argparse._SubParsersAction) -> None:
    low, high = field_range(InterpolateRequest, "frames")
    cmd = commands.add_parser("interpolate", help="frames between two pictures through a model's latent space")
    cmd.add_argument("first", metavar="A", help="the picture of the first frame")
    cmd.add_argument("last", metavar="B", help="the picture of the last frame")
    cmd.add_argument("--model", required=True, help="a model whose family interpolates (e.g. demo-vae)")
    cmd.add_argument("--frames", type=int, default=8, help=f"frames, A and B included ({low:g}–{high:g})")
    cmd.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    cmd.add_argument("--out", required=True, metavar="DIR", help="folder for frame-000.png … (made if missing)")
    cmd.add_argument("--overwrite", action="store_true", help="replace frames already in DIR")
    cmd.set_defaults(func=interpolate)


def interpolate(args: argparse.Namespace) -> int:
    from studio.cli.jobs import check_output_path, out_paths, run_request
    from studio.core.errors import BadInput
    from studio.core.imagemeta import check_image_file

    images = []
    for path in (args.first, args.last):
        image = existing_file(path, "picture")
        check_image_file(image, "picture")
        images.append(str(image.resolve()))
    request = InterpolateRequest(model=args.model, images=tuple(images), frames=args.frames, device=args.device)
    request.validate()
    folder = Path(args.out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"'{folder}' is not a folder.", "Pass a folder for the frames.")
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / f"frame-{index:03d}.png" for index in range(request.frames)]
    for target in targets:
        check_output_path(str(target), overwrite=args.overwrite)
    for path in out_paths(run_request(request, finalize=_writing_frames(targets, args.overwrite))):
        print(path)
    return 0


def _writing_frames(targets: list[Path], overwrite: bool):
    """A finaliser: every frame written to its target before the job is recorded done."""
    from studio.cli.jobs import write_output

    def finalize(result: JobResult) -> JobResult:
        written = []
        for target, output in zip(targets, result.images, strict=True):
            def fill(handle: BinaryIO, picture=output.image) -> None:
                picture.save(handle, format="PNG")

            path = write_output(target, fill, overwrite=overwrite)
            written.append(Artifact(str(path), "out", {"frame": output.metadata.get("frame")}))
        return replace(result, artifacts=(*result.artifacts, *written))

    return finalize
