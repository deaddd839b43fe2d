"""Small exports: the invisible mark is read back from the written file, and when it cannot be (a busy
photo a few dozen pixels wide) the export says so instead of shipping a mark nobody can find."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from studio.core.requests import ExportRequest
from studio.export import watermark
from studio.export.batch import export_images


def _export(source: Path, out: Path, fmt: str = "png"):
    notices: list[str] = []

    def report(step, total, **kinds):
        if kinds.get("notice"):
            notices.append(kinds["notice"])

    out.mkdir(exist_ok=True)
    result = export_images(ExportRequest(images=(str(source),), out_dir=str(out), format=fmt), report, lambda: False)
    return result.artifacts[0], notices


def test_a_small_generated_picture_exports_with_a_readable_mark(tmp_path: Path) -> None:
    """A 64 px picture like the demo model's: a soft shape on a plain ground, with a generator's grain."""
    picture = Image.new("RGB", (64, 64), (236, 232, 220))
    ImageDraw.Draw(picture).rectangle([10, 14, 40, 50], fill=(30, 60, 200))
    pixels = np.asarray(picture.filter(ImageFilter.GaussianBlur(1.5)), np.float64)
    pixels += np.random.default_rng(1).normal(0, 3, pixels.shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(tmp_path / "square.png")
    for fmt in ("png", "jpeg"):
        artifact, notices = _export(tmp_path / "square.png", tmp_path / fmt, fmt)
        assert notices == [] and artifact.metadata.get("watermark_readable", True)
        with Image.open(artifact.path) as written:
            assert watermark.detect(written.convert("RGB")).detected


def test_an_unreadable_small_mark_is_told(photo: Image.Image, tmp_path: Path) -> None:
    photo.resize((48, 48), Image.Resampling.LANCZOS).save(tmp_path / "busy.png")  # smaller than one tile
    artifact, notices = _export(tmp_path / "busy.png", tmp_path / "out")
    assert artifact.metadata["watermark_readable"] is False
    assert len(notices) == 1 and "too small" in notices[0] and Path(artifact.path).name in notices[0]
