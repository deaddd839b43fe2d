"""The plugin guide's example, installed from a temp folder as a user would, runs for real."""

from PIL import Image

from studio.core.events import Preview, Progress
from studio.core.imagemeta import read_metadata
from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.plugin_helpers import gradient_model, install_example_plugin


class Events:
    def __init__(self):
        self.progress, self.previews = [], []

    def job_changed(self, job):
        pass

    def job_event(self, job_id, event):
        if isinstance(event, Progress):
            self.progress.append((event.step, event.total))
        elif isinstance(event, Preview):
            self.previews.append((event.step, event.total, event.image.size))


def _session(tmp_path, events=None):
    plugins = install_example_plugin(tmp_path / "plugins")
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient"})
    registry.discover()
    return StudioSession(registry=registry, listener=events)


def test_example_plugin_from_the_guide_generates_its_gradient(tmp_path):
    events = Events()
    session = _session(tmp_path, events)
    try:
        model = gradient_model(tmp_path / "sunset", top=(250, 120, 40), bottom=(40, 20, 90))
        request = GenerationRequest(model=str(model), prompt="sunset", width=32, height=40, steps=5, guidance=0)
        job = session.runner.run_now(request)
        gallery = session.gallery.search()
    finally:
        session.close()
    assert job.state is JobState.DONE, job.error
    [artifact] = job.result.artifacts
    image = Image.open(artifact.path).convert("RGB")
    assert image.size == (32, 40)
    assert image.getpixel((5, 0)) == (250, 120, 40)
    assert image.getpixel((5, 39)) == (40, 20, 90)
    # one band per step, each step shown as progress with a preview of the picture so far
    assert [p for p in events.progress if p[1] == 5] == [(s, 5) for s in range(1, 6)]
    assert events.previews == [(s, 5, (32, 40)) for s in range(1, 6)]
    # the studio wrote the file: its parameters, the model's name and the seed the queue drew
    meta = read_metadata(artifact.path)
    assert meta["source"] == "studio" and meta["model_name"] == "sunset"
    assert meta["request"]["seed"] == job.request.seed == job.result.data["seed"] is not None
    assert job.result.data["top"] == [250, 120, 40]
    assert [item.path for item in gallery] == [artifact.path]


def test_a_broken_gradient_model_is_a_clear_error_not_a_crash(tmp_path):
    session = _session(tmp_path)
    try:
        model = tmp_path / "broken"
        model.mkdir()
        (model / "gradient.json").write_text('{"top": [1, 2, 3]}')
        job = session.runner.run_now(GenerationRequest(model=str(model), prompt="p", width=8, height=8, steps=1))
    finally:
        session.close()
    assert job.state is JobState.FAILED
    assert "gradient.json needs 'top' and 'bottom'" in job.error

