"""A conditional GAN's prompt: the label values a caption names."""

from __future__ import annotations

import pytest
from studio_gan.labels import named_values

from studio.plugins import BadInput

FACTORS = (("size", ("large", "small")), ("colour", ("red", "blue", "white")), ("shape", ("circle", "square")),
           ("position", ("left", "centre")), ("background", ("white", "black", "gray")))


def test_a_caption_names_every_factor_and_the_background_is_the_word_before_background() -> None:
    assert named_values("a large red circle on the left on a white background", FACTORS) == {
        "size": "large", "colour": "red", "shape": "circle", "position": "left", "background": "white"}
    assert named_values("a white square on a black background", FACTORS) == {
        "colour": "white", "shape": "square", "background": "black"}
    assert named_values("Small circle, center, GREY background", FACTORS) == {
        "size": "small", "shape": "circle", "position": "centre", "background": "gray"}


def test_a_prompt_naming_nothing_or_two_values_of_a_factor_is_refused() -> None:
    with pytest.raises(BadInput, match="names none of the labels"):
        named_values("a dog in the snow", FACTORS)
    with pytest.raises(BadInput, match="two colours"):
        named_values("a red and blue circle", FACTORS)
