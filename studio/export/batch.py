"""The export job: load each source safely, resize, mark (visible, invisible), write with provenance.

``export_images(request, report, cancelled)`` is a plain job executor: it reports ``(i, n)`` per image,
so the runner can cancel between images. Everything that can be checked before writing (folder,
template, names, conflicts, every source's header and size) is checked first, so a bad input fails
before any file is written; each file is written atomically (temp file + rename), never half-written,
with the user's umask (0644 with umask 022). By default a file is named after its source (``{stem}``)
and a name that exists gets ``-2``, ``-3``…: nothing is overwritten unless asked, nothing fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.errors import BadInput, JobCancelled
from studio.core.paths import existing_file, path_kind
from studio.core.requests import ExportRequest
from studio.core.results import Artifact, JobResult
from studio.core.storage import atomic_write_bytes
from studio.export import formats, names, provenance, visible, watermark


@dataclass(frozen=True)
class PlannedExport:
    """One source image and where, and with what provenance, it will be written."""

    source: Path
    target: Path
    prov: provenance.Provenance
    payload: watermark.Payload


# -- sources ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _bomb_is_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def check_source(path: str | Path) -> tuple[int, int]:
    """Open the header only: the source exists, is an image, and is not a decompression bomb."""
    p = existing_file(path, "image")  # "does not exist" only when nothing is there; a folder is told so
    try:
        with _bomb_is_error(), Image.open(p) as image:
            size = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise BadInput(f"'{path}' is not an image the studio can read ({exc}).", "Is the file damaged?") from None
    if size[0] * size[1] > (Image.MAX_IMAGE_PIXELS or 2**62):
        raise _too_large(path, size)
    return size


def _too_large(path: str | Path, size: tuple[int, int] | None = None) -> BadInput:
    dims = f" ({size[0]}×{size[1]} pixels)" if size else ""
    limit = Image.MAX_IMAGE_PIXELS or 0
    return BadInput(
        f"'{path}' is too large to open safely{dims}; the limit is {limit:,} pixels.",
        "It may be a decompression bomb; scale it down in another program first.",
    )


def load_source(path: str | Path) -> Image.Image:
    """Decode a source image fully, turning every failure into a clear :class:`BadInput`."""
    check_source(path)
    try:
        with _bomb_is_error(), Image.open(path) as image:
            image.load()
            icc = image.info.get("icc_profile")
            out = ImageOps.exif_transpose(image)  # a photo shot sideways is exported upright
            out = out.convert("RGBA") if out.mode in ("P", "PA") else out.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except (OSError, SyntaxError, ValueError, zlib.error) as exc:
        raise BadInput(
            f"The image '{path}' is damaged and cannot be read ({exc}).", "Re-export it from its source."
        ) from None
    out.info = {"icc_profile": icc} if icc else {}
    return out


# -- planning ---------------------------------------------------------------------------------------
def check_folder(folder: str | Path) -> Path:
    path = Path(folder).expanduser()
    if not str(folder):
        raise BadInput("No export folder given.", "Pass --out with a folder.")
    if path_kind(path) == "missing":
        raise BadInput(f"The export folder '{folder}' does not exist.", "Create it first or choose another one.")
    if not path.is_dir():
        raise BadInput(f"The export folder '{folder}' is a {path_kind(path)}, expected a folder.")
    mode = path.stat().st_mode
    if not os.access(path, os.W_OK | os.X_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise BadInput(f"The export folder '{folder}' is read-only.", "Choose a folder you can write to.")
    return path


def provenance_for(source: Path, request: ExportRequest) -> tuple[provenance.Provenance, dict[str, Any]]:
    """What the export states about ``source``: its parameters and its digital source type."""
    found = provenance.read_provenance(source)
    record = found.get("studio") or {}
    parameters = found.get("parameters") or ""
    generated = bool(record) or bool(parameters)
    req = record.get("request", {}) if isinstance(record, dict) else {}
    kind = request.source_type
    if kind == "auto":
        if req.get("init_image") or req.get("mask"):
            kind = "composite"
        elif generated:
            kind = "generated"
        else:
            kind = (found.get("digital_source_type") and "keep") or "none"
    uri = found.get("digital_source_type") if kind == "keep" else provenance.source_type_uri(kind)
    import json

    prov = provenance.Provenance(
        parameters=parameters,
        studio_record=json.dumps(record, sort_keys=True) if record else "",
        source_type=uri,
    )
    fields = {"seed": req.get("seed"), "prompt": req.get("prompt", "")}
    if not fields["prompt"] and parameters:
        from studio.core.imagemeta import parse_infotext

        parsed = parse_infotext(parameters)
        fields["prompt"] = parsed["prompt"]
        seed = parsed["settings"].get("Seed")
        fields["seed"] = int(seed) if seed and seed.isdigit() else None
    return prov, fields


def image_id(source: Path) -> int:
    """A stable 32-bit id for a source file (its content hash), carried by the invisible mark."""
    digest = hashlib.sha256(source.read_bytes()).digest()
    return int.from_bytes(digest[:4], "big")


def plan_export(request: ExportRequest) -> list[PlannedExport]:
    """Check everything that can be checked before writing; return what will be written where."""
    request.validate()
    folder = check_folder(request.out_dir)
    names.check_template(request.name_template)
    planned: list[PlannedExport] = []
    taken: set[Path] = set()
    for i, src in enumerate(request.images, start=1):
        source = Path(src).expanduser()
        check_source(source)
        prov, fields = provenance_for(source, request)
        name = names.render_name(
            request.name_template,
            names.NameFields(n=i, seed=fields["seed"], prompt=fields["prompt"], stem=source.stem or str(i)),
            request.format,
        )
        target = names.target_in(folder, name)
        if request.conflict == "rename":
            target = names.unique_path(target, taken)
        elif target in taken:
            raise BadInput(
                f"Two images would both be written to '{target.name}'.", "Add {n} to the file-name template."
            )
        elif target.exists() and request.conflict != "overwrite":
            raise BadInput(
                f"'{target}' already exists; nothing was overwritten.",
                "Choose another name or folder, or allow overwriting (--overwrite) or renaming (--rename).",
            )
        taken.add(target)
        payload = watermark.Payload(owner=request.watermark_owner, image=image_id(source))
        planned.append(PlannedExport(source, target, prov, payload))
    return planned


# -- rendering --------------------------------------------------------------------------------------
def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    if not long_side or max(image.size) == long_side:
        return image
    f = long_side / max(image.size)
    size = (max(1, round(image.width * f)), max(1, round(image.height * f)))
    return image.resize(size, Image.Resampling.LANCZOS)


def visible_mark_of(request: ExportRequest) -> visible.VisibleMark | None:
    if not (request.visible_text or request.visible_image):
        return None
    mark = visible.VisibleMark(
        text=request.visible_text,
        anchor=request.visible_anchor,
        margin=request.visible_margin,
        opacity=request.visible_opacity,
        scale=request.visible_scale,
        tile=request.visible_tile,
    )
    mark.validate()
    return mark


def render_export(
    image: Image.Image,
    request: ExportRequest,
    payload: watermark.Payload,
    mark: visible.VisibleMark | None = None,
    logo: Image.Image | None = None,
) -> Image.Image:
    """The pixels that will be written: resized, visibly marked, then invisibly marked."""
    out = resize_long_side(image, request.resize)
    if mark is not None:
        out = visible.apply_visible(out, mark, logo)
    if request.watermark:
        out = watermark.embed(out, payload)
    icc = image.info.get("icc_profile")
    if icc:
        out.info["icc_profile"] = icc  # keep the colour profile (it is not personal data)
    return out


def _read_pem(path: str | None, what: str) -> bytes:
    if not path:
        raise BadInput(f"C2PA signing needs a {what}.", "Pass both --c2pa-cert and --c2pa-key.")
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise BadInput(f"Cannot read the C2PA {what} '{path}' ({exc.strerror}).") from None


def write_export(target: Path, data: bytes, conflict: str, taken: set[Path]) -> Path:
    """Write one export atomically; a file that appeared meanwhile is never overwritten (under
    ``rename`` the next free name is taken instead). The path written."""
    for _attempt in range(1000):
        try:
            return atomic_write_bytes(target, data, overwrite=conflict == "overwrite", label="export")
        except FileExistsError:
            if conflict != "rename":
                raise BadInput(f"'{target}' appeared while exporting; nothing was overwritten.") from None
            target = names.unique_path(target, taken)
        except OSError as exc:
            raise BadInput(f"Could not write '{target}' ({exc.strerror or exc}).", "Check the folder.") from None
    raise BadInput(f"No free file name was found for '{target}'.", "Choose another folder or name.")


def export_images(
    request: ExportRequest, report: Callable[..., None], cancelled: Callable[[], bool]
) -> JobResult:
    """Export every image of ``request``; ``report(i, n)`` per image (it raises when cancelled)."""
    mark = visible_mark_of(request)
    planned = plan_export(request)
    logo = load_source(request.visible_image) if request.visible_image else None
    sign = bool(request.c2pa_cert or request.c2pa_key) and not request.strip_metadata
    chain = _read_pem(request.c2pa_cert, "certificate chain") if sign else b""
    key = _read_pem(request.c2pa_key, "private key") if sign else b""
    if sign:  # fail on a bad certificate or key before the first file is written
        probe = formats.encode(Image.new("RGB", (8, 8)), formats.EncodeOptions(request.format))
        provenance.sign_c2pa(probe, request.format, chain, key)
    options = formats.EncodeOptions(request.format, request.quality, request.lossless, request.strip_metadata)
    artifacts = []
    written: set[Path] = set()
    total = len(planned)
    report(0, total, message="Exporting…")
    for i, item in enumerate(planned, start=1):
        if cancelled():
            raise JobCancelled()
        image = load_source(item.source)
        pixels = render_export(image, request, item.payload, mark, logo)
        data = formats.encode(pixels, options, item.prov)
        if sign:
            data = provenance.sign_c2pa(data, request.format, chain, key, title=item.target.name,
                                        source_type=item.prov.source_type)
        target = write_export(item.target, data, request.conflict, written)
        written.add(target)
        meta = {"source": str(item.source), "watermark": item.payload.to_dict() if request.watermark else None}
        notice = _unreadable_mark_notice(request, pixels, data, item.payload, target)
        if notice:
            meta["watermark_readable"] = False
        artifacts.append(Artifact(str(target), "image", meta))
        report(i, total, message=target.name, **({"notice": notice} if notice else {}))
    return JobResult(tuple(artifacts), data={"count": len(artifacts)})


def _unreadable_mark_notice(request: ExportRequest, pixels: Image.Image, data: bytes, payload: watermark.Payload,
                            target: Path) -> str:
    """For a small image (< 256 px a side, where the mark has least room), read the written bytes back:
    a mark the detector cannot find is told, not silently shipped. "" when the mark reads (or is off)."""
    if not request.watermark or min(pixels.size) >= watermark.SMALL_SIDE:
        return ""
    import io

    with Image.open(io.BytesIO(data)) as written:
        if watermark.readable(written.convert("RGB"), payload):
            return ""
    width, height = pixels.size
    return (f"'{target.name}' ({width}×{height} px) is too small or too busy for its invisible mark to be read "
            "back; its metadata still says it is AI-generated. Export it larger (Resize) to keep a readable mark.")
