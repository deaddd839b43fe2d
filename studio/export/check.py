"""What the "Check provenance" panel shows for any image file: the invisible mark and the metadata.

``check_image(path)`` is pure (no Qt): the UI calls it on a worker and binds the returned dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.export.batch import load_source
from studio.export.provenance import read_provenance
from studio.export.watermark import Detection, detect


@dataclass(frozen=True)
class ProvenanceCheck:
    """The watermark verdict plus the provenance metadata present in the file."""

    path: str
    watermark: Detection
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "watermark": self.watermark.to_dict(), "metadata": self.metadata}


def check_image(path: str | Path) -> ProvenanceCheck:
    """Detect the invisible mark and read the provenance metadata; a damaged file is a BadInput."""
    image = load_source(path)
    return ProvenanceCheck(str(path), detect(image), read_provenance(path))
