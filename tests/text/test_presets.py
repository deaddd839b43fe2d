"""Sampling presets: built-in ones, the user's own under STUDIO_HOME, clear errors."""

from __future__ import annotations

import pytest

from studio.core.errors import BadInput
from studio.core.requests import TextRequest
from studio.core.text_presets import (
    TextPreset,
    apply_preset,
    delete_preset,
    get_preset,
    list_presets,
    load_user_presets,
    preset_from_request,
    presets_dir,
    save_preset,
)


def test_builtin_presets_order_from_precise_to_creative():
    names = [p.name for p in list_presets()]
    assert names[:3] == ["Precise", "Balanced", "Creative"]
    temps = [get_preset(n).temperature for n in names[:3]]
    assert temps == sorted(temps)


def test_user_preset_round_trip_and_apply(studio_home):
    request = TextRequest(model="demo-text", prompt="Hi", temperature=0.55, top_k=7, seed=4)
    path = save_preset(preset_from_request("My captions", request))
    assert path.parent == presets_dir() and str(studio_home) in str(path)
    preset = get_preset("my captions")
    assert preset.temperature == 0.55 and preset.top_k == 7
    applied = apply_preset(TextRequest(model="demo-text", prompt="Hi", seed=9), preset)
    assert applied.temperature == 0.55 and applied.top_k == 7 and applied.seed == 9
    delete_preset("My captions")
    with pytest.raises(BadInput, match="no text preset"):
        get_preset("My captions")


def test_builtin_names_and_bad_values_are_refused():
    with pytest.raises(BadInput, match="built-in"):
        save_preset(TextPreset("Creative", temperature=2.0))
    with pytest.raises(BadInput, match="top-p"):
        save_preset(TextPreset("Wild", top_p=3.0))
    with pytest.raises(BadInput, match="preset name"):
        save_preset(TextPreset("../escape"))


def test_unreadable_preset_file_is_reported_not_fatal():
    (presets_dir() / "broken.json").write_text("{not json")
    save_preset(TextPreset("Fine", temperature=0.5))
    presets, problems = load_user_presets()
    assert [p.name for p in presets] == ["Fine"]
    assert len(problems) == 1 and "broken.json" in problems[0]
    assert (presets_dir() / "broken.json").exists()
