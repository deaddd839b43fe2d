"""The seed is drawn once, when the job is queued: the job, the file, the gallery row and the job's
result all hold it, and the job's stored request makes the same pictures again."""

import numpy as np
from PIL import Image

from studio.core.imagemeta import read_metadata
from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.session import StudioSession


def test_a_random_seed_is_written_once_and_agrees_everywhere(tiny_sd_folder):
    session = StudioSession()
    try:
        request = GenerationRequest(model=str(tiny_sd_folder), prompt="a red circle", width=32, height=32,
                                    steps=2, batch=2, seed=None)
        job = session.runner.run_now(request)
        assert job.state is JobState.DONE, job.error
        seed = job.request.seed
        assert isinstance(seed, int)
        assert session.queue.get(job.id).request.seed == seed  # the stored job holds it too
        assert job.result.data["seed"] == seed
        for offset, artifact in enumerate(job.result.artifacts):
            written = read_metadata(artifact.path)["request"]
            item = session.gallery.get(artifact.metadata["gallery_id"])
            assert artifact.metadata["seed"] == written["seed"] == item.seed == seed + offset
            assert item.request.seed == seed + offset
        rerun = session.runner.run_now(job.request)  # the stored request makes the same pictures
        assert rerun.request.seed == seed
        first = [np.asarray(Image.open(a.path)) for a in job.result.artifacts]
        second = [np.asarray(Image.open(a.path)) for a in rerun.result.artifacts]
        assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    finally:
        session.close()


def test_two_random_jobs_draw_two_seeds(studio_home):
    from studio.jobs import JobQueue

    queue = JobQueue()
    seeds = {queue.submit(GenerationRequest(model="demo", prompt="p")).request.seed for _ in range(4)}
    assert len(seeds) == 4 and None not in seeds
    queue.close()
