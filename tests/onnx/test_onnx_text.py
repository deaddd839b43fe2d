"""Causal language models on the ONNX Runtime backend, against the torch backend on the same requests.

Each model's decoder is exported once for the run (a few seconds) into the shared ONNX cache; the
tests after the first reuse it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.paths import DEMO_MODELS
from studio.core.requests import TextRequest
from studio.jobs import JobState
from studio.session import StudioSession
from tests.onnx.events import Events
from tests.text.conftest import build_tiny_llama

HAS_DEMO_TEXT = (DEMO_MODELS / "demo-text" / "model.safetensors").is_file()
needs_demo_text = pytest.mark.skipif(not HAS_DEMO_TEXT, reason="resources/models/demo-text is not built")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("onnx-text") / "tiny-llama")


def _text(session, **values):
    values = {"prompt": "The studio", "max_new_tokens": 24, "seed": 5, "temperature": 0.0, **values}
    job = session.runner.run_now(TextRequest(**values))
    assert job.state is JobState.DONE, job.error
    return job


def _same_on_both(session, **values) -> str:
    torch_job = _text(session, backend="torch", **values)
    session.events.chunks.clear()
    onnx_job = _text(session, backend="onnx", **values)
    assert onnx_job.result.text == torch_job.result.text
    assert onnx_job.result.data["new_tokens"] == torch_job.result.data["new_tokens"]
    assert "".join(session.events.chunks) == onnx_job.result.text  # streamed as it went
    assert onnx_job.result.data["provider"] == "CPU" and onnx_job.result.data["backend"] == "onnx"
    return onnx_job.result.text


def test_greedy_text_on_the_tiny_llama_is_the_torch_text(session, tiny_llama):
    text = _same_on_both(session, model=str(tiny_llama), max_new_tokens=40)
    assert text.strip()
    _same_on_both(session, model=str(tiny_llama), prompt="Plugins are code", repetition_penalty=1.0)


@needs_demo_text
def test_greedy_text_on_demo_text_is_the_torch_text(session):
    text = _same_on_both(session, model="demo-text", prompt="The", max_new_tokens=30)
    assert len(text.split()) >= 5


def test_sampling_presets_run_on_onnx(session, tiny_llama):
    """Sampling draws from the same processed distribution with the same generator: the tokens match
    torch's (ORT's float rounding could in principle flip a draw at a boundary, so compare loosely)."""
    values = {"model": str(tiny_llama), "temperature": 0.9, "top_p": 0.9, "top_k": 20, "max_new_tokens": 30}
    onnx = _text(session, backend="onnx", **values).result.text
    assert onnx == _text(session, backend="onnx", **values).result.text  # same seed, same text
    assert onnx == _text(session, backend="torch", **values).result.text


def test_watermarked_onnx_text_is_detected(session, tiny_llama, tmp_path, capsys):
    job = _text(session, backend="onnx", model=str(tiny_llama), prompt="The", max_new_tokens=200, seed=1,
                temperature=1.0, top_p=0.98, top_k=0, watermark=True)
    assert job.result.data["watermark"]["vocab_size"] > 0
    out = tmp_path / "marked.txt"
    out.write_text("The" + job.result.text, encoding="utf-8")
    assert main(["text", "detect", str(out), "--model", str(tiny_llama)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["detected"] is True and result["z_score"] >= 4
    # Detection on the ONNX backend too (no export needed), and unmarked text is not flagged.
    plain = _text(session, backend="onnx", model=str(tiny_llama), prompt="The", max_new_tokens=200, seed=1,
                  temperature=1.0, top_p=0.98, top_k=0)
    detect = _text(session, backend="onnx", model=str(tiny_llama), mode="detect", prompt="The" + plain.result.text)
    assert detect.result.data["detected"] is False


def test_stop_ends_generation_within_a_token(session, tiny_llama):
    _text(session, backend="onnx", model=str(tiny_llama), max_new_tokens=2)  # exported before
    session.events.chunks.clear()
    session.events.cancel_at = 3  # tokens
    job = session.runner.run_now(TextRequest(model=str(tiny_llama), prompt="The", max_new_tokens=100, seed=2,
                                             backend="onnx", temperature=0.0))
    assert job.state is JobState.CANCELLED
    assert session.events.tokens == 3  # no token after the one at which Stop was pressed


def test_a_second_job_reuses_the_export(session, tiny_llama, shared_onnx_cache):
    first = _text(session, backend="onnx", model=str(tiny_llama), max_new_tokens=4)
    files = sorted(shared_onnx_cache.rglob("decoder/model.onnx*"))
    assert files
    stamps = [f.stat().st_mtime_ns for f in files]
    session.close()
    again = StudioSession(listener=Events())  # a new session: the cache on disk, not the loaded model
    try:
        job = again.runner.run_now(TextRequest(model=str(tiny_llama), prompt="The studio", max_new_tokens=4, seed=5,
                                               temperature=0.0, backend="onnx"))
        assert job.state is JobState.DONE, job.error
        assert job.result.data["export_seconds"] is None
        assert job.result.text == first.result.text
    finally:
        again.close()
    assert [f.stat().st_mtime_ns for f in sorted(shared_onnx_cache.rglob("decoder/model.onnx*"))] == stamps


@needs_demo_text
def test_cli_text_on_onnx(onnx_home, capsys):
    args = ["text", "--backend", "onnx", "--model", "demo-text", "--prompt", "The", "--temperature", "0",
            "--max-new-tokens", "12"]
    assert main(args) == 0
    onnx_out = capsys.readouterr().out
    assert main([*args[:1], *args[3:]]) == 0  # the same on torch
    assert capsys.readouterr().out == onnx_out


def test_a_family_without_onnx_is_refused_in_one_line(onnx_home, tmp_path, monkeypatch, capsys):
    from tests.plugin_helpers import gradient_model, install_example_plugin

    monkeypatch.setenv("STUDIO_PLUGINS_PATH", str(install_example_plugin(tmp_path / "plugins")))
    model = gradient_model(tmp_path / "gradient")
    code = main(["generate", "--backend", "onnx", "--model", str(model), "--prompt", "p",
                 "--out", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "'gradient' cannot run on the onnx backend" in err and "Traceback" not in err
