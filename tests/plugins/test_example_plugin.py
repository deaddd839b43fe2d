"""The plugin guide's example, installed from a temp folder as a user would, runs for real."""

from PIL import Image

from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.plugin_helpers import gradient_model, install_example_plugin


def test_example_plugin_from_the_guide_generates_its_gradient(tmp_path):
    plugins = install_example_plugin(tmp_path / "plugins")
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient"})
    registry.discover()
    session = StudioSession(registry=registry)
    try:
        model = gradient_model(tmp_path / "sunset", top=(250, 120, 40), bottom=(40, 20, 90))
        request = GenerationRequest(model=str(model), prompt="sunset", width=32, height=40, steps=5, guidance=0)
        job = session.runner.run_now(request)
    finally:
        session.close()
    assert job.state is JobState.DONE, job.error
    image = Image.open(job.result.artifacts[0].path).convert("RGB")
    assert image.size == (32, 40)
    assert image.getpixel((5, 0)) == (250, 120, 40)
    assert image.getpixel((5, 39)) == (40, 20, 90)
