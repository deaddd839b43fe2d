"""ONNX Runtime for model families: execution providers, sessions and the export cache.

Reached by families through :mod:`studio.plugins.onnx`. Imports onnxruntime lazily (the cache
functions, e.g. for Settings, never load it), never Qt.

Providers are tried TensorRT → CUDA → CPU, keeping those that are installed *and* actually start
(the GPU wheel lists CUDA even on a machine without CUDA 13/cuDNN 9; a session asked for it falls
back to the CPU after printing a long warning). The probe runs once per process with ONNX
Runtime's own logging silenced, and its outcome becomes one readable notice.

The export cache lives under ``cache_dir/onnx/<key>/``: ``key`` is a hash of everything that
changes the exported graphs (the model's identity, the LoRA set, opset, ONNX Runtime version,
dtype …). An entry is built in a temporary folder and renamed into place, and holds a
``manifest.json`` listing every file with its size and SHA-256, so a truncated or missing file (or
a damaged manifest) is detected and the entry rebuilt.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("studio.onnx")

OPSET = 18
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"
PROVIDER_NAMES = {
    "TensorrtExecutionProvider": "TensorRT",
    "CUDAExecutionProvider": "CUDA",
    "CPUExecutionProvider": "CPU",
    "CoreMLExecutionProvider": "CoreML",
    "DmlExecutionProvider": "DirectML",
}
_SAMPLE = 1 << 20  # bytes hashed at each end of a file for the quick check
_log_lock = threading.Lock()


def ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def provider_name(provider: str) -> str:
    """A provider's short name for people (``CUDAExecutionProvider`` → ``CUDA``)."""
    return PROVIDER_NAMES.get(provider, provider.removesuffix("ExecutionProvider"))


# ----------------------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class ProviderChoice:
    """The providers a session gets, best first, and a notice when a GPU one was wanted but failed."""

    providers: tuple[str, ...]
    notice: str = ""

    @property
    def name(self) -> str:
        return provider_name(self.providers[0])


def _tiny_model() -> bytes:
    """A one-node ONNX model (Relu) to see whether a provider starts."""
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [value], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)
    return model.SerializeToString()


class _quiet_ort:
    """Silence ONNX Runtime while a session starts: its default logger (provider load failures print
    errors there) and the Python wrapper's own prints ("EP Error … Falling back"), which would land
    in the command line's output. What was printed goes to the log at debug level."""

    def __enter__(self):
        import onnxruntime

        _log_lock.acquire()
        onnxruntime.set_default_logger_severity(4)
        self._text = io.StringIO()
        self._redirects = [contextlib.redirect_stdout(self._text), contextlib.redirect_stderr(self._text)]
        for redirect in self._redirects:
            redirect.__enter__()
        return self

    def __exit__(self, *exc):
        import onnxruntime

        for redirect in reversed(self._redirects):
            redirect.__exit__(*exc)
        onnxruntime.set_default_logger_severity(3)
        _log_lock.release()
        if text := self._text.getvalue().strip():
            log.debug("ONNX Runtime said: %s", text)


@functools.cache
def working_providers() -> tuple[str, ...]:
    """The installed providers that actually start here, best first (CPU always last)."""
    import onnxruntime

    available = set(onnxruntime.get_available_providers())
    working: list[str] = []
    model = None
    for provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):  # TensorRT needs CUDA under it
        if provider not in available or (provider != "CUDAExecutionProvider" and not working):
            continue
        model = model or _tiny_model()
        try:
            with _quiet_ort():
                session = onnxruntime.InferenceSession(model, _options(), providers=[provider, CPU_PROVIDER])
            if provider in session.get_providers():
                working.insert(0, provider)
        except Exception as exc:  # a provider that raises while starting does not work
            log.debug("ONNX Runtime provider %s does not start: %s", provider, exc)
    return (*working, CPU_PROVIDER)


def choose_providers(device: str = "auto") -> ProviderChoice:
    """The providers for ``device`` (``auto``/``cuda`` → the best GPU one that starts, else CPU with a
    notice; ``cpu`` → CPU). TensorRT is used only where CUDA works too (it needs CUDA underneath)."""
    if device not in ("auto", "cuda"):
        return ProviderChoice((CPU_PROVIDER,))
    import onnxruntime

    listed = [p for p in GPU_PROVIDERS if p in onnxruntime.get_available_providers()]
    working = working_providers()
    if "CUDAExecutionProvider" in working:
        return ProviderChoice(working)
    if not listed:  # the CPU-only wheel: nothing to fall back from
        notice = ("ONNX Runtime has no GPU provider here (the CPU-only 'onnxruntime' package is installed); "
                  "running on the CPU.") if device == "cuda" else ""
        return ProviderChoice((CPU_PROVIDER,), notice)
    return ProviderChoice(
        (CPU_PROVIDER,),
        "ONNX Runtime's CUDA provider could not start (it needs an NVIDIA GPU with CUDA 13 and cuDNN 9: "
        "pip install 'onnxruntime-gpu[cuda,cudnn]'); running on the CPU.",
    )


