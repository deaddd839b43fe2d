"""``studio text`` and ``studio text detect`` as a user types them (in-process, to keep the suite fast)."""

from __future__ import annotations

import json

import pytest

from studio.cli.main import main
from studio.core.paths import DEMO_MODELS


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_is_reproducible_and_its_watermark_detected(capsys, tiny_llama_folder, tmp_path):
    model = str(tiny_llama_folder)
    args = ("text", "--model", model, "--prompt", "The studio", "--max-new-tokens", "20", "--seed", "5")
    code, first, _ = _run(capsys, *args)
    assert code == 0 and first.strip()
    assert _run(capsys, *args)[1] == first

    out = tmp_path / "marked.txt"
    code, _, _ = _run(capsys, "text", "--model", model, "--prompt", "The", "--max-new-tokens", "200", "--seed", "1",
                      "--watermark", "--preset", "Creative", "--out", str(out))
    assert code == 0 and out.read_text().startswith("The")
    code, stdout, _ = _run(capsys, "text", "detect", str(out), "--model", model)
    assert code == 0
    result = json.loads(stdout)
    assert result["detected"] is True and result["z_score"] >= 4


def test_text_bad_input_exits_2_with_one_line(capsys, tiny_llama_folder, tmp_path):
    model = str(tiny_llama_folder)
    code, _, err = _run(capsys, "text", "--model", model, "--prompt", "   ")
    assert code == 2 and "prompt is empty" in err and "Traceback" not in err
    code, _, err = _run(capsys, "text", "detect", str(tmp_path / "missing.txt"), "--model", model)
    assert code == 2 and "does not exist" in err
    code, _, err = _run(capsys, "text", "--model", model)
    assert code == 2 and "No prompt" in err
    code, _, err = _run(capsys, "text", "--model", model, "--prompt", "x", "--preset", "Nope")
    assert code == 2 and "no text preset" in err


@pytest.mark.skipif(not (DEMO_MODELS / "demo-text" / "model.safetensors").is_file(),
                    reason="resources/models/demo-text is not built (studio train demo-text)")
def test_demo_text_same_seed_same_english_like_text(capsys):
    args = ("text", "--model", "demo-text", "--prompt", "The", "--max-new-tokens", "30", "--seed", "5")
    code, first, _ = _run(capsys, *args)
    assert code == 0
    assert _run(capsys, *args)[1] == first
    words = first.split()
    assert len(words) >= 10
    common = {"the", "and", "of", "to", "i", "a", "my", "you", "is", "that", "in", "not", "with", "it", "me", "be"}
    assert sum(w.strip(".,;:!?'\"").lower() in common for w in words) >= 3, first
