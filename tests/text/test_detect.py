"""The causal-LM family recognises Hugging Face language-model folders by their config."""

import json
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

from tests.plugin_helpers import identify


def _lm_folder(folder, architectures=("LlamaForCausalLM",), weights="model.safetensors"):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": list(architectures), "model_type": "llama"}))
    if weights:
        save_file({"model.embed_tokens.weight": np.zeros((2, 2), dtype=np.float32)}, str(folder / weights))
    return folder


def test_the_detector_imports_nothing_heavy():
    code = ("import sys, studio_transformers.detect; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_causal_lm_folder_and_missing_tokenizer(tmp_path):
    folder = _lm_folder(tmp_path / "tiny-llama")
    entry = identify(folder)
    assert entry.kind == "causal-lm"
    assert (entry.details["architecture"], entry.details["model_type"]) == ("LlamaForCausalLM", "llama")
    assert entry.details["has_tokenizer"] is False
    (folder / "tokenizer.json").write_text("{}")
    assert identify(folder).details["has_tokenizer"] is True


def test_what_is_not_a_causal_lm_is_left_alone(tmp_path):
    assert identify(_lm_folder(tmp_path / "no-weights", weights="")) is None
    assert identify(_lm_folder(tmp_path / "encoder", architectures=("BertModel",))) is None
    gpt2 = identify(_lm_folder(tmp_path / "gpt2", architectures=("GPT2LMHeadModel",)))
    assert gpt2.kind == "causal-lm"


def test_the_tiny_llama_fixture_is_found_in_a_scan(tmp_path, tiny_llama_folder):
    import shutil

    from tests.plugin_helpers import library

    shutil.copytree(tiny_llama_folder, tmp_path / "lms" / "tiny")
    found = [(e.name, e.kind) for e in library(tmp_path / "lms", include_demo=False, scan_hf_cache=False).scan()]
    assert found == [("tiny", "causal-lm")]
