"""Training run folders as the monitor reads them: metrics, samples, status, captions (Qt-free).

A run folder (``STUDIO_HOME/runs/NAME``, written by the training engine) holds ``metrics.jsonl``
(one JSON object a line: ``{"event": "step", "step", "total", "loss", "lr", "it_s", "eta_s",
"epoch", "rss_mb"[, "cuda_mb"], "loss_<name>"…}`` and the
``start``/``resume``/``checkpoint``/``sample``/``done``/``cancelled`` events; every ``loss_<name>``
is a part of the loss, e.g. a GAN's ``loss_generator`` and ``loss_discriminator``, drawn as its own
curve), ``samples/step-NNNNNNNN.png``, ``checkpoints/`` and ``config.json``. The UI may not import
the engine, so the file format is read here, as plain JSON.

Also here: a data set folder as the fine-tuning dialog shows it (images, their captions, what is
unreadable) and the atomic caption write behind its editor.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"
SAMPLE_NAME = re.compile(r"step-(\d+)\.png$")
STAT_KEYS = ("it_s", "eta_s", "epoch", "rss_mb", "cuda_mb")
PART_PREFIX = "loss_"  # a metric named loss_<name> is a part of the loss: its own curve, named <name>
ENDED = {"done": "done", "cancelled": "cancelled"}  # last event → the run's status without a live job
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")  # what the LoRA recipe reads


# -- metrics.jsonl ----------------------------------------------------------------------------
def parse_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The JSON objects among ``lines`` (a line cut short by a kill is skipped)."""
    out = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def read_events(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every event of a run's ``metrics.jsonl`` (empty when there is none)."""
    try:
        text = (Path(run_dir) / METRICS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return parse_lines(text.splitlines())


def read_complete(run_dir: str | os.PathLike) -> tuple[list[dict[str, Any]], int, tuple[int, int] | None]:
    """The complete lines' events of a run's ``metrics.jsonl``, how many bytes they take (a line
    still being written is left for a :class:`MetricsTail` to read) and the file's (device, inode)."""
    try:
        with (Path(run_dir) / METRICS).open("rb") as handle:
            info = os.fstat(handle.fileno())
            raw = handle.read()
    except OSError:
        return [], 0, None
    complete = raw[: raw.rfind(b"\n") + 1]
    return parse_lines(complete.decode("utf-8", "replace").splitlines()), len(complete), (info.st_dev, info.st_ino)


def tail_events(run_dir: str | os.PathLike, max_bytes: int = 8192) -> list[dict[str, Any]]:
    """The last events of a run (the end of its file only: cheap for a long run)."""
    path = Path(run_dir) / METRICS
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - max_bytes))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = text.splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line is probably cut
    return parse_lines(lines)


class MetricsTail:
    """Follows a growing ``metrics.jsonl`` (a run another process trains): :meth:`read` returns the
    events written since the last call; ``reset`` is True when the file was rewritten (a resume
    drops the steps after its checkpoint: the engine writes a new file and renames it over the old
    one, which may have grown past the old size by the next read), and the events are then the
    whole file."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / METRICS
        self.offset = 0
        self.file_id: tuple[int, int] | None = None  # (device, inode) of the file read so far
        self._partial = b""

    def start_at(self, offset: int, file_id: tuple[int, int] | None) -> None:
        """Go on from byte ``offset`` of the file ``file_id`` (what :meth:`RunData.read` read)."""
        self.offset, self.file_id, self._partial = offset, file_id, b""

    def read(self) -> tuple[list[dict[str, Any]], bool]:
        try:
            info = self.path.stat()
        except OSError:
            return [], False
        size, file_id = info.st_size, (info.st_dev, info.st_ino)
        reset = size < self.offset or (self.file_id is not None and file_id != self.file_id)
        self.file_id = file_id
        if reset:
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return [], reset
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(size - self.offset)
        except OSError:
            return [], reset
        self.offset += len(chunk)
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")
        return parse_lines(complete.decode("utf-8", "replace").splitlines()), reset


def samples_of(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """The run's sample pictures, (step, path), oldest first."""
    folder = Path(run_dir) / "samples"
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = [(int(m.group(1)), folder / name) for name in names if (m := SAMPLE_NAME.match(name))]
    return sorted(found)


