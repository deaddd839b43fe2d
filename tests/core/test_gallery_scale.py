"""The gallery at scale: a word index over prompt, negative prompt and model (an old database gains
it when opened, edits keep it in sync), keyset pages, requests parsed only when used."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from PIL import Image

from studio.core.gallery import Gallery, model_display_name
from studio.core.paths import home_path
from studio.core.requests import GenerationRequest

OLD_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, thumbnail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, model TEXT NOT NULL DEFAULT '', prompt TEXT NOT NULL DEFAULT '', seed INTEGER,
    width INTEGER NOT NULL DEFAULT 0, height INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}', starred INTEGER NOT NULL DEFAULT 0, trashed_at REAL
);
CREATE INDEX items_created ON items(created_at);
"""


def _image(path: Path) -> Path:
    Image.new("RGB", (16, 16), "gray").save(path)
    return path


def _index_is_sound(gallery: Gallery) -> None:
    gallery._db.execute("INSERT INTO items_fts(items_fts) VALUES ('integrity-check')")  # raises when stale


def test_an_old_gallery_database_gains_the_word_index_when_opened(studio_home) -> None:
    db = sqlite3.connect(home_path("gallery") / "index.sqlite")
    db.executescript(OLD_SCHEMA)
    for n, (prompt, negative, model, extra) in enumerate((
        ("a castle at dusk", "blurry", "/models/deep/sd15-pruned.safetensors", {}),
        ("a quiet harbour", "text, watermark", "/models/xl", {"model_name": "Juggernaut"}),
    )):
        request = GenerationRequest(model=model, prompt=prompt, negative_prompt=negative, seed=n)
        db.execute("INSERT INTO items (path, created_at, model, prompt, seed, request, extra)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (f"/old/{n}.png", 1000.0 + n, model, prompt, n, request.to_json(), json.dumps(extra)))
    db.commit()
    db.close()

    gallery = Gallery()
    try:
        castle, harbour = sorted(gallery.search(), key=lambda item: item.id)
        assert [i.id for i in gallery.search(text="cast")] == [castle.id]  # a word start
        assert [i.id for i in gallery.search(negative="watermark")] == [harbour.id]
        assert [i.id for i in gallery.search(model="sd15")] == [castle.id]
        assert [i.id for i in gallery.search(model="juggernaut")] == [harbour.id]
        assert (castle.model_name, harbour.model_name) == ("sd15-pruned", "Juggernaut")
        _index_is_sound(gallery)
    finally:
        gallery.close()
    reopened = Gallery()  # opening again changes nothing (the index is built once)
    try:
        assert len(reopened.search(text="castle")) == 1
    finally:
        reopened.close()


def test_pages_follow_each_other_without_gaps_or_repeats(tmp_path, studio_home) -> None:
    gallery = Gallery()
    try:
        for n in range(11):
            prompt = f"{'red' if n % 2 else 'blue'} kite number {n}"
            gallery.add(_image(tmp_path / f"{n}.png"), GenerationRequest(model="demo", prompt=prompt), n)
        for query in ({}, {"text": "red"}, {"text": "kite", "starred": None}):
            everything = [i.id for i in gallery.search(**query)]
            paged, after = [], None
            while page := gallery.search(**query, limit=3, after=after):
                assert len(page) <= 3
                paged += [i.id for i in page]
                after = page[-1].cursor
            assert paged == everything and len(set(paged)) == len(paged)
            assert everything == sorted(everything, reverse=True)  # newest first
        assert len(gallery.search(text="red")) == 5
    finally:
        gallery.close()


def test_the_word_index_follows_edits_replacements_and_deletions(tmp_path, studio_home) -> None:
    gallery = Gallery()
    try:
        path = _image(tmp_path / "one.png")
        gallery.add(path, GenerationRequest(model="demo", prompt="a red fox"), 1)
        again = gallery.add(path, GenerationRequest(model="demo", prompt="a grey whale"), 2)  # same file rewritten
        assert gallery.search(text="fox") == []
        assert [i.id for i in gallery.search(text="whale")] == [again.id]
        gallery._db.execute("UPDATE items SET prompt = 'a green kite' WHERE id = ?", (again.id,))
        assert [i.id for i in gallery.search(text="kite")] == [again.id] and gallery.search(text="whale") == []
        gallery.trash(again.id)
        assert gallery.search(text="kite") == [] and len(gallery.search(text="kite", trashed=True)) == 1
        assert gallery.empty_trash() == 1
        assert gallery.search(text="kite", trashed=True) == []
        _index_is_sound(gallery)
    finally:
        gallery.close()


def test_listing_parses_no_request_until_one_is_used(tmp_path, studio_home) -> None:
    gallery = Gallery()
    try:
        gallery.add(_image(tmp_path / "a.png"), GenerationRequest(model="demo", prompt="owl", steps=7), 3)
        (item,) = gallery.search(limit=10)
        assert "request" not in vars(item) and "extra" not in vars(item)
        assert item.request.steps == 7 and item.request.seed == 3  # parsed on first use
        assert "request" in vars(item)
    finally:
        gallery.close()


def test_punctuation_only_text_still_filters_literally(tmp_path, studio_home) -> None:
    gallery = Gallery()
    try:
        plain = gallery.add(_image(tmp_path / "a.png"), GenerationRequest(model="demo", prompt="plain"), 1)
        odd = gallery.add(_image(tmp_path / "b.png"), GenerationRequest(model="demo", prompt="(masterpiece:1.2)"), 2)
        assert [i.id for i in gallery.search(text="(")] == [odd.id]
        assert [i.id for i in gallery.search(text="plain")] == [plain.id]
        assert gallery.search(text='"') == []
    finally:
        gallery.close()


def test_model_display_names() -> None:
    assert model_display_name("/models/deep/sd15-pruned.safetensors") == "sd15-pruned"
    assert model_display_name("C:\\models\\dreamshaper_8.ckpt") == "dreamshaper_8"
    assert model_display_name("/models/tiny-sd/") == "tiny-sd"
    assert model_display_name("demo") == "demo"
    assert model_display_name("/m/x", {"model_name": "Named"}) == "Named"
