"""Models loaded on two threads at once come out whole.

diffusers and transformers build a model's modules with torch patched for the whole process (accelerate's
``init_empty_weights`` swaps ``nn.Module.register_parameter``), so a model another thread builds at the
same moment gets some weights wrong. In the window this happened when the warm-up loaded the demo while
a resumed LoRA training loaded it too: both were refused as "incomplete … copy it again". Every load
holds ``studio.plugins.loading_weights``; these tests load real models on real threads.
"""

from __future__ import annotations

import threading

import torch

from studio.core.requests import GenerationRequest
from studio.session import StudioSession


def _together(*jobs) -> list[str]:
    """Run each callable on its own thread, all at once; the errors they raised."""
    errors: list[str] = []
    start = threading.Barrier(len(jobs))

    def run(job) -> None:
        start.wait()
        try:
            job()
        except Exception as exc:
            errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_two_threads_loading_the_demo_pipeline_both_get_every_weight() -> None:
    from studio_diffusers.loader import load_pipeline

    session = StudioSession()
    try:
        entry = session.library.resolve("demo")
        pipes: list = []

        def load_three_times() -> None:
            for _ in range(3):
                pipes.append(load_pipeline(entry, torch.float32, {}))

        assert _together(load_three_times, load_three_times) == []
        assert len(pipes) == 6
        first = pipes[0].text_encoder.state_dict()
        for pipe in pipes[1:]:  # every load holds the same weights as the first
            assert all(torch.equal(first[k], v) for k, v in pipe.text_encoder.state_dict().items())
    finally:
        session.close()


def test_a_picture_model_loaded_by_the_session_while_a_pipeline_loads_is_whole() -> None:
    """The warm-up's load (the session's model cache) beside a training's own pipeline load."""
    from studio_diffusers.loader import load_pipeline

    session = StudioSession()
    try:
        entry = session.library.resolve("demo")
        loaded: list = []

        def load_pipelines() -> None:
            for _ in range(3):
                load_pipeline(entry, torch.float32, {})

        def load_gan() -> None:
            loaded.append(session.load_model(GenerationRequest(model="demo-gan", prompt="", seed=1)))

        assert _together(load_pipelines, load_gan) == []
        parameters = list(loaded[0].network.parameters())
        assert parameters and all(p.device.type == "cpu" and torch.isfinite(p).all() for p in parameters)
    finally:
        session.close()
