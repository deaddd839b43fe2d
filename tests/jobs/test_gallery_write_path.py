"""The gallery write path never loses the user's image: a locked index or an unwritable gallery folder
gives a saved file, a clear notice, and an index entry at the next start."""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

import pytest

from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.plugin_helpers import gradient_model, install_example_plugin


@pytest.fixture
def registry(tmp_path: Path) -> PluginRegistry:
    plugins = install_example_plugin(tmp_path / "plugins")
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient"})
    registry.discover()
    return registry


def request_for(tmp_path: Path) -> GenerationRequest:
    return GenerationRequest(model=str(gradient_model(tmp_path / "grad")), prompt="a locked gallery", seed=7,
                             width=16, height=64, steps=2, guidance=0)


def pending(home: Path) -> list[Path]:
    return sorted((home / "gallery-pending").glob("*.json"))


def test_a_locked_index_keeps_the_image_and_indexes_it_at_the_next_start(
    registry: PluginRegistry, tmp_path: Path, studio_home: Path
) -> None:
    session = StudioSession(registry=registry)
    blocker = sqlite3.connect(studio_home / "gallery" / "index.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another program holds the index (a sync tool, a second studio)
    try:
        started = time.monotonic()
        job = session.runner.run_now(request_for(tmp_path))
        took = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        session.close()
    assert job.state is JobState.DONE, job.error
    assert took < 10, f"the job waited {took:.1f} s on the locked index"
    artifact = job.result.artifacts[0]
    assert Path(artifact.path).is_file() and artifact.metadata["gallery_id"] is None
    assert any("gallery index could not be updated" in n for n in job.result.data["notices"])
    assert len(pending(studio_home)) == 1

    again = StudioSession(registry=registry)  # the next start indexes what was left
    try:
        items = again.gallery.search()
        assert [Path(item.path) for item in items] == [Path(artifact.path).resolve()]
        assert items[0].seed == 7 and items[0].prompt == "a locked gallery"
    finally:
        again.close()
    assert pending(studio_home) == []


def test_an_index_locked_before_the_start_still_gives_the_image_at_once(
    registry: PluginRegistry, tmp_path: Path, studio_home: Path, capsys
) -> None:
    from studio.cli.main import main
    from studio.outputs import UnavailableGallery

    StudioSession(registry=registry).close()  # the index exists
    blocker = sqlite3.connect(studio_home / "gallery" / "index.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        session = StudioSession(registry=registry)  # waited 30 s, then failed, before
        try:
            assert isinstance(session.gallery, UnavailableGallery) and session.gallery.search() == []
            job = session.runner.run_now(request_for(tmp_path))
        finally:
            session.close()
        took = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert job.state is JobState.DONE and took < 10, (job.error, took)
    assert Path(job.result.artifacts[0].path).is_file() and len(pending(studio_home)) == 1
    assert main(["jobs", "list"]) == 0  # any start indexes what waits
    capsys.readouterr()
    assert pending(studio_home) == []
    again = StudioSession(registry=registry)
    try:
        assert [Path(i.path) for i in again.gallery.search()] == [Path(job.result.artifacts[0].path).resolve()]
    finally:
        again.close()


def test_an_unwritable_gallery_folder_saves_the_image_elsewhere_and_says_where(
    registry: PluginRegistry, tmp_path: Path, studio_home: Path
) -> None:
    day = studio_home / "gallery" / time.strftime("%Y-%m-%d")
    day.parent.mkdir(parents=True, exist_ok=True)
    day.write_bytes(b"")  # a file where today's folder belongs: the gallery folder cannot be written
    session = StudioSession(registry=registry)
    try:
        job = session.runner.run_now(request_for(tmp_path))
        items = session.gallery.search()
    finally:
        session.close()
    assert job.state is JobState.DONE, job.error
    saved = Path(job.result.artifacts[0].path)
    assert saved.is_file() and saved.parent == studio_home / "recovered"
    assert any(str(saved) in n and "cannot be written" in n for n in job.result.data["notices"])
    assert [Path(item.path) for item in items] == [saved.resolve()]  # indexed all the same


def test_gallery_images_follow_the_umask(registry: PluginRegistry, tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    session = StudioSession(registry=registry)
    try:
        job = session.runner.run_now(request_for(tmp_path))
    finally:
        session.close()
        os.umask(old)
    assert stat.S_IMODE(Path(job.result.artifacts[0].path).stat().st_mode) == 0o644


def test_a_running_studio_indexes_the_image_once_the_lock_is_gone(
    registry: PluginRegistry, tmp_path: Path, studio_home: Path
) -> None:
    session = StudioSession(registry=registry)  # the window stays open: the retry is in the background
    try:
        blocker = sqlite3.connect(studio_home / "gallery" / "index.sqlite", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            job = session.runner.run_now(request_for(tmp_path))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert job.result.artifacts[0].metadata["gallery_id"] is None
        deadline = time.monotonic() + 20
        while pending(studio_home) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pending(studio_home) == []
        assert [Path(i.path) for i in session.gallery.search()] == [Path(job.result.artifacts[0].path).resolve()]
    finally:
        session.close()
