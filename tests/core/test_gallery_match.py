"""The gallery's match scores: stored per image with the scorer that gave them, kept through a
restart, migrated into older gallery files in place, sorted best first in keyset pages, and listed
again for scoring only when the scorer changes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

import studio.core.gallery as gallery_module
from studio.core.gallery import Gallery, own_prompt_scores, score_table
from studio.core.paths import home_path
from studio.core.requests import GenerationRequest

# the first gallery file the studio wrote (no negative prompt, model name, word index or match)
FIRST_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, thumbnail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, model TEXT NOT NULL DEFAULT '', prompt TEXT NOT NULL DEFAULT '', seed INTEGER,
    width INTEGER NOT NULL DEFAULT 0, height INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}', starred INTEGER NOT NULL DEFAULT 0, trashed_at REAL
);
CREATE INDEX items_created ON items(created_at);
"""


def _add(gallery: Gallery, folder: Path, n: int, prompt: str) -> Path:
    path = folder / f"{n}.png"
    Image.new("RGB", (16, 16), (20 * n, 90, 90)).save(path)
    gallery.add(path, GenerationRequest(model="demo", prompt=prompt), n)
    return path


def _columns(db_path: Path) -> set[str]:
    db = sqlite3.connect(db_path)
    try:
        return {row[1] for row in db.execute("PRAGMA table_info(items)")}
    finally:
        db.close()


def test_a_gallery_file_of_the_last_version_gains_match_columns_in_place(tmp_path, studio_home) -> None:
    db_path = home_path("gallery") / "index.sqlite"
    gallery = Gallery()
    fox = _add(gallery, tmp_path, 1, "a red fox")
    _add(gallery, tmp_path, 2, "a blue whale")
    gallery.close()
    db = sqlite3.connect(db_path)  # make it the file the previous version left: no match columns, no index
    db.executescript("DROP INDEX items_match; ALTER TABLE items DROP COLUMN match_score;"
                     " ALTER TABLE items DROP COLUMN match_model;")
    db.close()
    assert not {"match_score", "match_model"} & _columns(db_path)

    gallery = Gallery()
    try:
        assert {"match_score", "match_model"} <= _columns(db_path)
        assert [i.prompt for i in gallery.search()] == ["a blue whale", "a red fox"]  # rows kept as they were
        assert all(i.match_score is None and i.match_model == "" for i in gallery.search())
        assert [i.prompt for i in gallery.search(text="fox")] == ["a red fox"]  # the word index still works
        assert gallery.set_match({str(fox): 0.31}, "demo-clip") == 1
    finally:
        gallery.close()
    reopened = Gallery()  # scores survive a restart
    try:
        assert [(i.prompt, i.match_score, i.match_model) for i in reopened.search(order="match")] == [
            ("a red fox", 0.31, "demo-clip"), ("a blue whale", None, "")]
    finally:
        reopened.close()


def test_the_first_gallery_file_gains_every_later_column(studio_home) -> None:
    db = sqlite3.connect(home_path("gallery") / "index.sqlite")
    db.executescript(FIRST_SCHEMA)
    request = GenerationRequest(model="/models/sd15.safetensors", prompt="a castle at dusk", seed=3)
    db.execute("INSERT INTO items (path, created_at, model, prompt, seed, request, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
               ("/old/castle.png", 1000.0, request.model, request.prompt, 3, request.to_json(), json.dumps({})))
    db.commit()
    db.close()
    gallery = Gallery()
    try:
        (castle,) = gallery.search(order="match")
        assert (castle.model_name, castle.match_score) == ("sd15", None)
        assert [i.id for i in gallery.unscored("demo-clip")] == [castle.id]
        gallery.set_match({"/old/castle.png": 0.5}, "demo-clip")
        assert gallery.get(castle.id).match_score == 0.5 and gallery.unscored("demo-clip") == []
    finally:
        gallery.close()


@pytest.mark.parametrize("few_matches", [2000, 1], ids=["words-sorted", "match-index-walked"])
def test_best_match_first_pages_without_gaps_or_repeats(tmp_path, studio_home, monkeypatch, few_matches) -> None:
    monkeypatch.setattr(gallery_module, "FEW_MATCHES", few_matches)  # both plans for a word filter
    gallery = Gallery()
    try:
        paths = [_add(gallery, tmp_path, n, f"kite {n}") for n in range(9)]
        scores = {0: 0.2, 2: 0.9, 3: 0.5, 5: 0.5, 6: -0.3, 8: 0.7}  # 1, 4 and 7 are not scored
        gallery.set_match({str(paths[n]): s for n, s in scores.items()}, "demo-clip")
        ranked = [i.prompt for i in gallery.search(order="match")]
        assert ranked == ["kite 2", "kite 8", "kite 5", "kite 3", "kite 0", "kite 6", "kite 7", "kite 4", "kite 1"]
        pages, after = [], None
        while page := gallery.search(order="match", limit=2, after=after):
            pages.extend(i.prompt for i in page)
            after = page[-1].cursor_for("match")
        assert pages == ranked
        pages, after = [], None
        while page := gallery.search(text="kite", order="match", limit=2, after=after):  # with words: the same
            pages.extend(i.prompt for i in page)
            after = page[-1].cursor_for("match")
        assert pages == ranked
        assert [i.prompt for i in gallery.search(text="kite 5", order="match")] == ["kite 5"]
    finally:
        gallery.close()


def test_only_images_the_chosen_scorer_has_not_scored_are_listed_for_scoring(tmp_path, studio_home) -> None:
    gallery = Gallery()
    try:
        fox, whale, _empty = (_add(gallery, tmp_path, n, p) for n, p in enumerate(("a red fox", "a whale", " ")))
        assert [i.prompt for i in gallery.unscored("demo-clip")] == ["a whale", "a red fox"]  # no prompt: skipped
        gallery.set_match({str(fox): 0.4, str(whale): float("nan")}, "demo-clip")  # nan: not a score
        assert [i.prompt for i in gallery.unscored("demo-clip")] == ["a whale"]
        assert [i.prompt for i in gallery.unscored("/models/my-clip")] == ["a whale", "a red fox"]  # another scorer
        assert [i.prompt for i in gallery.unscored("/models/my-clip", paths=[str(fox)])] == ["a red fox"]
        gallery.set_match({str(fox): 7.0}, "/models/my-clip")  # out of range: clamped to a cosine
        assert gallery.search(text="fox")[0].match_score == 1.0
        gallery.trash(gallery.search(text="whale")[0].id)
        assert gallery.unscored("/models/my-clip") == []  # the trash is not scored
    finally:
        gallery.close()


def test_a_score_jobs_result_gives_each_image_its_own_prompts_score() -> None:
    data = {"model": "demo-clip", "images": [
        {"image": "/g/fox.png", "scores": [{"prompt": "a red fox", "score": 0.8},
                                           {"prompt": "a whale", "score": 0.1}]},
        {"image": "/g/whale.png", "scores": [{"prompt": "a red fox", "score": 0.2},
                                             {"prompt": "a whale", "score": 0.7}]},
        {"image": "/g/odd.png", "scores": [{"prompt": "a whale", "score": "high"}, {"prompt": "a whale"}]},
        "not an entry",
    ]}
    assert score_table(data)["/g/odd.png"] == {}  # not numbers: left out
    wanted = {"/g/fox.png": "a red fox", "/g/whale.png": "a whale", "/g/odd.png": "a whale", "/g/gone.png": "x"}
    assert own_prompt_scores(data, wanted) == {"/g/fox.png": 0.8, "/g/whale.png": 0.7}
