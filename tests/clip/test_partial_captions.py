"""Partial captions: a text that says only some attributes fits every picture that has them."""

from __future__ import annotations

import torch
from studio_clip.network import ClipConfig
from studio_clip.recipe import ATTRIBUTES, ClipTask, partial_caption

from studio.training import shapes


def test_a_partial_caption_says_only_its_attributes_and_all_of_them_is_the_caption() -> None:
    spec = shapes.ShapeSpec("small", "red", "circle", "left", "gray")
    assert partial_caption(spec, set(ATTRIBUTES)) == spec.caption
    assert partial_caption(spec, {"colour", "shape"}) == "a red circle"
    assert partial_caption(spec, {"colour", "position"}) == "a red shape on the left"


def test_the_batch_texts_fit_every_picture_with_their_attributes() -> None:
    specs = shapes.train_specs()
    pictures = torch.zeros(len(specs), 3, 64, 64, dtype=torch.uint8)
    task = ClipTask(ClipConfig(vocabulary=("a",)), pictures, [s.caption for s in specs], (pictures[:0], []),
                    eval_every=0, augmented=False, specs=specs, partial=1.0)
    torch.manual_seed(0)
    indices = torch.arange(0, len(specs), 7)
    texts, fits = task.texts(indices)
    assert fits.diagonal().all() and any(text != specs[int(i)].caption for text, i in zip(texts, indices, strict=True))
    subsets = [{a for bit, a in enumerate(ATTRIBUTES) if mask >> bit & 1} for mask in range(1, 2 ** len(ATTRIBUTES))]
    for row, text in zip(fits.tolist(), texts, strict=True):  # fits: some way of saying that picture gives the text
        said = [any(partial_caption(specs[int(i)], keep) == text for keep in subsets) for i in indices]
        assert row == said, text
    whole = ClipTask(ClipConfig(vocabulary=("a",)), pictures, [s.caption for s in specs], (pictures[:0], []),
                     eval_every=0, augmented=False, specs=specs, partial=0.0)
    assert whole.texts(indices) == ([specs[int(i)].caption for i in indices], None)
