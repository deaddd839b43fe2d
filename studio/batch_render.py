"""Batch renders: every prompt × seed of a list into one folder, as one job, resumable, split across processes.

Each picture is the :class:`~studio.core.requests.GenerationRequest` of one prompt and one seed
(``BatchRequest.item``): the family makes it, the studio writes and indexes it as for any generation,
and a copy goes into the batch folder as ``pNNN-sSEED.png`` (prompt number from 1, seed), written
atomically (a temp file renamed into place, as ``studio generate --out``). A file that exists is
complete, so a re-run skips it; an existing file made from another request (the prompts file or the
flags changed) is refused, never silently kept or overwritten.

Under ``accelerate launch --num_processes N`` (or ``torchrun``) the full list is split with
accelerate's ``PartialState.split_between_processes`` (the same split on every rank, whatever is
already done, so nothing is rendered twice or missed); each rank runs its share as its own job.
The bytes of a picture depend only on its request and the model: nothing in the file names a rank,
a device index or a time. Qt-free; accelerate is imported only when launched that way.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from studio.core.errors import BadInput
from studio.core.imagemeta import STUDIO_CHUNK, png_text_chunks
from studio.core.paths import path_kind
from studio.core.requests import MAX_SEED, BatchRequest, GenerationRequest
from studio.core.results import Artifact, JobResult
from studio.core.storage import write_atomically
from studio.outputs import write_images

if TYPE_CHECKING:
    from studio.session import StudioSession

MAX_PROMPT_FILE_BYTES = 50_000_000


@dataclass(frozen=True)
class BatchItem:
    """One picture of a batch: prompt ``index`` (0-based) with ``seed``."""

    index: int
    seed: int

    @property
    def name(self) -> str:
        return f"p{self.index + 1:03d}-s{self.seed:04d}.png"


def read_prompts(path: str | Path) -> tuple[str, ...]:
    """The prompts of a text file: one a line; blank lines and lines starting with ``#`` are skipped."""
    from studio.core.paths import existing_file

    file = existing_file(path, "prompts file")
    if file.stat().st_size > MAX_PROMPT_FILE_BYTES:
        raise BadInput(f"The prompts file '{file}' is larger than {MAX_PROMPT_FILE_BYTES // 1_000_000} MB.")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"The prompts file '{file}' is not UTF-8 text.", "Save it as UTF-8.") from None
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def parse_seeds(text: str) -> tuple[int, int]:
    """``A-B`` (both included) or a single ``A`` as ``(first, last)``."""
    first, sep, last = text.strip().partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise BadInput(f"The seeds '{text}' are not a range.", "Write A-B, e.g. --seeds 0-9, or one seed.") from None
    if not 0 <= low <= high <= MAX_SEED:
        raise BadInput(f"The seeds '{text}' are not a range within 0-{MAX_SEED}.", "Write A-B with A ≤ B.")
    return low, high


def batch_items(request: BatchRequest) -> list[BatchItem]:
    """Every picture of the batch, prompt by prompt, seeds in order."""
    return [BatchItem(index, seed) for index in range(len(request.prompts)) for seed in request.seeds]


def process_share(items: list[BatchItem], device: str = "auto") -> tuple[list[BatchItem], int, int]:
    """This process's part of ``items``, its rank and the number of processes: all of them unless the
    command was started by ``accelerate launch``/``torchrun`` with several processes."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return items, 0, 1
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=device == "cpu" or not torch.cuda.is_available())  # gloo between CPU processes
    with state.split_between_processes(items) as share:
        return list(share), state.process_index, state.num_processes


def end_processes() -> None:
    """Close the process group a launched batch opened (NCCL warns at exit otherwise); nothing when alone."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return
    from accelerate import PartialState

    if PartialState._shared_state:  # initialised by process_share
        PartialState().destroy_process_group()


def is_done(target: Path, request: GenerationRequest) -> bool:
    """Whether ``target`` already holds this picture (a file there is complete: it was renamed into place).
    A file made from another request, or not ours, is a :class:`BadInput`: never kept as done, never replaced."""
    kind = path_kind(target)
    if kind == "missing":
        return False
    if kind != "file":
        raise BadInput(f"'{target}' is a {kind}, not a picture.", "Remove it or choose another --out folder.")
    try:
        chunks = png_text_chunks(target) or {}
        stored = json.loads(chunks.get(STUDIO_CHUNK, "{}")).get("request", {})
    except (OSError, ValueError, AttributeError):
        stored = {}
    wanted = json.loads(request.to_json())  # as stored: lists, not tuples
    same = isinstance(stored, dict) and bool(stored) and all(
        stored[key] == value for key, value in wanted.items() if key in stored and key != "model")  # fields added later
    if not same:
        raise BadInput(f"'{target}' exists but is not the picture of '{request.prompt[:40]}' with seed {request.seed} "
                       "(the prompts file or the flags changed since it was made).",
                       "Use a new --out folder, or remove the files that no longer match.")
    return True


def render_batch(session: StudioSession, request: BatchRequest, report: Callable[..., None],
                 cancelled: Callable[[], bool]) -> JobResult:
    """Run this process's share of ``request`` (the session's executor for a ``batch`` job)."""
    from studio.session import check_input_files

    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # a re-queued job whose folder was removed meanwhile
    share, rank, processes = process_share(batch_items(request), request.device)
    todo = [item for item in share if not is_done(out_dir / item.name, request.item(item.index, item.seed))]
    skipped = len(share) - len(todo)
    who = f"process {rank + 1} of {processes}: " if processes > 1 else ""
    if skipped:
        report(skipped, len(share), message=f"{who}{skipped} of {len(share)} pictures already done",
               notice=f"{who}{skipped} of {len(share)} pictures are already in {out_dir}; skipped.")
    written: list[Artifact] = []
    for number, item in enumerate(todo, start=skipped):
        item_request = request.item(item.index, item.seed)
        check_input_files(item_request)
        model = session.load_model(item_request)

        def item_report(step: int, total: int, preview: Any = None, message: str | None = None,
                        _name: str = item.name, _done: int = number, **extra: Any) -> None:
            report(_done, len(share), preview, f"{who}{_name} {step}/{total}", **extra)

        item_report(0, item_request.steps)
        result = write_images(model.run(item_request, item_report, cancelled), session.gallery, report,
                              root=session.settings.output_folder)
        written.extend(_copy_into(out_dir / item.name, result))
        report(number + 1, len(share), message=f"{who}{item.name} written")
    data = {"pictures": len(share), "written": sum(a.kind == "out" for a in written), "skipped": skipped,
            "process": rank, "processes": processes, "out_dir": str(out_dir)}
    return JobResult(artifacts=tuple(written), data=data)


def _copy_into(target: Path, result: JobResult) -> list[Artifact]:
    """Copy the picture ``result`` wrote into the batch folder as ``target`` (a new file, renamed into place)."""
    images = [artifact for artifact in result.artifacts if artifact.kind == "image"]
    if not images:
        return []

    def fill(handle: BinaryIO, source: str = images[0].path) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle)

    try:
        write_atomically(target, fill, overwrite=False, label="out")
    except FileExistsError:  # another process wrote it meanwhile: complete by construction
        return []
    return [*images, Artifact(str(target), "out")]
