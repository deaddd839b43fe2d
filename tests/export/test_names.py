"""File-name templates are filled in safely and never leave the export folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from studio.core.errors import BadInput
from studio.export.names import NameFields, render_name, sanitize_component, slug, target_in, unique_path

WHEN = dt.datetime(2026, 3, 4, 5, 6, 7)


def test_placeholders_are_filled() -> None:
    fields = NameFields(n=7, seed=42, prompt="A Red Fox, in snow!", stem="src", when=WHEN)
    assert render_name("{date}-{seed}-{prompt}-{n:03}", fields, "jpeg") == "2026-03-04-42-a-red-fox-in-snow-007.jpg"
    assert render_name("{stem}_{time}", fields, "webp") == "src_050607.webp"


def test_values_cannot_inject_paths_or_bad_characters() -> None:
    fields = NameFields(prompt="../../etc/passwd", stem='..\\evil:<>|*?"', when=WHEN)
    name = render_name("{prompt}-{stem}", fields, "png")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not set('<>:"|?*') & set(name)
    assert sanitize_component("CON") == "_CON" and sanitize_component("...") == "image"
    assert len(sanitize_component("é" * 400).encode()) <= 200
    assert slug("Ünïcödé ☃ prompt") == "unicode-prompt"


@pytest.mark.parametrize("template", ["../{n}", "sub/{n}", "..\\{n}", "/tmp/{n}", "..", "C:{n}"])
def test_templates_that_escape_are_refused(template: str) -> None:
    with pytest.raises(BadInput, match=r"outside|absolute"):
        render_name(template, NameFields(), "png")


@pytest.mark.parametrize("template", ["{user}", "{}", "{n", ""])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(BadInput):
        render_name(template, NameFields(), "png")


def test_target_stays_in_folder_and_unique_names(tmp_path: Path) -> None:
    assert target_in(tmp_path, "a.png") == tmp_path.resolve() / "a.png"
    with pytest.raises(BadInput):
        target_in(tmp_path, "../a.png")
    (tmp_path / "a.png").write_bytes(b"x")
    assert unique_path(tmp_path / "a.png").name == "a-2.png"
    assert unique_path(tmp_path / "a.png", {tmp_path / "a-2.png"}).name == "a-3.png"


def test_same_stems_from_two_folders_get_numbered_names(generated_png: Path, tmp_path: Path) -> None:
    import shutil

    from studio.core.requests import ExportRequest
    from studio.export.batch import plan_export

    other = tmp_path / "other" / "fox.png"
    other.parent.mkdir()
    shutil.copy(generated_png, other)
    out = tmp_path / "out"
    out.mkdir()
    (out / "fox.png").write_bytes(b"the user's file")
    request = ExportRequest(images=(str(generated_png), str(other)), out_dir=str(out), name_template="{stem}",
                            conflict="rename")
    assert [p.target.name for p in plan_export(request)] == ["fox-2.png", "fox-3.png"]


def test_a_file_that_appears_while_exporting_is_never_overwritten(tmp_path: Path) -> None:
    from studio.export.batch import write_export

    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "fox.png"
    target.write_bytes(b"appeared meanwhile")
    assert write_export(target, b"new", "rename", set()).name == "fox-2.png"
    assert target.read_bytes() == b"appeared meanwhile"
    with pytest.raises(BadInput, match="appeared"):
        write_export(target, b"new", "error", set())
    assert sorted(p.name for p in folder.iterdir()) == ["fox-2.png", "fox.png"]  # no temp file left
