"""``studio batch PROMPTS.txt --model M --seeds A-B --out DIR [generate's flags]``: every prompt × seed,
as one job, into ``DIR/pNNN-sSEED.png``; a re-run skips the finished files. Under ``accelerate launch
--num_processes N -m studio batch …`` each process renders its share (:mod:`studio.batch_render`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from studio.cli.generate_cmd import _SPECIAL, _controls, _defaults_for, add_request_flags, given_fields
from studio.cli.jobs import run_request
from studio.core.errors import BadInput
from studio.core.paths import existing_file, path_kind
from studio.core.requests import BatchRequest, GenerationRequest, LoraRef

# Set by the batch itself: the prompt comes from the file, the seed from --seeds, one picture each.
_FROM_BATCH = {"seed", "batch"}
_PER_BATCH = {"model", "backend", "device"}  # fields of the batch request itself


def add_parser(commands: argparse._SubParsersAction) -> None:
    batch = commands.add_parser(
        "batch", help="every prompt of a file × every seed of a range, one PNG each (resumable; "
                      "'accelerate launch --num_processes N -m studio batch …' splits it)")
    batch.add_argument("prompts", metavar="PROMPTS.txt", help="one prompt a line; blank lines and # comments skipped")
    batch.add_argument("--model", required=True, help="model folder, checkpoint file or library name (demo)")
    batch.add_argument("--seeds", required=True, metavar="A-B", help="seeds A to B, both included (or one seed)")
    batch.add_argument("--out", required=True, metavar="DIR",
                       help="folder for pNNN-sSEED.png (made if missing; files already there are skipped)")
    add_request_flags(batch, GenerationRequest, skip=_SPECIAL | _FROM_BATCH)
    batch.add_argument("--init-image", default=None)
    batch.add_argument("--mask", default=None)
    batch.add_argument("--lora", action="append", default=[], metavar="FILE[:WEIGHT]")
    batch.add_argument("--control", action="append", default=[], metavar="FILE:MODEL[:WEIGHT[:START:END]]",
                       help="a control image and its ControlNet (folder or .safetensors); repeatable")
    batch.add_argument("--control-preprocess", action="append", default=[], metavar="NAME",
                       help="canny or none: one for every --control, or one per --control in order")
    batch.set_defaults(func=batch_cmd)


def batch_request(args: argparse.Namespace) -> BatchRequest:
    """The batch the command line asks for, validated (its first picture's request too)."""
    from studio.batch_render import parse_seeds, read_prompts
    from studio.session import check_input_files

    for path, what in ((args.init_image, "init image"), (args.mask, "mask")):
        if path is not None:
            existing_file(path, what)
    first, last = parse_seeds(args.seeds)
    values = {**_defaults_for(args.model), **given_fields(args, GenerationRequest, _SPECIAL | _FROM_BATCH)}
    if values.get("refiner") and Path(values["refiner"]).exists():  # a folder, not a library name
        values["refiner"] = str(Path(values["refiner"]).resolve())
    template = GenerationRequest(
        model=args.model,
        init_image=str(Path(args.init_image).resolve()) if args.init_image else None,
        mask=str(Path(args.mask).resolve()) if args.mask else None,
        loras=tuple(LoraRef.parse(item) for item in args.lora),
        controls=_controls(args.control, args.control_preprocess),
        **values,
    )
    generation = {key: value for key, value in json.loads(template.to_json()).items()  # as the queue stores it
                  if key not in _PER_BATCH | _FROM_BATCH | {"prompt", "kind", "schema"}}
    request = BatchRequest(model=template.model, backend=template.backend, device=template.device,
                           prompts=read_prompts(args.prompts), first_seed=first, last_seed=last,
                           out_dir=str(_out_folder(args.out)), generation=generation)
    request.validate()
    check_input_files(request.item(0, first))  # init image, mask, LoRA and control files: before queueing
    return request


def _out_folder(out: str) -> Path:
    """``--out`` as an absolute folder, made when missing (its parent must exist) and writable."""
    folder = Path(out).expanduser().resolve()
    kind = path_kind(folder)
    if kind == "missing":
        if path_kind(folder.parent) != "folder":
            raise BadInput(f"The folder '{folder.parent}' does not exist.", "Create it first or choose another --out.")
        folder.mkdir(exist_ok=True)  # two processes of one launch may both make it
    elif kind != "folder":
        raise BadInput(f"--out '{folder}' is a {kind}, expected a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"The output folder '{folder}' is read-only.", "Choose a folder you can write to.")
    return folder


def batch_cmd(args: argparse.Namespace) -> int:
    from studio.batch_render import end_processes

    try:
        job = run_request(batch_request(args))
    finally:
        end_processes()
    result = job.result
    for artifact in result.artifacts if result else ():
        if artifact.kind == "out":
            print(artifact.path)
    if result:
        data = result.data
        who = f"process {data['process'] + 1} of {data['processes']}: " if data.get("processes", 1) > 1 else ""
        print(f"studio batch: {who}{data['written']} written, {data['skipped']} already done, "
              f"of {data['pictures']} (job {job.id}).", file=sys.stderr)
    return 0
