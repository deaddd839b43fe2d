"""The scorer family's loader and loaded models: score every picture against every prompt (``score``).

Runs on the worker (torch imported here). Two kinds of folder (see :mod:`studio_clip.detect`): the
family's own dual encoder, and a local transformers CLIP folder (``CLIPModel`` + ``CLIPProcessor``,
read with ``local_files_only``: never fetched). Either way a score is the cosine similarity of the
picture's and the prompt's L2-normalised embeddings, in [-1, 1], unscaled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, JobResult, LoadContext, ModelError, Report, Request
from studio.plugins.devices import resolve_device

#: Pictures embedded at once.
CHUNK = 64


def load(context: LoadContext) -> ClipScorer:
    """The scorer in ``context.model.path``; a :class:`ModelError` when its files cannot be read."""
    folder = Path(context.model.path)
    device = torch.device(resolve_device(context.device))
    fmt = context.model.details.get("format", "studio")
    try:
        if fmt == "transformers":
            embed_images, embed_texts, module = _transformers_clip(folder, device)
        else:
            embed_images, embed_texts, module = _dual_encoder(folder, device)
    except Exception as exc:  # a missing, truncated or foreign file: the model's problem, said as such
        raise ModelError(f"The scorer in {folder} cannot be read ({exc}).",
                         "Train it again with 'studio train clip --out FOLDER', or check the CLIP folder.") from exc
    return ClipScorer(context.model.name, module, embed_images, embed_texts)


def _dual_encoder(folder: Path, device: torch.device) -> tuple[Callable, Callable, torch.nn.Module]:
    from studio_clip.network import load_model
    from studio_clip.recipe import to_tensor

    model = load_model(folder).to(device)

    def embed_images(images: list[Any]) -> torch.Tensor:
        return model.embed_images(torch.stack([to_tensor(image) for image in images]).to(device))

    return embed_images, model.embed_texts, model


def _transformers_clip(folder: Path, device: torch.device) -> tuple[Callable, Callable, torch.nn.Module]:
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(str(folder), local_files_only=True).to(device).eval()
    processor = CLIPProcessor.from_pretrained(str(folder), local_files_only=True)

    def embed_images(images: list[Any]) -> torch.Tensor:
        pixels = processor(images=[image.convert("RGB") for image in images], return_tensors="pt")["pixel_values"]
        vision = model.vision_model(pixel_values=pixels.to(device))
        return torch.nn.functional.normalize(model.visual_projection(vision.pooler_output), dim=-1)

    def embed_texts(texts: list[str]) -> torch.Tensor:
        tokens = processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        text = model.text_model(input_ids=tokens["input_ids"].to(device),
                                attention_mask=tokens["attention_mask"].to(device))
        return torch.nn.functional.normalize(model.text_projection(text.pooler_output), dim=-1)

    return embed_images, embed_texts, model


class ClipScorer:
    """A loaded scorer: ``run`` answers a score request with every picture × prompt cosine."""

    def __init__(self, name: str, module: torch.nn.Module, embed_images: Callable[[list[Any]], torch.Tensor],
                 embed_texts: Callable[[list[str]], torch.Tensor]) -> None:
        self.name, self.module = name, module
        self.embed_images, self.embed_texts = embed_images, embed_texts
        self.memory_bytes = sum(p.numel() * p.element_size() for p in module.parameters())

    def run(self, request: Request, report: Report, cancelled: Any) -> JobResult:
        if request.kind != "score":
            raise BadInput(f"'{self.name}' is a scorer: it cannot run a {request.kind} job.",
                           "Use it with 'studio score' or the gallery's match column.")
        return JobResult(data=self.score(list(request.images), list(request.prompts), report, cancelled))

    @torch.no_grad()
    def score(self, images: list[str], prompts: list[str], report: Report | None = None,
              cancelled: Any = None) -> dict[str, Any]:
        """``{"images": [{"image": PATH, "scores": [{"prompt": P, "score": cosine}, ...]}, ...], "model": NAME}``."""
        from studio.plugins import JobCancelled

        texts = self.embed_texts(prompts)
        rows = []
        for start in range(0, len(images), CHUNK):
            if cancelled is not None and cancelled():
                raise JobCancelled(f"Scoring stopped after {start} of {len(images)} pictures.")
            paths = images[start:start + CHUNK]
            cosines = self.embed_images([_open(path) for path in paths]) @ texts.T
            for path, row in zip(paths, cosines.clamp(-1, 1).tolist(), strict=True):
                rows.append({"image": path, "scores": [{"prompt": p, "score": round(s, 6)}
                                                       for p, s in zip(prompts, row, strict=True)]})
            if report is not None:
                report(len(rows), len(images), message=f"Scored {len(rows)} of {len(images)} pictures")
        return {"images": rows, "model": self.name}

    def unload(self) -> None:
        self.module = None


def _open(path: str) -> Any:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInput(f"'{path}' is not a readable picture ({exc}).", "Pass PNG, JPEG or WebP files.") from exc
