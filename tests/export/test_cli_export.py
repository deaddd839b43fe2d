"""``studio export`` and ``studio watermark detect`` from the command line (DESIGN.md §6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.main import main


def test_export_then_detect(generated_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code = main(["export", str(generated_png), "--out", str(out), "--format", "jpeg", "--quality", "85",
                 "--visible-text", "© Ana", "--opacity", "0.4", "--name", "{prompt}-{n}", "--owner", "12", "--json"])
    assert code == 0
    written = json.loads(capsys.readouterr().out)["written"]
    assert [Path(p).name for p in written] == ["a-red-fox-in-snow-watercolor-1.jpg"]
    assert main(["watermark", "detect", written[0]]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"detected", "payload", "confidence"}
    assert report["detected"] and report["payload"]["owner"] == 12 and report["confidence"] >= 0.5
    assert main(["watermark", "detect", "--provenance", written[0]]) == 0
    prov = json.loads(capsys.readouterr().out)["provenance"]
    assert prov["digital_source_type"].endswith("trainedAlgorithmicMedia")


def test_no_watermark_and_unmarked_detect(generated_png: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(generated_png), "--out", str(out), "--no-watermark", "--strip-metadata"]) == 0
    capsys.readouterr()
    assert main(["watermark", "detect", str(out / "fox.png")]) == 0
    assert json.loads(capsys.readouterr().out) == {"detected": False, "payload": None, "confidence": 0.0}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{tmp}/missing"], "does not exist"),
        (["--out", "{tmp}", "--name", "../{{n}}"], "outside"),
        (["--out", "{tmp}", "--quality", "0"], "Quality"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(generated_png: Path, tmp_path: Path, capsys, args, message) -> None:
    argv = ["export", str(generated_png), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "Traceback" not in err


def test_detect_on_a_missing_file_is_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["watermark", "detect", str(tmp_path / "nope.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_check_image_for_the_provenance_panel(generated_png: Path, tmp_path: Path) -> None:
    from studio.export.check import check_image

    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(generated_png), "--out", str(out), "--format", "webp"]) == 0
    report = check_image(out / "fox.webp")
    assert report.watermark.detected
    assert report.metadata["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert report.to_dict()["watermark"]["payload"]["owner"] == 0


def test_default_names_follow_the_source_and_never_collide(generated_png: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(3):  # exporting the same file again never fails and never overwrites
        assert main(["export", str(generated_png), "--out", str(out), "--no-watermark"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fox-2.png", "fox-3.png", "fox.png"]
    assert main(["export", str(generated_png), "--out", str(out), "--name", "{n}", "--no-watermark"]) == 0
    assert (out / "1.png").is_file()
    (out / "1.png").write_bytes(b"old")
    assert main(["export", str(generated_png), "--out", str(out), "--name", "{n}", "--overwrite"]) == 0
    assert (out / "1.png").read_bytes() != b"old"  # replaced only when asked


def test_exports_follow_the_umask(generated_png: Path, tmp_path: Path) -> None:
    import os
    import stat

    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(0o022)
    try:
        for fmt in ("png", "jpeg"):
            assert main(["export", str(generated_png), "--out", str(out), "--format", fmt, "--no-watermark"]) == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {"fox.png": 0o644, "fox.jpg": 0o644}
