"""The gallery's match column at 100,000 images (core only, real SQLite); prints one JSON object.

Builds ``--items`` rows through :class:`studio.core.gallery.Gallery` in a fresh ``STUDIO_HOME``, drops
the match columns and index (the file the previous version left), then times: the in-place
migration when the file is opened, storing scores for every row (``set_match`` in chunks of 256,
as score jobs do), listing a job's worth of unscored rows, and the first and a later page of "Best
match first", with and without a word filter (a common word: 30 % of prompts; a rare one: 0.1 %),
median of 5 each.

Usage: ``OMP_NUM_THREADS=1 .venv/bin/python bench/gallery_match.py [--items 100000]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHUNK = 256  # images a score job takes (studio.ui.gallery_scoring.MAX_IMAGES_PER_JOB)
WORDS = ("red", "blue", "fox", "whale", "kite", "castle", "forest", "cinematic", "watercolor", "portrait")


def _ms(work, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="gallery-match-"))
    os.environ["STUDIO_HOME"] = str(home)
    from PIL import Image

    from studio.core.gallery import Gallery
    from studio.core.requests import GenerationRequest

    image = home / "one.png"
    Image.new("RGB", (16, 16), "gray").save(image)
    rng = random.Random(0)
    gallery = Gallery()
    db_path = gallery.root / "index.sqlite"
    gallery._db.execute("BEGIN")
    for n in range(args.items):  # one real file; each row its own path (the index only reads paths)
        prompt = " ".join(rng.sample(WORDS, 3)) + (" zeppelin" if n % 1000 == 0 else "")  # a rare word
        request = GenerationRequest(model="demo", prompt=prompt, seed=n)
        gallery._db.execute(
            "INSERT INTO items (path, thumbnail, created_at, model, prompt, seed, width, height, request)"
            " VALUES (?, ?, ?, 'demo', ?, ?, 512, 512, ?)",
            (str(home / f"{n}.png"), str(image), 1000.0 + n, prompt, n, request.to_json()))
    gallery._db.execute("COMMIT")
    gallery.close()
    db = sqlite3.connect(db_path)
    db.executescript("DROP INDEX items_match; ALTER TABLE items DROP COLUMN match_score;"
                     " ALTER TABLE items DROP COLUMN match_model; VACUUM;")
    db.close()

    start = time.perf_counter()
    gallery = Gallery()
    migrate_ms = (time.perf_counter() - start) * 1000
    unscored_ms = _ms(lambda: gallery.unscored("demo-clip", limit=CHUNK))
    paths = [str(home / f"{n}.png") for n in range(args.items)]
    start = time.perf_counter()
    for first in range(0, len(paths), CHUNK):
        gallery.set_match({p: rng.uniform(-0.2, 0.5) for p in paths[first:first + CHUNK]}, "demo-clip")
    store_s = time.perf_counter() - start
    first_page = gallery.search(order="match", limit=200)
    deep = gallery.search(order="match", limit=200, after=first_page[-1].match_cursor)
    for _ in range(200):  # a page 40,000 rows down
        deep = gallery.search(order="match", limit=200, after=deep[-1].match_cursor)
    figures = {
        "items": args.items,
        "migrate_ms": round(migrate_ms, 1),
        "unscored_256_ms": unscored_ms,
        "store_all_scores_s": round(store_s, 2),
        "store_per_job_ms": round(store_s * 1000 / (len(paths) / CHUNK), 2),
        "best_match_first_page_ms": _ms(lambda: gallery.search(order="match", limit=200)),
        "best_match_page_40k_down_ms": _ms(lambda: gallery.search(order="match", limit=200,
                                                                   after=deep[-1].match_cursor)),
        "best_match_with_common_word_ms": _ms(lambda: gallery.search(text="fox", order="match", limit=200)),
        "best_match_with_rare_word_ms": _ms(lambda: gallery.search(text="zeppelin", order="match", limit=200)),
        "newest_first_page_ms": _ms(lambda: gallery.search(limit=200)),
        "unscored_after_scoring_ms": _ms(lambda: gallery.unscored("demo-clip", limit=CHUNK)),
    }
    gallery.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
