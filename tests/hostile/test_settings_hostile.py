"""A hostile settings.toml: every bad value is reported and only its key falls back to the default;
every other key is kept on read, and a write keeps the keys the studio could not use."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from studio.core.errors import BadInput
from studio.core.settings import Settings

GOOD = """\
model_folders = ["/models/sd", "/models/ünïcode"]
allowed_pickles = ["/models/old.ckpt"]
trusted_plugins = ["gradient"]
default_model = "demo-text"
attention_slicing = true
memory_budget_gb = 12.5
"""
GOOD_VALUES = {
    "model_folders": ["/models/sd", "/models/ünïcode"],
    "allowed_pickles": ["/models/old.ckpt"],
    "trusted_plugins": ["gradient"],
    "default_model": "demo-text",
    "attention_slicing": True,
    "memory_budget_gb": 12.5,
}

# (key, TOML text of the bad value): at least 15 kinds of wrong value
BAD_VALUES = [
    ("device", '"tpu"'),
    ("device", "1"),
    ("device", '["cpu"]'),
    ("backend", '"tensorrt"'),
    ("backend", "false"),
    ("model_folders", '"/tmp"'),  # a string where a list belongs: never '/', 't', 'm', 'p'
    ("model_folders", "[1, 2]"),
    ("model_folders", '["/ok", 3]'),
    ("model_folders", '[""]'),
    ("model_folders", '["/a\\u0000b"]'),
    ("model_folders", "{ path = \"/tmp\" }"),
    ("disabled_plugins", '"gradient"'),
    ("scan_hf_cache", '"yes"'),
    ("scan_hf_cache", "1"),
    ("vae_tiling", '"false"'),
    ("cpu_offload", "[]"),
    ("memory_budget_gb", "-1"),
    ("memory_budget_gb", "nan"),
    ("memory_budget_gb", "inf"),
    ("memory_budget_gb", '"8"'),
    ("memory_budget_gb", "true"),
    ("memory_budget_gb", "1e300"),
    ("default_model", "5"),
    ("default_model", '""'),
    ("device", "1979-05-27T07:32:00Z"),
]


def write(home: Path, text: str) -> Path:
    path = home / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("key, bad", BAD_VALUES, ids=[f"{k}={v}" for k, v in BAD_VALUES])
def test_one_bad_key_keeps_every_other_key_on_read_and_after_a_write(studio_home: Path, key: str, bad: str) -> None:
    lines = [line for line in GOOD.splitlines() if not line.startswith(f"{key} ")]
    path = write(studio_home, "\n".join([*lines, f"{key} = {bad}", '[ui]\ntheme = "dark"', ""]))
    settings = Settings.load()
    default = getattr(Settings(), key)
    assert getattr(settings, key) == default, "the bad key falls back to its default"
    for other, value in GOOD_VALUES.items():
        if other != key:
            assert getattr(settings, other) == value, other
    assert len(settings.problems) == 1 and key in settings.problems[0] and "using" in settings.problems[0]
    assert "\n" not in settings.problems[0]
    settings.save()  # e.g. the window saving an unrelated change
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert tomllib.loads(f"v = {bad}")["v"] == data[key] or (
        isinstance(data[key], float) and math.isnan(data[key])
    ), "the user's value is kept, not replaced by the default"
    assert data["ui"] == {"theme": "dark"}, "an unknown table is kept"
    for other, value in GOOD_VALUES.items():
        if other != key:
            assert data[other] == value
    again = Settings.load()
    assert again == settings and len(again.problems) == 1


def test_a_string_is_never_read_as_a_list_of_folders(studio_home: Path) -> None:
    write(studio_home, 'model_folders = "/tmp"\n')
    settings = Settings.load()
    assert settings.model_folders == []
    assert "list" in settings.problems[0]


def test_a_key_the_studio_sets_replaces_the_kept_bad_value(studio_home: Path) -> None:
    path = write(studio_home, 'device = "tpu"\nmodel_folders = "/tmp"\n')
    settings = Settings.load()
    settings.device = "cpu"
    settings.model_folders.append("/new")  # changed in place, as the window's list editor may do
    settings.save()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["device"] == "cpu" and data["model_folders"] == ["/new"]
    assert Settings.load().problems == []


@pytest.mark.parametrize("content", [b"device = [unclosed", b"\xff\xfe not utf-8", b"= 1", b"a = 1\na = 2"])
def test_an_unreadable_file_gives_defaults_is_reported_and_kept_aside(studio_home: Path, content: bytes) -> None:
    path = studio_home / "settings.toml"
    path.write_bytes(content)
    settings = Settings.load()
    assert settings == Settings() and len(settings.problems) == 1
    settings.trusted_plugins = ["gradient"]
    settings.save()
    assert (studio_home / "settings.toml.unreadable").read_bytes() == content
    assert Settings.load().trusted_plugins == ["gradient"]


def test_a_folder_in_place_of_the_file_is_reported(studio_home: Path) -> None:
    (studio_home / "settings.toml").mkdir()
    settings = Settings.load()
    assert settings == Settings() and "cannot be read" in settings.problems[0]


@pytest.mark.parametrize("change", [{"device": "tpu"}, {"memory_budget_gb": math.nan}, {"model_folders": "/tmp"},
                                    {"scan_hf_cache": "yes"}, {"allowed_pickles": [None]}])
def test_bad_values_set_in_code_are_refused_on_save(studio_home: Path, change: dict) -> None:
    settings = Settings()
    for key, value in change.items():
        setattr(settings, key, value)
    with pytest.raises(BadInput):
        settings.save()
    assert not (studio_home / "settings.toml").exists()


def test_studio_info_without_an_image_lists_the_settings_problems(studio_home: Path, capsys) -> None:
    import json

    from studio.cli.main import main

    write(studio_home, 'device = "tpu"\nmodel_folders = ["/models"]\n[ui]\ntheme = "dark"\n')
    assert main(["info"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["problems"]) == 1 and "device" in report["problems"][0]
    assert report["unused_keys"] == ["device", "ui"] and report["images_waiting_for_the_gallery_index"] == 0


def test_the_start_notice_names_the_first_problem_and_how_many_more(studio_home: Path) -> None:
    from studio.outputs import UnavailableGallery, startup_notice

    write(studio_home, 'device = "tpu"\nmodel_folders = "/tmp"\n')
    settings = Settings.load()
    notice = startup_notice(settings.problems, UnavailableGallery(studio_home / "gallery", "database is locked"))
    assert notice.startswith('Settings: settings.toml: device must be one of auto, cpu, cuda, mps, not "tpu"')
    assert "1 more problem(s)" in notice and "gallery index cannot be used now (database is locked)" in notice
    assert "\n" not in notice
    assert startup_notice([], UnavailableGallery(studio_home, "x")).startswith("The gallery index")


def test_keys_added_to_the_file_while_the_studio_runs_survive_its_next_write(studio_home: Path) -> None:
    path = write(studio_home, GOOD)
    settings = Settings.load()  # the window reads the file at start
    with path.open("a", encoding="utf-8") as handle:  # the user edits it meanwhile
        handle.write('future_option = "on"\n[ui]\ntheme = "dark"\n')
    settings.device = "cpu"
    settings.save()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["future_option"] == "on" and data["ui"] == {"theme": "dark"} and data["device"] == "cpu"
    assert data["model_folders"] == GOOD_VALUES["model_folders"]
