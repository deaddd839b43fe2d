import pytest

from studio.core import BadInput, GenerationRequest, LoraRef, TextRequest, request_from_json
from studio.core.requests import request_from_dict


def test_generation_request_round_trips_through_json():
    request = GenerationRequest(
        model="demo",
        prompt="a red circle",
        negative_prompt="blurry",
        seed=7,
        steps=12,
        width=64,
        height=96,
        scheduler="DPM++ 2M Karras",
        loras=(LoraRef("/loras/ink.safetensors", 0.6), LoraRef("/loras/b.safetensors")),
    )
    again = request_from_json(request.to_json())
    assert again == request
    assert again.loras[0].weight == 0.6


def test_capability_follows_inputs():
    assert GenerationRequest(model="m").capability == "txt2img"
    assert GenerationRequest(model="m", init_image="a.png").capability == "img2img"
    assert GenerationRequest(model="m", init_image="a.png", mask="m.png").capability == "inpaint"


def test_unknown_fields_and_newer_schema_are_refused():
    data = GenerationRequest(model="m").to_dict()
    with pytest.raises(BadInput, match="Unknown field"):
        request_from_dict({**data, "cfg_rescale": 1})
    with pytest.raises(BadInput, match="newer studio"):
        request_from_dict({**data, "schema": 99})
    with pytest.raises(BadInput, match="Unknown request kind"):
        request_from_dict({"kind": "dance"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 0}, "width 0"),
        ({"height": 65}, "height 65"),
        ({"width": 100000}, "width 100000"),
        ({"steps": 0}, "Steps"),
        ({"scheduler": "Warp drive"}, "Unknown scheduler"),
        ({"mask": "m.png"}, "mask needs an init image"),
        ({"batch": 0}, "Batch"),
        ({"model": ""}, "No model"),
    ],
)
def test_impossible_generation_values_are_refused_clearly(change, message):
    with pytest.raises(BadInput, match=message) as info:
        GenerationRequest(**{"model": "m", **change}).validate()
    assert info.value.exit_code == 2


def test_text_request_refuses_empty_prompt():
    with pytest.raises(BadInput, match="prompt is empty"):
        TextRequest(model="demo-text", prompt="   ").validate()


def test_lora_parse_takes_optional_weight():
    assert LoraRef.parse("a.safetensors:0.5") == LoraRef("a.safetensors", 0.5)
    assert LoraRef.parse("C:/x/a.safetensors") == LoraRef("C:/x/a.safetensors", 1.0)


def test_every_request_field_has_a_kind_validate_checks() -> None:
    """A new field of a type ``check_field_value`` does not know would go unchecked: refuse that here."""
    import dataclasses

    from studio.core.requests import REQUEST_TYPES

    known = {"int", "float", "str", "bool", "int | None", "str | None", "tuple[LoraRef, ...]", "tuple[str, ...]",
             "tuple[ControlRef, ...]",
             "dict[str, Any]"}
    for cls in REQUEST_TYPES.values():
        for item in dataclasses.fields(cls):
            assert str(item.type) in known, f"{cls.__name__}.{item.name}: {item.type}"
        cls(**({"model": "m", "prompt": "p"} if cls.kind in ("generate", "text") else {})).to_json()


def test_numbers_are_checked_for_kind_and_finiteness_at_entry() -> None:
    from studio.core.requests import GenerationRequest, TextRequest

    for bad in (2.5, "20", True, None):
        with pytest.raises(BadInput, match="Steps"):
            GenerationRequest(model="m", steps=bad).validate()
    for name in ("temperature", "top_p", "repetition_penalty", "watermark_bias", "watermark_ratio", "detect_threshold"):
        for bad in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(BadInput, match="finite"):
                TextRequest(model="m", prompt="p", **{name: bad}).validate()
    GenerationRequest(model="m", guidance=7).validate()  # an int where a float belongs is fine
