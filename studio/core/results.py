"""What a job produces: artifacts on disk plus a small, JSON-serialisable summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Artifact:
    """One file a job wrote (an image, a text, a checkpoint) and what it is."""

    path: str
    kind: str = "image"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageOutput:
    """An image a family made, not yet written: the studio writes it with its metadata.

    ``request`` is the resolved request that makes exactly this image (its own seed, every default
    filled in); ``metadata`` is what only the family knows (model name and hash, backend, the
    scheduler's config …) and goes into the file beside the request."""

    image: Any
    request: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    """The outcome of a successful job.

    A family returns ``images`` (:class:`ImageOutput`); the session writes them and returns a result
    whose ``artifacts`` name the files. Only artifacts, text and data are stored with the job."""

    artifacts: tuple[Artifact, ...] = ()
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    images: tuple[ImageOutput, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"artifacts": [asdict(a) for a in self.artifacts], "text": self.text, "data": self.data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        artifacts = tuple(Artifact(**a) for a in data.get("artifacts", ()))
        return cls(artifacts=artifacts, text=data.get("text", ""), data=data.get("data", {}))
