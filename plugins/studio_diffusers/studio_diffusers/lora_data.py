"""A designer's training images: a folder of pictures with captions, read before any training starts.

Captions come from a ``.txt`` file beside each image (the kohya convention) or from ``metadata.jsonl``
lines ``{"file_name": "x.png", "text": "…"}`` (diffusers' ImageFolder convention); an image without
a caption takes the instance prompt. Unreadable files are listed and skipped, not fatal; a folder with
nothing usable is a clear error. Images are resized (short side) and centre-cropped to a square.

Pure Pillow: no torch here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from studio.plugins import BadInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class CaptionedImages:
    """The usable (image path, caption) pairs of a folder, and what was skipped and why."""

    root: Path
    items: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: reason"
    uncaptioned: int = 0  # images that took the instance prompt

    def __len__(self) -> int:
        return len(self.items)


def scan_folder(root: str | Path, instance_prompt: str = "") -> CaptionedImages:
    """Read ``root``'s images and captions; raise :class:`BadInput` when nothing can be trained on."""
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInput(f"The data folder '{root}' does not exist.", "Choose a folder of images with captions.")
    if not root.is_dir():
        raise BadInput(f"'{root}' is a file, not a data folder.", "Choose the folder that holds the images.")
    found = CaptionedImages(root)
    captions = _metadata_captions(root)
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    for path in images:
        try:
            with Image.open(path) as image:
                image.load()
        except Exception as exc:  # Pillow raises many kinds for a broken file
            found.skipped.append(f"{path.name}: not a readable image ({type(exc).__name__})")
            continue
        caption = captions.get(path.name)
        sidecar = path.with_suffix(".txt")
        if caption is None and sidecar.is_file():
            caption = sidecar.read_text(encoding="utf-8", errors="replace").strip()
        if not caption:
            if not instance_prompt:
                found.skipped.append(f"{path.name}: no caption (add {sidecar.name}, or give an instance prompt)")
                continue
            caption = instance_prompt
            found.uncaptioned += 1
        found.items.append((path, caption))
    others = [p.name for p in files if p.suffix.lower() not in (*IMAGE_SUFFIXES, ".txt", ".jsonl", ".json")]
    found.skipped.extend(f"{name}: not an image" for name in others)
    if not found.items:
        if not images:
            orphans = [p.name for p in files if p.suffix.lower() == ".txt"]
            what = f"captions without images ({', '.join(orphans[:3])}…)" if orphans else "no images"
            raise BadInput(f"The data folder '{root}' holds {what}.",
                           "Put .png, .jpg or .webp images in it, each with a caption .txt of the same name.")
        raise BadInput(f"None of the {len(images)} images in '{root}' can be used: {found.skipped[0]}.",
                       "Fix those files, or give an instance prompt for images without captions.")
    return found


def _metadata_captions(root: Path) -> dict[str, str]:
    path = root / "metadata.jsonl"
    if not path.is_file():
        return {}
    captions: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            captions[str(record["file_name"])] = str(record["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInput(f"Line {number} of {path} is not a {{\"file_name\": …, \"text\": …}} record ({exc}).",
                           "Fix or remove that line.") from None
    return captions


def square(path: Path, size: int) -> Image.Image:
    """The image as RGB, short side scaled to ``size`` and centre-cropped to ``size`` × ``size``."""
    with Image.open(path) as image:
        image = image.convert("RGB")
    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))
