"""The Stable Diffusion plugin on a tiny real pipeline loaded the way a user's folder is."""

import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.requests import GenerationRequest, LoraRef
from studio.jobs import JobState
from studio.session import StudioSession
from tests.plugin_helpers import identify


class Events:
    def __init__(self, cancel_at=None):
        self.previews = []
        self.steps = []
        self.cancel_at = cancel_at
        self.reached = threading.Event()

    def job_changed(self, job):
        pass

    def job_event(self, job_id, event):
        from studio.core.events import Preview, Progress

        if isinstance(event, Preview):
            self.previews.append(event.image)
        elif isinstance(event, Progress):
            self.steps.append((event.step, event.total))
            if self.cancel_at and event.step >= self.cancel_at:
                self.reached.set()


@pytest.fixture
def session():
    events = Events()
    session = StudioSession(listener=events)
    session.events = events
    yield session
    session.close()


def _pixels(job, index=0):
    return np.asarray(Image.open(job.result.artifacts[index].path).convert("RGB")).astype(int)


def request(model, **kw):
    values = {"prompt": "a red circle", "width": 32, "height": 32, "steps": 3, "seed": 5, **kw}
    return GenerationRequest(model=str(model), **values)


def test_txt2img_reports_every_step_with_a_preview_and_lands_in_the_gallery(session, tiny_sd_folder):
    job = session.runner.run_now(request(tiny_sd_folder, steps=4, batch=2))
    assert job.state is JobState.DONE, job.error
    assert [s for s in session.events.steps if s[0] > 0 and s[1] == 4] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(session.events.previews) == 4 and session.events.previews[0].size == (32, 32)
    assert len(job.result.artifacts) == 2
    seeds = sorted(item.seed for item in session.gallery.search())
    assert seeds == [5, 6]
    assert not np.array_equal(_pixels(job, 0), _pixels(job, 1))


def test_batch_image_equals_the_single_image_of_its_seed(session, tiny_sd_folder):
    batch = session.runner.run_now(request(tiny_sd_folder, batch=2, seed=10))
    single = session.runner.run_now(request(tiny_sd_folder, batch=1, seed=11))
    assert np.abs(_pixels(batch, 1) - _pixels(single)).max() <= 1


def test_inpaint_keeps_every_pixel_outside_the_mask(session, tiny_sd_folder, tmp_path):
    original = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(original).save(tmp_path / "init.png")
    mask = Image.new("L", (64, 64), 0)  # another size than the image: resized to fit
    ImageDraw.Draw(mask).rectangle([16, 16, 47, 47], fill=255)
    mask.save(tmp_path / "mask.png")
    job = session.runner.run_now(
        request(tiny_sd_folder, init_image=str(tmp_path / "init.png"), mask=str(tmp_path / "mask.png"))
    )
    assert job.state is JobState.DONE, job.error
    result = _pixels(job)
    outside = np.ones((32, 32), bool)
    outside[8:24, 8:24] = False
    assert np.array_equal(result[outside], original[outside].astype(int))
    assert not np.array_equal(result[~outside], original[~outside].astype(int))


def test_img2img_starts_from_the_init_image(session, tiny_sd_folder, tmp_path):
    Image.new("RGB", (32, 32), (250, 250, 250)).save(tmp_path / "white.png")
    Image.new("RGB", (32, 32), (5, 5, 5)).save(tmp_path / "black.png")
    light = session.runner.run_now(request(tiny_sd_folder, init_image=str(tmp_path / "white.png"), strength=0.3))
    dark = session.runner.run_now(request(tiny_sd_folder, init_image=str(tmp_path / "black.png"), strength=0.3))
    # The tiny VAE is random, so colours do not survive it; the init image must still steer the result.
    assert np.abs(_pixels(light) - _pixels(dark)).mean() > 5
    assert light.result.data["seed"] == dark.result.data["seed"] == 5


def test_cancel_stops_within_one_denoising_step(tiny_sd_folder):
    events = Events(cancel_at=3)
    session = StudioSession(listener=events)
    try:
        job = session.runner.submit(request(tiny_sd_folder, steps=200))
        session.runner.start()
        assert events.reached.wait(120)
        session.runner.cancel(job.id)
        for _ in range(600):
            if session.queue.get(job.id).state.finished:
                break
            threading.Event().wait(0.05)
        assert session.queue.get(job.id).state is JobState.CANCELLED
        assert max(s for s, t in events.steps if t == 200) <= 3 + 2
        assert session.gallery.search() == []
    finally:
        session.close()


def test_lora_changes_the_image_and_its_weight_scales_it(session, tiny_sd_folder, tiny_lora_file):
    assert identify(tiny_lora_file).kind == "lora"
    plain = _pixels(session.runner.run_now(request(tiny_sd_folder)))
    zero = _pixels(session.runner.run_now(request(tiny_sd_folder, loras=(LoraRef(str(tiny_lora_file), 0.0),))))
    full = _pixels(session.runner.run_now(request(tiny_sd_folder, loras=(LoraRef(str(tiny_lora_file), 1.0),))))
    again = _pixels(session.runner.run_now(request(tiny_sd_folder)))
    assert np.abs(zero - plain).max() <= 1
    assert np.abs(full - plain).mean() > 2
    assert np.array_equal(again, plain)  # removing the LoRA restores the model


def test_a_lora_that_does_not_fit_is_a_clear_error(session, tiny_sd_folder, tmp_path):
    from safetensors.numpy import save_file

    bad = tmp_path / "other.safetensors"
    save_file({"lora_unet_nothing.lora_down.weight": np.zeros((2, 2), np.float32)}, str(bad))
    job = session.runner.run_now(request(tiny_sd_folder, loras=(LoraRef(str(bad)),)))
    assert job.state is JobState.FAILED
    assert "other.safetensors" in job.error
    assert session.runner.run_now(request(tiny_sd_folder)).state is JobState.DONE


def test_the_preview_map_is_fitted_on_the_first_preview_and_remembered(tiny_sd_folder, studio_home, monkeypatch):
    from studio_diffusers import previews

    fits = []
    real_fit = previews.LatentPreview.fit
    monkeypatch.setattr(previews.LatentPreview, "fit",
                        classmethod(lambda cls, *a: fits.append(1) or real_fit.__func__(cls, *a)))
    for _ in range(2):  # two sessions: the second reads the map the first one fitted
        events = Events()
        session = StudioSession(listener=events)
        try:
            model = session.load_model(request(tiny_sd_folder))
            assert model.preview._map is None  # loading did not fit it
            assert session.runner.run_now(request(tiny_sd_folder)).state is JobState.DONE
            assert len(events.previews) == 3
        finally:
            session.close()
    assert fits == [1]
    assert (studio_home / "cache" / "preview-maps.json").is_file()


def test_the_model_hash_is_computed_in_the_background_and_remembered(tmp_path, studio_home):
    import hashlib

    from studio.core.hashing import BackgroundHash, model_hash

    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights" * 100_000)
    expected = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10]
    assert BackgroundHash(checkpoint).value == expected
    remembered = BackgroundHash(checkpoint)
    assert remembered._thread is None and remembered.value == expected == model_hash(checkpoint)
    assert BackgroundHash(tmp_path).value == ""  # a folder has no A1111 hash
