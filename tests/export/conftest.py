"""Fixtures for export tests: real photographs (scikit-image, a test dependency) and studio images."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from studio.core.imagemeta import save_png
from studio.core.requests import GenerationRequest


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    data = pytest.importorskip("skimage.data", reason="scikit-image (test dependency) gives the sample photos")
    return Image.fromarray(data.astronaut()).convert("RGB")


@pytest.fixture(scope="session")
def photo_gray() -> Image.Image:
    data = pytest.importorskip("skimage.data", reason="scikit-image (test dependency) gives the sample photos")
    return Image.fromarray(data.camera()).convert("RGB")


def generation_request(**changes) -> GenerationRequest:
    base = GenerationRequest(
        model="demo", prompt="a red fox in snow, watercolor", negative_prompt="blurry", seed=1234, steps=20
    )
    return base.replace(**changes)  # type: ignore[return-value]


@pytest.fixture
def generated_png(tmp_path: Path) -> Path:
    """A studio-generated PNG (A1111 infotext + studio record), 256×192, with texture."""
    import numpy as np

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:192, 0:256]
    base = np.stack([128 + 60 * np.sin(x / 9.0), 128 + 60 * np.cos(y / 7.0), 100 + 0 * x], -1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype("uint8")
    path = tmp_path / "src" / "fox.png"
    path.parent.mkdir()
    save_png(Image.fromarray(pixels), path, generation_request(), 1234, {"model_name": "demo"})
    return path


def bomb_png(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A tiny file whose header claims ``width × height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
