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
class JobResult:
    """The outcome of a successful job."""

    artifacts: tuple[Artifact, ...] = ()
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        artifacts = tuple(Artifact(**a) for a in data.get("artifacts", ()))
        return cls(artifacts=artifacts, text=data.get("text", ""), data=data.get("data", {}))
