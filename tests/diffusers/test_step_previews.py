"""Step previews: made at once on a CPU; on a GPU handed over once their copy has finished, never
waited for. No GPU exists here, so the CUDA event is replaced by a stand-in whose copy finishes
when the test says (the one fake in these tests: it stands for the GPU's progress)."""

import numpy as np
import torch
from studio_diffusers.previews import LatentPreview, StepPreviews


class GpuProgress:
    """Stand-in for CUDA events: the copy recorded ``n``-th has finished once ``finished > n``."""

    def __init__(self) -> None:
        self.finished = 0
        self.recorded = 0

    def event(self):
        progress = self

        class Event:
            def record(self) -> None:
                self.index = progress.recorded
                progress.recorded += 1

            def query(self) -> bool:
                return self.index < progress.finished

        return Event()


def _map() -> LatentPreview:
    return LatentPreview(np.eye(4, 3), np.zeros(3))  # latent channels 0-2 are red, green, blue


def _step_latents(step: int) -> torch.Tensor:
    return torch.full((4, 2, 2), (step + 1) / 10)


def test_on_a_cpu_every_step_gets_its_own_preview_at_once():
    previews = StepPreviews(_map(), torch.device("cpu"), (8, 8))
    for step in range(3):
        image = previews(_step_latents(step))
        assert image.size == (8, 8)
        assert np.asarray(image)[0, 0].tolist() == [int((step + 1) / 10 * 255)] * 3  # truncated to uint8


def test_on_a_gpu_previews_never_wait_and_the_newest_finished_one_is_handed_over():
    gpu = GpuProgress()
    previews = StepPreviews(_map(), torch.device("cpu"), (8, 8), event=gpu.event)
    assert previews(_step_latents(0)) is None  # its copy is still running: the step goes on
    assert previews(_step_latents(1)) is None
    gpu.finished = 2  # the GPU is through steps 0 and 1
    image = previews(_step_latents(2))
    assert np.array_equal(np.asarray(image), np.asarray(_map()(_step_latents(1), (8, 8))))  # the newest done
    assert previews(_step_latents(3)) is None  # steps 2 and 3 not finished yet
    gpu.finished = 4
    image = previews(_step_latents(4))
    assert np.array_equal(np.asarray(image), np.asarray(_map()(_step_latents(3), (8, 8))))
    assert gpu.recorded == 5  # one copy per step, none waited for