# -- a run's curves and figures --------------------------------------------------------------
@dataclass
class Curve:
    """One curve's points: steps and values."""

    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def drop_from(self, step: float) -> None:
        """Forget the points at ``step`` and after (a resume redoes them)."""
        keep = next((i for i, s in enumerate(self.steps) if s >= step), len(self.steps))
        del self.steps[keep:], self.values[keep:]


def loss_parts(values: dict[str, Any]) -> dict[str, float]:
    """The loss parts among a step's metrics: ``{"generator": 0.7}`` for ``loss_generator``."""
    return {key[len(PART_PREFIX):]: float(value) for key, value in values.items()
            if isinstance(key, str) and key.startswith(PART_PREFIX) and len(key) > len(PART_PREFIX)
            and _finite(value)}


@dataclass
class RunData:
    """What the monitor shows of one run: curves, latest figures, samples and a log."""

    run_dir: str = ""
    steps: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr_steps: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    parts: dict[str, Curve] = field(default_factory=dict)  # loss_<name> metrics, by <name>, first seen first
    stats: dict[str, float] = field(default_factory=dict)  # latest it_s, eta_s, epoch, rss_mb, cuda_mb
    step: int = 0
    total: int = 0
    last_event: str = ""  # start | resume | step | checkpoint | sample | done | cancelled
    samples: list[tuple[int, Path]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    read_to: tuple[int, tuple[int, int] | None] = (0, None)  # (bytes, file id) of metrics.jsonl read back

    @property
    def name(self) -> str:
        return run_name(self.run_dir)

    def add_step(self, step: int, total: int, values: dict[str, Any]) -> bool:
        """One logged step (a live metric event or a ``step`` line). A step at or before the last
        one means the run resumed from an earlier checkpoint: the later points go (they are redone).
        Returns whether a curve point was added."""
        if self.steps and step <= self.steps[-1]:
            self._drop_from(step)
        self.step = max(step, 0)
        if total:
            self.total = int(total)
        for key in STAT_KEYS:
            if _finite(values.get(key)):
                self.stats[key] = float(values[key])
        if "eta_s" in values and not _finite(values.get("eta_s")):
            self.stats.pop("eta_s", None)
        added = False
        if _finite(values.get("loss")):
            self.steps.append(float(step))
            self.loss.append(float(values["loss"]))
            added = True
        if _finite(values.get("lr")):
            self.lr_steps.append(float(step))
            self.lr.append(float(values["lr"]))
        for name, value in loss_parts(values).items():
            curve = self.parts.setdefault(name, Curve())
            curve.steps.append(float(step))
            curve.values.append(value)
            added = True
        return added

    def _drop_from(self, step: int) -> None:
        keep = next((i for i, s in enumerate(self.steps) if s >= step), len(self.steps))
        del self.steps[keep:], self.loss[keep:]
        keep = next((i for i, s in enumerate(self.lr_steps) if s >= step), len(self.lr_steps))
        del self.lr_steps[keep:], self.lr[keep:]
        for name, curve in list(self.parts.items()):
            curve.drop_from(step)
            if not curve.steps:
                del self.parts[name]

    def add_event(self, record: dict[str, Any]) -> str | None:
        """One ``metrics.jsonl`` record; returns the log line it makes, if any."""
        kind = str(record.get("event") or "")
        step = int(record.get("step") or 0)
        if kind == "step":
            self.add_step(step, int(record.get("total") or 0), record)
        elif kind:
            self.step = max(self.step, step) if kind != "resume" else step
        if kind:
            self.last_event = kind
        line = event_line(record)
        if line:
            self.log.append(line)
        return line

    @classmethod
    def read(cls, run_dir: str | os.PathLike) -> RunData:
        """A run read back from its folder (metrics, samples, the log its events make)."""
        data = cls(str(run_dir))
        records, size, file_id = read_complete(run_dir)
        for record in records:
            data.add_event(record)
        data.read_to = (size, file_id)
        data.samples = samples_of(run_dir)
        data.total = data.total or _config_steps(run_dir)
        return data


def event_line(record: dict[str, Any]) -> str:
    """A log line for a run event read from its file (step lines make none)."""
    kind, step = record.get("event"), record.get("step", 0)
    text = {
        "start": "Training started.",
        "resume": f"Resumed from the checkpoint at step {step}.",
        "checkpoint": f"Checkpoint saved at step {step}.",
        "sample": f"Sample at step {step}.",
        "done": f"Training finished at step {step}.",
        "cancelled": f"Training stopped at step {step}.",
    }.get(str(kind), "")
    if not text:
        return ""
    when = record.get("time")
    stamp = time.strftime("%H:%M:%S ", time.localtime(float(when))) if _finite(when) else ""
    return stamp + text


def _config_steps(run_dir: str | os.PathLike) -> int:
    try:
        config = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
        return int(config.get("config", {}).get("max_steps") or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def ema(values: list[float], smoothing: float = 0.9) -> list[float]:
    """The exponential moving average TensorBoard draws (debiased, so it starts at the first value)."""
    out, average, weight = [], 0.0, 0.0
    for value in values:
        average = smoothing * average + (1 - smoothing) * value
        weight = smoothing * weight + (1 - smoothing)
        out.append(average / weight)
    return out


# -- the list of runs ------------------------------------------------------------------------
@dataclass(frozen=True)
class RunInfo:
    """One run folder in the run list."""

    run_dir: str
    name: str
    status: str  # done | cancelled | interrupted | running | paused | queued | failed | new
    step: int
    total: int
    modified: float

    def label(self) -> str:
        if self.status in ("running", "paused", "queued"):  # its step moves on: the monitor shows it
            return f"{self.name} — {self.status}"
        steps = f"{self.step}/{self.total} steps" if self.total else f"step {self.step}"
        return f"{self.name} — {self.status}, {steps}"


def run_name(run_dir: str | os.PathLike) -> str:
    path = Path(run_dir)
    return path.name if path.parent.name == "runs" or not path.parent.name else f"{path.parent.name}/{path.name}"


def run_folders(runs_root: str | os.PathLike) -> list[Path]:
    """Folders under ``runs_root`` holding a ``metrics.jsonl`` (and their stage folders, one level
    down), newest first."""
    root = Path(runs_root)
    found: list[Path] = []
    try:
        children = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return []
    for child in children:
        if (child / METRICS).is_file():
            found.append(child)
        else:
            found.extend(p for p in sorted(child.iterdir()) if p.is_dir() and (p / METRICS).is_file())
    return sorted(found, key=lambda p: _mtime(p / METRICS), reverse=True)


def run_info(run_dir: str | os.PathLike, job_state: str = "") -> RunInfo:
    """A run's status: a live job's state (running, paused, queued) comes first; else the last
    event of its file: done, stopped (cancelled) or interrupted (it ended mid-run)."""
    events = tail_events(run_dir)
    step = max((int(e.get("step") or 0) for e in events), default=0)
    total = next((int(e["total"]) for e in reversed(events) if e.get("total")), 0) or _config_steps(run_dir)
    last = next((str(e.get("event")) for e in reversed(events) if e.get("event") in (*ENDED, "start", "resume",
                                                                                   "step", "checkpoint", "sample")), "")
    if job_state in ("running", "paused", "queued"):
        status = job_state
    elif last in ENDED:
        status = ENDED[last]
    elif job_state in ("failed", "interrupted"):
        status = job_state
    else:
        status = "interrupted" if last else "new"
    return RunInfo(str(run_dir), run_name(run_dir), status, step, total, _mtime(Path(run_dir) / METRICS))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# -- figures as text -------------------------------------------------------------------------
def format_duration(seconds: float | None) -> str:
    if seconds is None or not _finite(seconds) or seconds < 0:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_memory(stats: dict[str, float]) -> str:
    parts = []
    if "rss_mb" in stats:
        parts.append(f"RAM {stats['rss_mb'] / 1024:.2f} GB" if stats["rss_mb"] >= 1024
                     else f"RAM {stats['rss_mb']:.0f} MB")
    if "cuda_mb" in stats:
        parts.append(f"CUDA {stats['cuda_mb'] / 1024:.2f} GB" if stats["cuda_mb"] >= 1024
                     else f"CUDA {stats['cuda_mb']:.0f} MB")
    return " · ".join(parts) or "—"


def format_rate(stats: dict[str, float]) -> str:
    rate = stats.get("it_s")
    if rate is None:
        return "—"
    return f"{rate:.2f} it/s" if rate >= 1 else f"{1 / rate:.1f} s/it" if rate > 0 else "—"


# -- a data set folder -----------------------------------------------------------------------
@dataclass
class DatasetItem:
    """An image of the data set and its caption (``source``: txt, metadata or "" when it has none)."""

    path: Path
    caption: str = ""
    source: str = ""


@dataclass
class DatasetScan:
    root: Path
    items: list[DatasetItem] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "name: reason"
    error: str = ""

    @property
    def uncaptioned(self) -> int:
        return sum(1 for item in self.items if not item.caption)


def scan_dataset(root: str | os.PathLike, check: bool = True) -> DatasetScan:
    """The images of ``root`` with their captions (``IMAGE.txt`` beside each, or ``metadata.jsonl``
    lines, which the trainer prefers), and the files that cannot be used. ``check`` opens each
    image (Pillow) to find broken ones."""
    root = Path(root).expanduser()
    scan = DatasetScan(root)
    if not root.is_dir():
        scan.error = f"The data folder '{root}' does not exist." if not root.exists() else \
            f"'{root}' is a file, not a folder."
        return scan
    metadata = _metadata(root)
    try:
        files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        scan.error = f"The data folder '{root}' cannot be read: {exc}"
        return scan
    for path in files:
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            if suffix not in (".txt", ".jsonl", ".json"):
                scan.unreadable.append(f"{path.name}: not an image")
            continue
        if check and (reason := _unreadable(path)):
            scan.unreadable.append(f"{path.name}: {reason}")
            continue
        if path.name in metadata:
            scan.items.append(DatasetItem(path, metadata[path.name], "metadata"))
            continue
        sidecar = path.with_suffix(".txt")
        caption = ""
        if sidecar.is_file():
            try:
                caption = sidecar.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                caption = ""
        scan.items.append(DatasetItem(path, caption, "txt" if caption else ""))
    return scan


def _unreadable(path: Path) -> str:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
    except Exception as exc:  # Pillow raises many kinds for a broken file
        return f"not a readable image ({type(exc).__name__})"
    return ""


def _metadata(root: Path) -> dict[str, str]:
    path = root / "metadata.jsonl"
    if not path.is_file():
        return {}
    captions = {}
    for record in parse_lines(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        if "file_name" in record and "text" in record:
            captions[str(record["file_name"])] = str(record["text"])
    return captions


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_caption(item: DatasetItem, caption: str) -> DatasetItem:
    """Save an image's caption where the trainer reads it: its ``metadata.jsonl`` line when it has
    one, else the ``IMAGE.txt`` sidecar (written atomically). Returns the updated item."""
    caption = " ".join(caption.split())
    if item.source == "metadata":
        path = item.path.parent / "metadata.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        out = []
        for line in lines:
            record = parse_lines([line])
            if record and record[0].get("file_name") == item.path.name:
                record[0]["text"] = caption
                line = json.dumps(record[0], ensure_ascii=False)
            out.append(line)
        atomic_write_text(path, "".join(line + "\n" for line in out))
        return DatasetItem(item.path, caption, "metadata")
    atomic_write_text(item.path.with_suffix(".txt"), caption + "\n")
    return DatasetItem(item.path, caption, "txt" if caption else "")
