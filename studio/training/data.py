"""Folder data sets for training: images with captions, checked up front.

A data folder holds images (.png, .jpg, .jpeg, .webp) and, for each, a caption: a ``.txt`` file of
the same name, or a line ``{"file_name": "x.png", "text": "…"}`` in ``metadata.jsonl``. Problems
(missing folder, no images, unreadable image, missing caption) raise :class:`DatasetError` with a
message that names the file and says what to do, before any training starts.

Pure Pillow: no torch import here.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from studio.training.errors import DatasetError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


class ImageCaptionFolder:
    """A map-style data set of ``{"image": PIL RGB image, "caption": str}`` from a folder."""

    def __init__(self, root: str | Path, size: int | None = None) -> None:
        self.root = root = Path(root)
        self.size = size
        if not root.exists():
            raise DatasetError(f"The data folder {root} does not exist.",
                               "Choose a folder that holds images and their captions.")
        if not root.is_dir():
            raise DatasetError(f"{root} is a file, not a data folder.",
                               "Choose the folder that holds the images.")
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise DatasetError(f"The data folder {root} holds no images.",
                               "Add .png, .jpg or .webp images, each with a caption .txt file of "
                               "the same name.")
        meta: dict[str, str] = {}
        meta_file = root / "metadata.jsonl"
        if meta_file.is_file():
            for n, line in enumerate(meta_file.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    meta[str(rec["file_name"])] = str(rec["text"])
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DatasetError(f"Line {n} of {meta_file} is not valid "
                                       f'{{"file_name": …, "text": …}} JSON ({exc}).',
                                       "Fix or remove that line.") from exc
        self.items: list[tuple[Path, str]] = []
        for path in files:
            try:
                with Image.open(path) as im:
                    im.verify()
                with Image.open(path) as im:  # verify() leaves the file unusable; decode fully
                    im.load()
            except Exception as exc:
                raise DatasetError(f"{path.name} in {root} is not a readable image ({exc}).",
                                   "Remove or replace that file, then start training again.") from exc
            caption = meta.get(path.name)
            txt = path.with_suffix(".txt")
            if caption is None and txt.is_file():
                caption = txt.read_text(encoding="utf-8").strip()
            if not caption:
                raise DatasetError(f"{path.name} in {root} has no caption.",
                                   f"Write one in {txt.name} or in metadata.jsonl.")
            self.items.append((path, caption))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        path, caption = self.items[index]
        with Image.open(path) as im:
            image = im.convert("RGB")
        if self.size and image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.BICUBIC)
        return {"image": image, "caption": caption}


def export_shapes_folder(root: str | Path, length: int = 600, seed: int = 0,
                         split: str = "train") -> Path:
    """Write ``length`` shapes images with caption files to ``root`` (for folder-based training)."""
    from studio.training.shapes import ShapesDataset

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ds = ShapesDataset(length, seed=seed, split=split)
    for i in range(length):
        item = ds[i]
        item["image"].save(root / f"{i:05d}.png")
        (root / f"{i:05d}.txt").write_text(item["caption"] + "\n", encoding="utf-8")
    return root
