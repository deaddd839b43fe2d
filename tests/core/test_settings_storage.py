import pytest

from studio.core.errors import BadInput
from studio.core.settings import Settings
from studio.core.storage import atomic_write_text


def test_settings_round_trip_under_studio_home(studio_home):
    settings = Settings(model_folders=["/models/sd", "/models/ünïcode"], device="cpu", backend="onnx")
    settings.save()
    assert (studio_home / "settings.toml").is_file()
    assert Settings.load() == settings


def test_corrupt_settings_file_gives_defaults(studio_home):
    (studio_home / "settings.toml").write_text("device = [unclosed")
    assert Settings.load() == Settings()


def test_bad_settings_are_refused_on_save():
    with pytest.raises(BadInput):
        Settings(device="tpu").save()


def test_atomic_write_never_overwrites_when_told_not_to(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "image.png"
    target.write_text("the user's work")
    with pytest.raises(FileExistsError):
        atomic_write_text(target, "new", overwrite=False)
    assert target.read_text() == "the user's work"
    assert sorted(p.name for p in folder.iterdir()) == ["image.png"]  # no temp file left behind
