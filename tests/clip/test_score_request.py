"""The score request: what the gallery and ``studio score`` hand the scorer, round-tripped as the queue stores it."""

from __future__ import annotations

import pytest

from studio.core.errors import BadInput
from studio.core.requests import DEFAULT_SCORER, ScoreRequest, request_from_dict, request_from_json


def test_score_request_round_trips_through_json_with_tuples() -> None:
    request = ScoreRequest(model=DEFAULT_SCORER, images=("/a.png", "/b.png"), prompts=("a red circle", "a cat"))
    request.validate()
    back = request_from_json(request.to_json())
    assert back == request and isinstance(back.images, tuple) and isinstance(back.prompts, tuple)
    assert request.capability == "score" and DEFAULT_SCORER == "demo-clip"


def test_score_request_needs_a_model_a_picture_and_a_prompt() -> None:
    with pytest.raises(BadInput, match="No pictures"):
        ScoreRequest(model="demo-clip", prompts=("x",)).validate()
    with pytest.raises(BadInput, match="No prompt"):
        ScoreRequest(model="demo-clip", images=("/a.png",)).validate()
    with pytest.raises(BadInput, match="No scorer"):
        ScoreRequest(images=("/a.png",), prompts=("x",)).validate()
    with pytest.raises(BadInput, match="prompts must be a list"):
        request_from_dict({"kind": "score", "model": "demo-clip", "images": ["/a.png"], "prompts": "x"})
    with pytest.raises(BadInput, match="not a path"):
        ScoreRequest(model="demo-clip", images=("/a.png",), prompts=(3,)).validate()  # type: ignore[arg-type]
