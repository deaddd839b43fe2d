"""Safe export file names from templates such as ``{date}-{seed}-{prompt}-{n}``.

Placeholders: ``{n}`` (1-based index in the batch, zero-padded with ``{n:03}``), ``{date}`` (YYYY-MM-DD),
``{time}`` (HHMMSS), ``{seed}``, ``{prompt}`` (a short slug of the prompt), ``{stem}`` (the source file's
name without extension). Values are made safe (no separators, no characters a file system refuses);
a template that itself tries to leave the folder (``..``, ``/``, an absolute path) is refused.
"""

from __future__ import annotations

import datetime as _dt
import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import BadInput

PLACEHOLDERS = ("n", "date", "time", "seed", "prompt", "stem")
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
MAX_FIELD_WIDTH = 64  # "{n:>300000000}" would build a 300 MB name before it is cut to size
MAX_NAME_BYTES = 200  # well under the 255 bytes most file systems allow, leaving room for "-2" and ".webp"
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


@dataclass(frozen=True)
class NameFields:
    """What a template may refer to, for one image."""

    n: int = 1
    seed: int | None = None
    prompt: str = ""
    stem: str = "image"
    when: _dt.datetime | None = None


def slug(text: str, max_len: int = 48) -> str:
    """A short, file-system-safe slug: ASCII letters, digits and dashes."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].rstrip("-")


def sanitize_component(name: str) -> str:
    """Make one path component safe on Windows, macOS and Linux; never empty, never '.' or '..'."""
    name = _BAD_CHARS.sub("_", name).strip().rstrip(".")
    while name.startswith("."):
        name = name[1:]
    if not name:
        name = "image"
    if name.split(".")[0].upper() in _RESERVED:
        name = f"_{name}"
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        name = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .")
    return name


def check_template(template: str) -> None:
    """Refuse templates that would leave the output folder or use unknown placeholders."""
    if not template.strip():
        raise BadInput("The file-name template is empty.", "Use for example '{date}-{n}'.")
    if "/" in template or "\\" in template or template.strip().startswith("..") or ".." in re.split(r"[{}]", template):
        raise BadInput(
            f"The file-name template '{template}' would write outside the export folder.",
            "Use a plain name without '/', '\\' or '..'.",
        )
    if Path(template).is_absolute() or re.match(r"^[A-Za-z]:", template):
        raise BadInput(f"The file-name template '{template}' is an absolute path.", "Use a plain file name.")
    try:
        parsed = [(f, spec or "") for _, f, spec, _ in string.Formatter().parse(template) if f is not None]
        fields = [f for f, _ in parsed]
        specs = [(f, spec) for f, spec in parsed if spec]
    except ValueError as exc:
        raise BadInput(f"The file-name template '{template}' is malformed ({exc}).") from None
    for field_name, spec in specs:
        widths = [int(number) for number in re.findall(r"\d+", spec)]
        if "{" in spec or "}" in spec or any(width > MAX_FIELD_WIDTH for width in widths):
            raise BadInput(
                f"The format '{{{field_name}:{spec[:40]}}}' in the file-name template is too wide.",
                f"Widths up to {MAX_FIELD_WIDTH} are allowed, e.g. {{n:03}}.",
            )
    unknown = sorted({f.split(":")[0].split("!")[0] for f in fields} - set(PLACEHOLDERS) - {""})
    if unknown or "" in fields:
        raise BadInput(
            f"Unknown placeholder(s) in the file-name template: {', '.join(unknown) or '{}'}.",
            f"Use: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}.",
        )


def render_name(template: str, fields: NameFields, fmt: str) -> str:
    """The safe file name (with extension) for one image."""
    check_template(template)
    when = fields.when or _dt.datetime.now()
    values = {
        "n": fields.n,
        "date": when.strftime("%Y-%m-%d"),
        "time": when.strftime("%H%M%S"),
        "seed": "" if fields.seed is None else fields.seed,
        "prompt": slug(fields.prompt) or "untitled",
        "stem": sanitize_component(fields.stem),
    }
    try:
        name = template.format(**values)
    except (ValueError, KeyError, IndexError) as exc:
        raise BadInput(f"The file-name template '{template}' cannot be filled in ({exc}).") from None
    ext = EXTENSIONS.get(fmt)
    if ext is None:
        raise BadInput(f"Unknown format '{fmt}'.", "Choose png, jpeg or webp.")
    return sanitize_component(name.replace("/", "_").replace("\\", "_")) + ext


def target_in(folder: str | Path, name: str) -> Path:
    """``folder/name``, after checking that it really stays inside ``folder``."""
    base = Path(folder).resolve()
    target = (base / name).resolve()
    if target.parent != base:
        raise BadInput(f"The file name '{name}' would write outside '{folder}'.", "Use a plain file name.")
    return target


def unique_path(path: Path, taken: set[Path] | None = None) -> Path:
    """``path`` or ``stem-2.ext``, ``stem-3.ext``… whichever exists neither on disk nor in ``taken``."""
    taken = taken or set()
    candidate, i = path, 2
    while candidate.exists() or candidate in taken:
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        i += 1
    return candidate
