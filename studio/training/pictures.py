"""Pictures as training tensors and back (the image families' data: a folder of pictures at one size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.training.errors import DatasetError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


def picture_tensor(image: Any, side: int) -> torch.Tensor:
    """A PIL picture → (3, side, side) uint8 (resized, bicubic, when it is another size)."""
    from PIL import Image

    image = image.convert("RGB")
    if image.size != (side, side):
        image = image.resize((side, side), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)


def picture_image(pixels: torch.Tensor) -> Any:
    """(3, H, W) in [0, 1] → a PIL picture."""
    from PIL import Image

    array = (pixels.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def folder_pictures(root: Path, side: int) -> torch.Tensor:
    """Every picture in ``root`` as one uint8 tensor (N, 3, side, side); an unreadable file is refused
    by name (a :class:`DatasetError` before any training)."""
    from PIL import Image

    if not root.is_dir():
        raise DatasetError(f"The data folder {root} does not exist.", "Choose a folder of pictures.")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise DatasetError(f"The data folder {root} holds no pictures.", "Add .png, .jpg or .webp files.")
    tensors = []
    for path in files:
        try:
            with Image.open(path) as image:
                tensors.append(picture_tensor(image, side))
        except Exception as exc:
            raise DatasetError(f"{path.name} in {root} is not a readable picture ({exc}).",
                               "Remove or replace that file, then start training again.") from exc
    return torch.stack(tensors)
