"""The hostile-input suite's helpers: bad files built once per session (crafted PNG headers, damaged
studio records, special files), a CLI runner that keeps what a user would see, and snapshots that
prove nothing was written or lost."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo


@dataclass(frozen=True)
class Outcome:
    code: int | str
    out: str
    err: str


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``studio.cli.main.main(argv)`` in-process, as a user would see it (argparse's exit included)."""
    from studio.cli.main import main

    capsys.readouterr()
    try:
        code: int | str = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else str(exc.code)
    out, err = capsys.readouterr()
    return Outcome(code, out, err)


def assert_refused(outcome: Outcome, expect: str = "") -> None:
    """Exit 2, exactly one line on stderr, no traceback, and (when given) ``expect`` in that line."""
    lines = outcome.err.strip().splitlines()
    assert outcome.code == 2, f"exit {outcome.code}, stderr: {outcome.err!r}"
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {outcome.err!r}"
    assert "Traceback" not in outcome.err
    assert expect in lines[0], f"{expect!r} not in {lines[0]!r}"


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folders`` (hidden ones included) with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


def gallery_images(home: Path) -> list[str]:
    """Image files in the gallery folder of ``home`` (its database aside)."""
    folder = home / "gallery"
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".webp"))


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims ``width``×``height`` (IHDR, one empty IDAT, IEND): opening it reads the header,
    decoding it would allocate the whole picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


def png_with_text(path: Path, **chunks: str) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    Image.new("RGB", (16, 16), "gray").save(path, pnginfo=info)
    return path


def studio_record(**request_changes: object) -> str:
    """The JSON of a studio chunk whose request has ``request_changes``."""
    from studio.core.requests import GenerationRequest

    request = GenerationRequest(model="demo", prompt="a cat", seed=1, width=64, height=64).to_dict()
    request.update(request_changes)
    return json.dumps({"request": request})


def safetensors_file(path: Path, header: object, payload: bytes = b"") -> Path:
    """A safetensors file with exactly ``header`` as its JSON header (however odd)."""
    data = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + payload)
    return path


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every hostile file the tables refer to, by name, built once."""
    root = tmp_path_factory.mktemp("hostile-files")
    files: dict[str, Path] = {}
    folder = root / "a-folder"
    folder.mkdir()
    files["folder"] = folder
    files["missing"] = root / "no-such-file.png"
    files["text_as_png"] = root / "notes.png"
    files["text_as_png"].write_text("this is not a picture")
    files["empty"] = root / "empty.png"
    files["empty"].write_bytes(b"")
    files["truncated_png"] = root / "truncated.png"
    good = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(good, format="PNG")
    files["truncated_png"].write_bytes(good.getvalue()[:40])
    files["good_png"] = root / "good.png"
    files["good_png"].write_bytes(good.getvalue())
    files["huge_30000"] = png_header_only(root / "huge-30000.png", 30000, 30000)
    files["huge_12000"] = png_header_only(root / "huge-12000.png", 12000, 12000)
    files["wide_20000"] = png_header_only(root / "wide-20000x8.png", 20000, 8)
    files["chunk_bad_json"] = png_with_text(root / "bad-json.png", studio="{not json")
    files["chunk_list"] = png_with_text(root / "list.png", studio="[1, 2, 3]")
    files["chunk_string"] = png_with_text(root / "string.png", studio='"hello"')
    files["chunk_width_text"] = png_with_text(root / "width-text.png", studio=studio_record(width="64"))
    files["chunk_steps_float"] = png_with_text(root / "steps-float.png", studio=studio_record(steps=2.5))
    files["chunk_guidance_nan"] = png_with_text(root / "guidance-nan.png",
                                                studio=studio_record(guidance=float("nan")))
    files["chunk_seed_huge"] = png_with_text(root / "seed-huge.png", studio=studio_record(seed=2**40))
    files["chunk_kind_text"] = png_with_text(root / "kind-text.png",
                                             studio=json.dumps({"request": {"kind": "text", "model": "m",
                                                                            "prompt": "p"}}))
    files["chunk_kind_unknown"] = png_with_text(root / "kind-unknown.png", studio=studio_record(kind="paint"))
    files["chunk_schema_future"] = png_with_text(root / "schema.png", studio=studio_record(schema=99))
    files["chunk_unknown_field"] = png_with_text(root / "field.png", studio=studio_record(colour="red"))
    files["chunk_request_list"] = png_with_text(root / "request-list.png", studio='{"request": [1]}')
    files["chunk_no_request"] = png_with_text(root / "no-request.png", studio='{"model_name": "x"}')
    files["chunk_loras_text"] = png_with_text(root / "loras-text.png", studio=studio_record(loras="abc"))
    files["chunk_loras_numbers"] = png_with_text(root / "loras-numbers.png", studio=studio_record(loras=[[1, 2, 3]]))
    files["chunk_deep"] = png_with_text(root / "deep.png", studio="[" * 100000 + "]" * 100000)
    files["chunk_model_nul"] = png_with_text(root / "model-nul.png", studio=studio_record(model="de\x00mo"))
    files["chunk_scheduler"] = png_with_text(root / "scheduler.png", studio=studio_record(scheduler="Warp"))
    files["no_record"] = png_with_text(root / "plain.png", Software="paint")
    files["a1111_only"] = png_with_text(root / "a1111.png", parameters="a cat\nSteps: 20, Seed: 1")
    files["lora_pickle"] = root / "style.ckpt"
    files["lora_pickle"].write_bytes(b"\x80\x04K\x01.")
    files["lora_garbage"] = root / "garbage.safetensors"
    files["lora_garbage"].write_bytes(b"\xff" * 64)
    files["text_file"] = root / "story.txt"
    files["text_file"].write_text("Once upon a time there was a studio.", encoding="utf-8")
    files["latin1_file"] = root / "latin1.txt"
    files["latin1_file"].write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    files["empty_text"] = root / "empty.txt"
    files["empty_text"].write_text("   ")
    files["fifo"] = root / "a-fifo"
    os.mkfifo(files["fifo"])
    files["socket"] = root / "a-socket"
    with contextlib.closing(socket.socket(socket.AF_UNIX)) as sock:
        sock.bind(str(files["socket"]))
    files["dangling"] = root / "dangling.png"
    files["dangling"].symlink_to(root / "gone.png")
    files["a_file_as_folder"] = files["text_file"] / "out.png"
    files["device"] = root / "a-device"
    if os.geteuid() == 0:  # a character device of our own (the null device's numbers), never /dev/*
        os.mknod(files["device"], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        files["device"] = Path("/dev/null")
    files["good_lora_dir"] = folder
    return {name: str(path) for name, path in files.items()}
