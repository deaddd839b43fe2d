"""The dual encoder itself (torch): a word-level text encoder, a small CNN image encoder, the files
they are kept in (``model.safetensors`` + ``studio-clip.json``) and the contrastive loss.

Text: lower-cased words of the training captions' vocabulary (others → ``<unk>``) → embeddings
with learned positions → a bidirectional GRU → its two final states → a linear projection. Pictures:
64×64 RGB in [0, 1] → four stride-2 convolutions (64 → 4 px; the flattened 4×4 map keeps *where*
things are) → a two-layer head. Both embeddings are L2-normalised; a score is their cosine.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CONFIG_NAME = "studio-clip.json"
WEIGHTS_NAME = "model.safetensors"
FAMILY = "studio-clip"
SIDE = 64
PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    """The words of ``text`` as the tokenizer reads them (lower case, letters only)."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class ClipConfig:
    """The shape of a dual encoder: its vocabulary, widths and embedding size."""

    vocabulary: tuple[str, ...] = ()
    embed_dim: int = 64
    word_dim: int = 64
    text_hidden: int = 96
    channels: tuple[int, int, int, int] = (32, 64, 96, 128)
    max_words: int = 24
    side: int = SIDE

    def to_json(self) -> dict:
        return {"family": FAMILY, **asdict(self), "vocabulary": list(self.vocabulary),
                "channels": list(self.channels)}

    @classmethod
    def from_json(cls, data: dict) -> ClipConfig:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["vocabulary"] = tuple(values.get("vocabulary", ()))
        if "channels" in values:
            values["channels"] = tuple(values["channels"])
        return cls(**values)


class WordTokenizer:
    """Words → ids over a fixed vocabulary (0 pad, 1 unknown); at most ``max_words`` per text."""

    def __init__(self, vocabulary: tuple[str, ...], max_words: int) -> None:
        self.ids = {word: index + 2 for index, word in enumerate(vocabulary)}
        self.max_words = max_words
        self.size = len(vocabulary) + 2

    def __call__(self, texts: list[str] | tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, lengths)``: ids (N, L) padded with 0, lengths (N,) at least 1 (an empty text is ``<unk>``)."""
        rows = [[self.ids.get(w, 1) for w in words(text)][: self.max_words] or [1] for text in texts]
        width = max(len(row) for row in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        for index, row in enumerate(rows):
            ids[index, : len(row)] = torch.tensor(row)
        return ids, torch.tensor([len(row) for row in rows])


class TextEncoder(nn.Module):
    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.words = nn.Embedding(len(config.vocabulary) + 2, config.word_dim, padding_idx=0)
        self.positions = nn.Embedding(config.max_words, config.word_dim)
        self.gru = nn.GRU(config.word_dim, config.text_hidden, batch_first=True, bidirectional=True)
        self.project = nn.Linear(2 * config.text_hidden, config.embed_dim)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        places = torch.arange(ids.shape[1], device=ids.device)[None]
        vectors = self.words(ids) + self.positions(places)
        packed = nn.utils.rnn.pack_padded_sequence(vectors, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hidden = self.gru(packed)  # (2, N, H): the forward and backward final states
        return self.project(torch.cat([hidden[0], hidden[1]], dim=1))


class ImageEncoder(nn.Module):
    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for channels in config.channels:
            layers += [nn.Conv2d(width, channels, 3, stride=2, padding=1), nn.GroupNorm(8, channels), nn.GELU()]
            width = channels
        self.features = nn.Sequential(*layers)
        side = config.side // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * side * side, 256), nn.GELU(),
                                  nn.Linear(256, config.embed_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixels * 2 - 1))

    def features_of(self, pixels: torch.Tensor) -> torch.Tensor:
        """The head's hidden layer (256 values): image features, e.g. for a Fréchet distance."""
        return self.head[:3](self.features(pixels * 2 - 1))


class DualEncoder(nn.Module):
    """Text and image encoders into one space, with a learnable temperature (CLIP's logit scale)."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = WordTokenizer(config.vocabulary, config.max_words)
        self.text = TextEncoder(config)
        self.image = ImageEncoder(config)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as CLIP starts

    def embed_texts(self, texts: list[str] | tuple[str, ...]) -> torch.Tensor:
        ids, lengths = self.tokenizer(texts)
        return F.normalize(self.text(ids.to(self.logit_scale.device), lengths), dim=-1)

    def embed_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(pixels), dim=-1)


def contrastive_loss(model: DualEncoder, pixels: torch.Tensor, texts: list[str],
                     fits: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """Symmetric InfoNCE over the batch. ``fits[i, j]`` says text ``i`` describes picture ``j``
    (default: the two captions are equal); every fitting pair counts as right (soft targets), so a
    repeated or partial caption is not pushed away from the pictures it describes. Also returns
    the image→text top-1 accuracy of the batch."""
    images = model.embed_images(pixels)
    embedded = model.embed_texts(texts)
    scale = model.logit_scale.clamp(max=4.6052).exp()  # at most 100, as CLIP
    logits = scale * images @ embedded.T  # (pictures, texts)
    if fits is None:
        fits = torch.tensor([[a == b for b in texts] for a in texts], dtype=torch.float32)
    fits = fits.to(logits.device, torch.float32)
    by_image, by_text = fits.T, fits  # by_image[j]: the texts picture j fits; by_text[i]: the pictures text i fits
    loss = (F.cross_entropy(logits, by_image / by_image.sum(dim=1, keepdim=True))
            + F.cross_entropy(logits.T, by_text / by_text.sum(dim=1, keepdim=True))) / 2
    hits = by_image.gather(1, logits.argmax(dim=1, keepdim=True)).mean()
    return loss, float(hits)


def save_model(model: DualEncoder, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``studio-clip.json`` into ``folder``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    config = {**model.config.to_json(), **(extra or {})}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def load_model(folder: str | Path) -> DualEncoder:
    """The dual encoder saved in ``folder`` (on the CPU, in eval mode)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = ClipConfig.from_json(json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")))
    model = DualEncoder(config)
    model.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
    return model.eval()
