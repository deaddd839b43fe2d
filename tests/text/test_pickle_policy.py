"""A language-model folder whose only weights are a pickle (``pytorch_model.bin``) is refused unless
the user allowed that file in Settings, as single-file pickle checkpoints are (README: ".bin refused
unless allowed"); once allowed it loads with torch's weights-only reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.settings import Settings


@pytest.fixture
def pickle_only_folder(tiny_llama_folder: Path, tmp_path: Path) -> Path:
    """The tiny model with its weights saved as ``pytorch_model.bin`` instead of safetensors."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickle-llama"
    shutil.copytree(tiny_llama_folder, folder)
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def _text(capsys, folder: Path) -> tuple[int, str, str]:
    code = main(["text", "--model", str(folder), "--prompt", "The studio", "--max-new-tokens", "5", "--seed", "1"])
    out, err = capsys.readouterr()
    return code, out, err


def test_pickle_only_language_model_is_refused_with_one_clear_line(capsys, pickle_only_folder):
    code, out, err = _text(capsys, pickle_only_folder)
    assert code == 2 and not out
    assert "pickle" in err and "pytorch_model.bin" in err and "Allow pickle files" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("allow", ["file", "folder"])
def test_pickle_only_language_model_loads_once_allowed(capsys, pickle_only_folder, allow):
    settings = Settings.load()
    allowed = pickle_only_folder / "pytorch_model.bin" if allow == "file" else pickle_only_folder
    settings.allowed_pickles = [str(allowed)]
    settings.save()
    code, out, err = _text(capsys, pickle_only_folder)
    assert code == 0, err
    assert out.strip()  # the continuation


def test_safetensors_folder_needs_no_permission(capsys, tiny_llama_folder, tmp_path):
    folder = tmp_path / "both"
    shutil.copytree(tiny_llama_folder, folder)
    (folder / "pytorch_model.bin").write_bytes(b"not even read")  # safetensors win: the pickle is never opened
    code, _out, err = _text(capsys, folder)
    assert code == 0, err
