"""The character-level LSTM itself: the network, its vocabulary, saving/loading (safetensors +
JSON, never pickle), sampling and perplexity. Imports torch: used on a worker only."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from studio.plugins import replaced_folder
from studio_lstm.detect import CONFIG_FILE, FORMAT, WEIGHTS_FILE

UNKNOWN = "\ufffd"  # index 0: any character the training text did not have


class Vocabulary:
    """Characters <-> indices; index 0 stands for every unknown character."""

    def __init__(self, chars: list[str]) -> None:
        self.chars = [UNKNOWN, *[c for c in chars if c != UNKNOWN]]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


class CharLSTM(torch.nn.Module):
    """Embedding -> stacked LSTM -> linear over the vocabulary."""

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 256, layers: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed)
        self.lstm = torch.nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                                  dropout=dropout if layers > 1 else 0.0)
        self.head = torch.nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.lstm(self.embedding(ids), state)
        return self.head(out), state


def save_model(model: CharLSTM, vocab: Vocabulary, out: Path, settings: dict[str, Any],
               summary: dict[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` + ``char-lstm.json`` (+ ``training_metrics.json``) atomically."""
    out = Path(out)
    with replaced_folder(out) as tmp:
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        config = {"format": FORMAT, "version": 1, **settings, "vocab": vocab.chars}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
        if summary is not None:
            (tmp / "training_metrics.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1),
                                                       encoding="utf-8")
    return out


def load_model(folder: Path) -> tuple[CharLSTM, Vocabulary]:
    """The network (eval mode, CPU) and vocabulary saved in ``folder``."""
    config = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    vocab = Vocabulary(config["vocab"][1:])
    model = CharLSTM(len(vocab), int(config["embed"]), int(config["hidden"]), int(config["layers"]))
    model.load_state_dict(load_file(str(Path(folder) / WEIGHTS_FILE)))
    return model.eval(), vocab


def next_distribution(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Probabilities of the next character (temperature, then top-k and nucleus filtering)."""
    logits = logits.float() / max(temperature, 1e-4)
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, dim=-1)
    if 0.0 < top_p < 1.0:
        ordered, order = torch.sort(probs, descending=True)
        drop = ordered.cumsum(0) - ordered > top_p  # keep the smallest head reaching top_p
        ordered = ordered.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(0, order, ordered)
    return probs / probs.sum()


@torch.inference_mode()
def sample_chars(model: CharLSTM, vocab: Vocabulary, prompt: str, length: int, seed: int,
                 temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0) -> Iterator[str]:
    """``length`` new characters after ``prompt``, one at a time; the same seed gives the same text."""
    generator = torch.Generator().manual_seed(int(seed))
    device = next(model.parameters()).device
    ids = vocab.encode(prompt) or [vocab.index.get(" ", 0)]
    logits, state = model(torch.tensor([ids], device=device))
    for _ in range(length):
        probs = next_distribution(logits[0, -1].cpu(), temperature, top_k, top_p)
        drawn = torch.argmax(probs) if temperature <= 0 else torch.multinomial(probs, 1, generator=generator)
        index = int(drawn)
        yield vocab.chars[index] if index else " "
        logits, state = model(torch.tensor([[index]], device=device), state)


@torch.inference_mode()
def perplexity(model: CharLSTM, ids: list[int], window: int = 512) -> float:
    """Per-character perplexity of ``model`` on ``ids`` (state carried across windows)."""
    model.eval()
    device = next(model.parameters()).device
    data = torch.tensor(ids, dtype=torch.long, device=device)
    state, nll, count = None, 0.0, 0
    for start in range(0, len(data) - 1, window):
        chunk = data[start:start + window + 1]
        if len(chunk) < 2:
            break
        logits, state = model(chunk[None, :-1], state)
        nll += torch.nn.functional.cross_entropy(logits[0].float(), chunk[1:], reduction="sum").item()
        count += len(chunk) - 1
    return math.exp(nll / max(1, count))


def unigram_perplexity(train_ids: list[int], eval_ids: list[int], vocab_size: int) -> float:
    """Per-character perplexity of add-one-smoothed character frequencies of the training text."""
    counts = torch.bincount(torch.tensor(train_ids), minlength=vocab_size).double() + 1.0
    log_p = torch.log(counts / counts.sum())
    return math.exp(-float(log_p[torch.tensor(eval_ids)].mean()))
