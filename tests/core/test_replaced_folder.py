"""A saved model folder is replaced as a whole, or not at all."""

from __future__ import annotations

import pytest

from studio.plugins import replaced_folder


def test_a_folder_is_replaced_whole_and_a_failed_write_leaves_the_old_one(tmp_path) -> None:
    out = tmp_path / "models" / "mine"
    with replaced_folder(out) as tmp:
        (tmp / "weights.bin").write_text("first")
    assert (out / "weights.bin").read_text() == "first"

    with pytest.raises(OSError), replaced_folder(out) as tmp:
        (tmp / "weights.bin").write_text("half")
        raise OSError("disk full")
    assert [p.name for p in out.iterdir()] == ["weights.bin"] and (out / "weights.bin").read_text() == "first"

    with replaced_folder(out) as tmp:
        (tmp / "config.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]  # nothing of the old folder is left
    assert sorted(p.name for p in out.parent.iterdir()) == ["mine"]  # no .tmp / .old debris
