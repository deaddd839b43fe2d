"""The shapes data set: reproducible, captioned as specified, with a disjoint held-out split."""

from __future__ import annotations

import re

import numpy as np

from studio.training import shapes

CAPTION = re.compile(
    r"^a (large|small) (red|green|blue|yellow|purple|orange|white|black) (circle|square|triangle) "
    r"(on the left|on the right|at the top|at the bottom|in the centre) on a (white|black|gray) background$"
)


def test_same_seed_same_pixels_and_captions() -> None:
    a, b = shapes.ShapesDataset(20, seed=7), shapes.ShapesDataset(20, seed=7)
    for i in range(20):
        assert a[i]["caption"] == b[i]["caption"]
        assert np.array_equal(np.asarray(a[i]["image"]), np.asarray(b[i]["image"]))
    c = shapes.ShapesDataset(20, seed=8)
    assert any(not np.array_equal(np.asarray(a[i]["image"]), np.asarray(c[i]["image"])) for i in range(20))


def test_captions_follow_the_pattern_and_never_say_star() -> None:
    specs = shapes.all_specs()
    assert len(specs) == 660
    for s in specs:
        assert CAPTION.match(s.caption), s.caption
        assert "star" not in s.caption
        assert shapes.PALETTE[s.colour] != shapes.BACKGROUNDS[s.background]
    assert "star" not in shapes.vocabulary()


def test_images_show_the_captioned_colours() -> None:
    ds = shapes.ShapesDataset(60, seed=1, split="all")
    for i in range(len(ds)):
        item = ds[i]
        spec, img = item["spec"], np.asarray(item["image"])
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        assert tuple(img[0, 0]) == shapes.BACKGROUNDS[spec.background]
        cx, cy = shapes.POSITIONS[spec.position]
        y = int(cy) + (3 if spec.shape == "triangle" else 0)  # a triangle is widest below its centre
        assert tuple(img[y, int(cx)]) == shapes.PALETTE[spec.colour], spec.caption


def test_heldout_split_is_disjoint_and_covers_every_word() -> None:
    train, held = shapes.train_specs(), shapes.heldout_specs()
    assert len(held) == 66 and len(train) + len(held) == 660
    assert not {s.key for s in train} & {s.key for s in held}
    train_words = {w for s in train for w in s.caption.split()}
    assert train_words == set(shapes.vocabulary())
    assert shapes.heldout_specs() == held  # fixed, not random per call