def _options(threads: int | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: warnings about fallbacks become our own notice
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def default_threads() -> int | None:
    """``OMP_NUM_THREADS`` when set (the studio's way to share the CPU with training), else ORT's default."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def create_session(path: str | Path, choice: ProviderChoice, threads: int | None = None):
    """An ``InferenceSession`` of the model at ``path`` on ``choice``'s providers (ORT's own provider
    warnings silenced: :func:`choose_providers` already said what matters)."""
    import onnxruntime

    with _quiet_ort():
        return onnxruntime.InferenceSession(
            str(path), _options(threads or default_threads()), providers=list(choice.providers)
        )


# ------------------------------------------------------------------------------------------ the cache


def cache_root(cache_dir: str | Path) -> Path:
    """Where exports live: ``cache_dir/onnx``."""
    return Path(cache_dir) / "onnx"


def cache_key(parts: dict[str, Any]) -> str:
    """A short stable key of ``parts`` (anything JSON can write; keys sorted), with the opset and
    ONNX Runtime version folded in."""
    payload = {"opset": OPSET, "ort": ort_version(), "manifest": MANIFEST_VERSION, **parts}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def folder_identity(path: str | Path) -> str:
    """A hash of a model folder's files (relative path, size, modification time): a cache key part
    for folders, where :func:`studio.core.hashing.model_hash` gives ``""``."""
    from studio.core.hashing import files_signature

    signature = [(rel, size, mtime) for rel, _inode, size, mtime in files_signature(path)] \
        if Path(path).is_dir() else list(files_signature(path))
    return hashlib.sha256(repr(signature).encode()).hexdigest()[:20]


def _hashes(path: Path) -> tuple[str, str]:
    """(full SHA-256, quick sample hash of size + first and last MiB) of a file."""
    full = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            full.update(block)
    return full.hexdigest(), _sample_hash(path)


def _sample_hash(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_SAMPLE))
        if size > _SAMPLE:
            handle.seek(max(_SAMPLE, size - _SAMPLE))
            digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            yield path


class CacheProblem(Exception):
    """A cache entry that exists but cannot be used (the message says why)."""


class ExportCache:
    """Exported models under ``root/<key>/``, each with a manifest of its files."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.root = cache_root(cache_dir)

    def path(self, key: str) -> Path:
        return self.root / key

    def check(self, key: str, *, full: bool = False) -> Path | None:
        """The entry's folder when it is complete; ``None`` when there is none; raises
        :class:`CacheProblem` when it is damaged (a file missing, truncated or changed, or a bad
        manifest). ``full`` hashes every byte; otherwise sizes and each file's ends are compared."""
        folder = self.path(key)
        if not folder.is_dir():
            return None
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            files = manifest["files"]
            if not isinstance(files, dict) or not files:
                raise ValueError("no files listed")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CacheProblem(f"its manifest is missing or damaged ({exc})") from None
        for name, info in files.items():
            file = folder / name
            try:
                size = file.stat().st_size
            except OSError:
                raise CacheProblem(f"'{name}' is missing") from None
            try:
                if size != int(info["size"]):
                    raise CacheProblem(f"'{name}' has {size} bytes instead of {info['size']}")
                wanted, actual = (info["sha256"], _hashes(file)[0]) if full else (info["sample"], _sample_hash(file))
            except (KeyError, TypeError, ValueError):
                raise CacheProblem("its manifest is missing or damaged") from None
            if wanted != actual:
                raise CacheProblem(f"'{name}' changed since it was written")
        return folder

    def usable(self, key: str, name: str, report: Callable[..., Any]) -> Path | None:
        """:meth:`check`, with a damaged entry told to the user (log and job notice) and answered
        ``None``, so the caller exports it again."""
        try:
            return self.check(key)
        except CacheProblem as problem:
            notice = f"The ONNX export of '{name}' was damaged ({problem}); exporting it again."
            log.warning(notice)
            report(0, 1, notice=notice)
            return None

    def meta(self, key: str) -> dict[str, Any]:
        """The ``meta`` dict stored with an entry ({} if none)."""
        try:
            data = json.loads((self.path(key) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        meta = data.get("meta") if isinstance(data, dict) else None
        return meta if isinstance(meta, dict) else {}

    def build(self, key: str, fill: Callable[[Path], dict[str, Any] | None]) -> Path:
        """Make the entry: ``fill(folder)`` writes the files into a temporary folder (and returns a
        ``meta`` dict); the manifest is written and the folder renamed into place, replacing a
        damaged entry. A failure leaves no entry behind."""
        self.root.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.root))
        try:
            meta = fill(temp) or {}
            files = {}
            for file in _walk(temp):
                sha, sample = _hashes(file)
                files[file.relative_to(temp).as_posix()] = {"size": file.stat().st_size, "sha256": sha,
                                                            "sample": sample}
            manifest = {"version": MANIFEST_VERSION, "key": key, "created": time.time(), "files": files,
                        "meta": meta}
            (temp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            target = self.path(key)
            if target.exists():
                self.remove(key)
            os.replace(temp, target)
            return target
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def remove(self, key: str) -> None:
        """Delete an entry (moved aside first, so a half-deleted entry never looks like one)."""
        target = self.path(key)
        if not target.exists():
            return
        trash = self.root / f".trash-{key}-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def entries(self) -> list[dict[str, Any]]:
        """Each entry's key, size in bytes and stored meta."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                found.append({"key": folder.name, "size": _folder_bytes(folder), "meta": self.meta(folder.name)})
        return found

    def size(self) -> int:
        return _folder_bytes(self.root) if self.root.is_dir() else 0

    def clear(self) -> int:
        """Delete every entry (and leftovers of interrupted builds); the bytes freed."""
        freed = self.size()
        if self.root.is_dir():
            for child in list(self.root.iterdir()):
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        return freed


def _folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            pass
    return total


def cache_size(cache_dir: str | Path) -> int:
    """Bytes the ONNX exports take under ``cache_dir`` (for Settings)."""
    return ExportCache(cache_dir).size()


def clear_cache(cache_dir: str | Path) -> int:
    """Delete every ONNX export under ``cache_dir``; the bytes freed (for Settings)."""
    return ExportCache(cache_dir).clear()

