"""The CLI's one error boundary: logging is ready before any command runs, an unexpected failure is exit 1
with one line naming the log (the traceback goes there, not to the terminal), and what a hostile file
cannot break (a huge header, a record with odd values) is read, not refused."""

from __future__ import annotations

import json
import logging

import pytest

from studio.cli.main import main
from tests.hostile.conftest import png_header_only, png_with_text, studio_record


def test_an_unexpected_failure_is_exit_1_with_the_log_path(studio_home, monkeypatch, capsys) -> None:
    from studio.cli import models_cmd

    def broken(args):
        raise RuntimeError("the disk\nfell off")

    monkeypatch.setattr(models_cmd, "list_models", broken)
    assert main(["models", "list"]) == 1
    err = capsys.readouterr().err
    log = studio_home / "logs" / "studio.log"
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "RuntimeError: the disk fell off" in err and str(log) in err
    assert "Traceback" in log.read_text() and "the disk" in log.read_text()


@pytest.mark.parametrize("argv", [["plugins", "list"], ["models", "list"]])
def test_commands_without_a_session_log_to_the_studio_log(argv, studio_home, capsys) -> None:
    assert main(argv) == 0
    files = [getattr(h, "baseFilename", "") for h in logging.getLogger("studio").handlers]
    assert str(studio_home / "logs" / "studio.log") in files


def test_a_keyboard_interrupt_is_one_line(monkeypatch, capsys) -> None:
    from studio.cli import plugins_cmd

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(plugins_cmd, "list_plugins", interrupted)
    assert main(["plugins", "list"]) == 130
    assert capsys.readouterr().err == "studio: interrupted\n"


def test_info_reads_a_huge_header_without_decoding_it(tmp_path, capsys) -> None:
    huge = png_header_only(tmp_path / "huge.png", 30000, 30000)
    assert main(["info", str(huge)]) == 0
    assert json.loads(capsys.readouterr().out) == {"source": None}


def test_info_shows_a_record_with_odd_values_as_it_is(tmp_path, capsys) -> None:
    odd = png_with_text(tmp_path / "odd.png", studio=studio_record(width="64"), parameters="a cat\nSteps: 20")
    assert main(["info", str(odd)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == "studio" and info["request"]["width"] == "64"
    assert info["parameters"] == "a cat\nSteps: 20"


def test_info_reads_compressed_and_international_text_chunks(tmp_path, capsys) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_itxt("parameters", "ein Kätzchen\nSteps: 20, Seed: 3", zip=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "i.png", pnginfo=meta)
    assert main(["info", str(tmp_path / "i.png")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == "a1111" and info["prompt"] == "ein Kätzchen"
    assert info["settings"]["Seed"] == "3"
