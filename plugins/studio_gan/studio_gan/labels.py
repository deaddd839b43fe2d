"""A conditional GAN's prompt: which label values a caption names ("a large red circle on the left
on a white background" → size large, colour red, shape circle, position left, background white).

Words are matched against each factor's values; "X background" names the background (so "white"
in "on a white background" is not the shape's colour). Pure Python: no torch here.
"""

from __future__ import annotations

import re

from studio.plugins import BadInput

Factors = tuple[tuple[str, tuple[str, ...]], ...]
SYNONYMS = {"center": "centre", "grey": "gray"}


def named_values(prompt: str, factors: Factors) -> dict[str, str]:
    """``{factor: value}`` for every factor the prompt names; a :class:`BadInput` when it names none,
    or two values of one factor."""
    words = [SYNONYMS.get(w, w) for w in re.findall(r"[a-z]+", prompt.lower())]
    named: dict[str, str] = {}
    names = dict(factors)
    if "background" in names and "background" in words:
        index = words.index("background")
        if index and words[index - 1] in names["background"]:
            named["background"] = words[index - 1]
            del words[index - 1 : index + 1]
    for name, values in factors:
        if name in named:
            continue
        found = sorted({w for w in words if w in values})
        if len(found) > 1:
            raise BadInput(f"The prompt names two {name}s ({', '.join(found)}).", f"Name one {name}.")
        if found:
            named[name] = found[0]
    if not named:
        described = "; ".join(f"{name}: {', '.join(values)}" for name, values in factors)
        raise BadInput("The prompt names none of the labels this GAN was trained on.",
                       f"Use their words, e.g. 'a large red circle on the left on a white background' ({described}).")
    return named
