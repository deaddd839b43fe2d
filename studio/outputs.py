"""Where a job's outputs become files: families return, the studio writes.

A family returns images (:class:`~studio.core.results.ImageOutput`, each with its resolved request);
:func:`write_images` saves each as a PNG with its generation metadata in the gallery folder, indexes
it in the gallery and returns the job's result naming the files. The seed in the file, in the gallery
row and in the job's result is the one the queue drew when the job was submitted.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from studio import __version__
from studio.core.gallery import Gallery
from studio.core.imagemeta import save_png
from studio.core.paths import home_path
from studio.core.results import Artifact, ImageOutput, JobResult


def image_path(output: ImageOutput, folder: Path | None = None) -> Path:
    """A new file name in today's gallery folder: time, seed and a short random tag."""
    folder = folder or home_path("gallery", time.strftime("%Y-%m-%d"))
    seed = getattr(output.request, "seed", None)
    return folder / f"{time.strftime('%H%M%S')}-{seed}-{uuid.uuid4().hex[:6]}.png"


def write_images(result: JobResult, gallery: Gallery) -> JobResult:
    """Write every image of ``result`` with its metadata, index it, and name the files as artifacts."""
    if not result.images:
        return result
    artifacts = list(result.artifacts)
    for output in result.images:
        request, seed = output.request, output.request.seed
        metadata = {**output.metadata, "studio_version": __version__}
        path = save_png(output.image, image_path(output), request, seed, metadata)
        item = gallery.add(path, request, seed, metadata)
        artifacts.append(Artifact(str(path), "image", {"seed": seed, "gallery_id": item.id}))
    data = dict(result.data)
    data.setdefault("seed", result.images[0].request.seed)
    return JobResult(tuple(artifacts), result.text, data)
