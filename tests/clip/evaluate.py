"""The scorer's acceptance figures (issue #15), through ``studio score``'s model path:

- ``rank_of_ten``: for each picture a model drew from a caption, is that caption scored first among
  10 candidates (itself and 9 other captions of the list, drawn with a fixed seed)?
- ``rank_of_all_top1``: the same among all the list's captions (e.g. 50), a stricter test.
- ``short_prompts_top1``: the same with short prompts ("a red circle", "a circle on the left", …)
  among the distinct ones of each kind.
- ``heldout_top1``: text→image top-1 over the shapes data set's held-out pairs (one picture per
  held-out caption, rendered with a seed the training never used).

``python -m tests.clip.evaluate MODEL [--pictures DIR --prompts FILE]``: pictures named
``pNNN-s*.png`` as ``studio batch`` writes them, NNN the prompt's line (1-based).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from studio.training import shapes


def scorer(model: str):
    """The loaded scorer of ``model`` (a folder or a library name), as the session loads it."""
    from studio.session import StudioSession

    session = StudioSession()
    try:
        from studio.core.requests import ScoreRequest

        return session.load_model(ScoreRequest(model=model, images=("x",), prompts=("x",)))
    finally:
        session.close()


def rank_of_ten(model, pictures: list[Path], captions: list[str], seed: int = 0) -> float:
    """Fraction of pictures whose own caption scores first among it and 9 others of ``captions``."""
    rng = random.Random(seed)
    hits = 0
    for picture, caption in zip(pictures, captions, strict=True):
        others = rng.sample([c for c in captions if c != caption], 9)
        scores = model.score([str(picture)], [caption, *others])["images"][0]["scores"]
        hits += max(range(10), key=lambda i: scores[i]["score"]) == 0
    return hits / len(pictures)


def rank_of_all(model, pictures: list[Path], captions: list[str]) -> float:
    """Fraction of pictures whose own caption scores first among every caption of the list."""
    distinct = sorted(set(captions))
    rows = model.score([str(p) for p in pictures], distinct)["images"]
    best = [max(row["scores"], key=lambda entry: entry["score"])["prompt"] for row in rows]
    return sum(b == c for b, c in zip(best, captions, strict=True)) / len(pictures)


#: Short prompts a person might type to rank pictures: the attributes each one says.
SHORT_PROMPTS = {"colour + shape": {"colour", "shape"}, "shape": {"shape"}, "colour": {"colour"},
                 "shape + position": {"shape", "position"}, "no background": {"size", "colour", "shape", "position"}}


def short_prompts(model, pictures: list[Path], captions: list[str]) -> dict[str, float]:
    """For each kind of short prompt ("a red circle", …): the fraction of pictures whose own short
    prompt scores first among all the distinct short prompts of that kind the list gives."""
    from studio_clip.recipe import partial_caption

    specs = {spec.caption: spec for spec in shapes.all_specs()}
    figures = {}
    for kind, keep in SHORT_PROMPTS.items():
        own = [partial_caption(specs[caption], keep) for caption in captions]
        rows = model.score([str(p) for p in pictures], sorted(set(own)))["images"]
        best = [max(row["scores"], key=lambda entry: entry["score"])["prompt"] for row in rows]
        figures[kind] = sum(b == o for b, o in zip(best, own, strict=True)) / len(pictures)
    return figures


def heldout_top1(model, folder: Path, seed: int = 7) -> float:
    """Text→image top-1 over the held-out captions (each with one picture, saved to ``folder``)."""
    data = shapes.ShapesDataset(len(shapes.heldout_specs()), seed=seed, split="heldout")
    folder.mkdir(parents=True, exist_ok=True)
    paths, captions = [], []
    for index in range(len(data)):
        item = data[index]
        path = folder / f"{index:03d}.png"
        item["image"].save(path)
        paths.append(str(path))
        captions.append(item["caption"])
    rows = model.score(paths, captions)["images"]
    best = [max(range(len(rows)), key=lambda i, c=c: rows[i]["scores"][c]["score"]) for c in range(len(captions))]
    return sum(b == c for c, b in enumerate(best)) / len(captions)


def batch_pictures(folder: Path, prompts_file: Path) -> tuple[list[Path], list[str]]:
    """``studio batch``'s pictures with the caption each was drawn from."""
    prompts = [line.strip() for line in prompts_file.read_text().splitlines() if line.strip()]
    pictures = sorted(folder.glob("p*-s*.png"))
    return pictures, [prompts[int(p.name[1:4]) - 1] for p in pictures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--pictures", type=Path, help="studio batch's pictures of the prompts")
    parser.add_argument("--prompts", type=Path, help="the prompts file those pictures were drawn from")
    parser.add_argument("--work", type=Path, default=Path("/tmp/clip_eval/heldout"))
    args = parser.parse_args()
    model = scorer(args.model)
    figures = {"heldout_text_to_image_top1": heldout_top1(model, args.work)}
    if args.pictures and args.prompts:
        pictures, captions = batch_pictures(args.pictures, args.prompts)
        figures.update({"pictures": len(pictures), "rank_of_ten_top1": rank_of_ten(model, pictures, captions),
                        "rank_of_all_top1": rank_of_all(model, pictures, captions),
                        "short_prompts_top1": short_prompts(model, pictures, captions)})
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
