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


def test_files_follow_the_umask_and_temp_names_are_recognisable(tmp_path):
    import os
    import stat

    from studio.core.storage import temp_name

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644  # mkstemp made it 0600 before
    (tmp_path / "a.txt").chmod(0o640)
    atomic_write_text(tmp_path / "a.txt", "y")  # replacing a file keeps its mode
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    name = temp_name(tmp_path / "a.txt").name
    assert name.startswith(f".studio-{os.getpid()}-") and name.endswith("-a.txt.tmp")


def test_a_failing_write_leaves_no_temp_file(tmp_path):
    from studio.core.storage import write_atomically

    def fill(handle):
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(OSError):
        write_atomically(folder / "big.png", fill)
    assert list(folder.iterdir()) == []


def test_debris_of_dead_processes_is_swept_and_live_writers_are_left_alone(tmp_path, studio_home):
    import os
    import subprocess
    import sys

    from studio.core.storage import atomic_write_bytes, remembered_folders, sweep_debris

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    export = tmp_path / "exports"
    export.mkdir()
    atomic_write_bytes(export / "done.png", b"png")  # remembers the folder outside STUDIO_HOME
    assert export.resolve() in remembered_folders()
    day = studio_home / "gallery" / "2026-01-01"
    day.mkdir(parents=True)
    debris = [export / f".studio-{dead.pid}-abcd1234-fox.png.tmp", day / f".studio-{dead.pid}-00ff00ff-1.png.tmp",
              studio_home / f".studio-{dead.pid}-12345678-settings.toml.tmp"]
    live = export / f".studio-{os.getpid()}-deadbeef-other.png.tmp"
    foreign = export / ".fox.png.tmp"  # not ours: never touched
    for path in [*debris, live, foreign]:
        path.write_bytes(b"partial")
    earlier = export / f".studio-{os.getpid()}-0badf00d-old.png.tmp"  # an earlier process had our pid
    earlier.write_bytes(b"partial")
    os.utime(earlier, (1_000_000, 1_000_000))
    debris.append(earlier)
    removed = sweep_debris()
    assert sorted(removed) == sorted(debris)
    assert live.exists() and foreign.exists() and (export / "done.png").exists()


def test_no_overwrite_writes_work_where_the_file_system_has_no_hard_links(tmp_path, monkeypatch):
    import errno
    import os

    def no_links(*args, **kwargs):  # FAT/exFAT drives and some network shares refuse hard links
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    folder = tmp_path / "usb"
    folder.mkdir()
    atomic_write_text(folder / "fox.png", "new", overwrite=False)
    assert (folder / "fox.png").read_text() == "new"
    with pytest.raises(FileExistsError):
        atomic_write_text(folder / "fox.png", "again", overwrite=False)
    assert (folder / "fox.png").read_text() == "new" and [p.name for p in folder.iterdir()] == ["fox.png"]


def test_folders_inside_the_home_below_its_top_level_are_remembered(studio_home):
    from studio.core.storage import atomic_write_bytes, remembered_folders

    deep = studio_home / "cache" / "onnx" / "abc"
    deep.mkdir(parents=True)
    atomic_write_bytes(deep / "model.onnx", b"x")
    atomic_write_bytes(studio_home / "cache" / "top.json", b"x")
    assert remembered_folders() == [deep.resolve()]
