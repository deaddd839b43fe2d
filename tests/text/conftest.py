"""Fixtures of the text tests: a tiny Llama-architecture model built from a config (with a byte-level
BPE tokenizer trained here on the repo's docs), saved once per session and loaded through the
causal-LM plugin's loader exactly as a user's model folder is."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from studio.plugins import PluginRegistry
from studio.session import StudioSession

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "plugins" / "studio_transformers"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def human_paragraphs(min_chars: int = 120) -> list[str]:
    """Paragraphs people wrote: the repo's README, docs, shared design notes (code blocks skipped) and
    the module docstrings of the studio package."""
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    design = REPO.parent / "shared" / "DESIGN.md"
    if design.is_file():
        files.append(design)
    texts = []
    for path in files:
        blocks = path.read_text(encoding="utf-8").split("```")
        texts.append("\n\n".join(blocks[::2]))  # outside fenced code
    for path in sorted((REPO / "studio").rglob("*.py")):
        try:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        except SyntaxError:
            doc = None
        if doc:
            texts.append(doc)
    out = []
    for prose in texts:
        for para in prose.split("\n\n"):
            para = " ".join(line.strip() for line in para.splitlines()).strip()
            if len(para) >= min_chars and not para.startswith("|"):
                out.append(para)
    return out


def build_tiny_llama(folder: Path, window: int = 256, vocab_size: int = 512, chat_template: str | None = None) -> Path:
    """A seeded, randomly initialised LlamaForCausalLM (~60k parameters) with a real BPE tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(human_paragraphs(40), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                        pad_token="<|endoftext|>", model_max_length=window)
    if chat_template:
        tokenizer.chat_template = chat_template
    eos = tokenizer.eos_token_id
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=window,
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    # Never end early: tests count tokens, and a random model may well pick the end-of-text token.
    model.generation_config.eos_token_id = None
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("text-models") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_chat_llama_folder(tiny_llama_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model whose tokenizer has a chat template (as instruction-tuned models ship)."""
    folder = tmp_path_factory.mktemp("text-models") / "tiny-chat-llama"
    shutil.copytree(tiny_llama_folder, folder)
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    return folder


@pytest.fixture
def no_tokenizer_folder(tiny_llama_folder: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(tiny_llama_folder / name, folder / name)
    return folder


def plugin_registry() -> PluginRegistry:
    """Discovery limited to the first-party causal-LM plugin."""
    registry = PluginRegistry(use_entry_points=False, paths=[PLUGIN_DIR])
    registry.discover()
    return registry


class Events:
    """A job listener that keeps the typed events: progress (step, total), text chunks (with the
    step they came at) and notices."""

    def __init__(self) -> None:
        self.progress: list[tuple[int, int]] = []
        self.texts: list[tuple[int, str]] = []
        self.notices: list[str] = []
        self.on_progress = None

    def job_changed(self, job) -> None:
        pass

    def job_event(self, job_id, event) -> None:
        from studio.core.events import LogLine, Progress, TextChunk

        if isinstance(event, Progress):
            self.progress.append((event.step, event.total))
            if self.on_progress is not None:
                self.on_progress(job_id, event.step, event.total, event.message)
        elif isinstance(event, TextChunk):
            self.texts.append((event.tokens, event.text))
        elif isinstance(event, LogLine):
            self.notices.append(event.text)

    @property
    def chunks(self) -> list[str]:
        return [text for _step, text in self.texts]


@pytest.fixture
def text_session():
    events = Events()
    session = StudioSession(registry=plugin_registry(), listener=events)
    session.events = events
    yield session
    session.close()


def load_through_plugin(folder: Path):
    """Load ``folder`` with the plugin's own loader, as the studio does for a user's model."""
    from studio.core.library import ModelLibrary
    from studio.plugins.api import LoadContext

    registry = plugin_registry()
    loader = registry.load_callable(registry.get("transformers"))
    entry = ModelLibrary(scan_hf_cache=False, identifiers=registry.identifiers()).resolve(str(folder))
    return loader(LoadContext(model=entry, device="cpu"))


@pytest.fixture(scope="session")
def loaded_tiny_llama(tiny_llama_folder: Path):
    """The tiny model loaded once through the plugin's loader (for tests that call the model directly)."""
    return load_through_plugin(tiny_llama_folder)
