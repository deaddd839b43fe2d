"""The invisible watermark: survives what happens to images in real life, and stays invisible."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.export import watermark as wm

PAYLOAD = wm.Payload(owner=4242, image=0xC0FFEE42)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


@pytest.fixture(scope="module")
def marked(photo: Image.Image) -> Image.Image:
    return wm.embed(photo, PAYLOAD)


def test_code_corrects_errors_and_crc_rejects_noise() -> None:
    coded = wm.encode(PAYLOAD)
    rng = np.random.default_rng(1)
    soft = (2.0 * coded - 1.0) + rng.normal(0, 0.8, coded.shape)
    assert np.mean((soft > 0) != coded) > 0.05  # raw errors…
    bits, ok = wm.decode_soft(soft)
    assert ok and wm.Payload.from_bits(bits) == PAYLOAD  # …all corrected
    _, ok = wm.decode_soft(rng.normal(0, 1, coded.shape))
    assert not ok


def test_mark_is_invisible_by_psnr(photo: Image.Image, marked: Image.Image) -> None:
    assert marked.size == photo.size and marked.mode == photo.mode
    assert wm.psnr(photo, marked) >= 38.0


def test_mark_survives_jpeg_q75(marked: Image.Image) -> None:
    found = wm.detect(jpeg(marked, 75))
    assert found.detected and found.payload == PAYLOAD
    assert found.to_dict()["payload"] == {"owner": 4242, "image": 0xC0FFEE42, "hex": "1092-c0ffee42"}
    assert 0.5 <= found.confidence <= 1.0


def test_mark_survives_corner_crop(marked: Image.Image) -> None:
    w, h = marked.size
    found = wm.detect(marked.crop((w // 10, h // 10, w, h)))
    assert found.detected and found.payload == PAYLOAD


def test_mark_survives_half_size_and_jpeg_q50(photo_gray: Image.Image) -> None:
    out = wm.embed(photo_gray, PAYLOAD)
    small = out.resize((out.width // 2, out.height // 2), Image.Resampling.LANCZOS)
    found = wm.detect(jpeg(small, 50))
    assert found.detected and found.payload == PAYLOAD


def test_unmarked_images_are_not_detected(photo: Image.Image, photo_gray: Image.Image) -> None:
    flat = Image.new("RGB", (300, 200), (120, 130, 140))
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    for image in (photo, jpeg(photo_gray, 75), flat, noise):
        found = wm.detect(image)
        assert not found.detected and found.payload is None
        assert found.to_dict() == {"detected": False, "payload": None, "confidence": 0.0}


def test_alpha_and_gray_are_kept(photo: Image.Image) -> None:
    rgba = photo.resize((256, 256)).convert("RGBA")
    alpha = Image.linear_gradient("L").resize((256, 256))
    rgba.putalpha(alpha)
    out = wm.embed(rgba, PAYLOAD)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))
    gray = wm.embed(photo.convert("L"), PAYLOAD)
    assert gray.mode == "L" and wm.detect(gray).payload == PAYLOAD


def test_payload_range_is_checked() -> None:
    with pytest.raises(ValueError):
        wm.Payload(owner=2**16)


def test_mark_survives_a_small_rotation(marked: Image.Image) -> None:
    found = wm.detect(marked.rotate(5, resample=Image.Resampling.BICUBIC))
    assert found.detected and found.payload == PAYLOAD and abs(found.rotation + 5) <= 0.5


@pytest.fixture(scope="module")
def grass() -> Image.Image:
    data = pytest.importorskip("skimage.data", reason="scikit-image (test dependency) gives the sample photos")
    return Image.fromarray(data.grass()).convert("RGB")


def test_mark_survives_on_uniform_high_contrast_texture(grass: Image.Image) -> None:
    """A close-up of grass: its own texture is loudest exactly where the mark lives (issue 6's worst case)."""
    payload = wm.Payload(owner=6369, image=826360916)
    out = wm.embed(grass, payload)
    assert wm.psnr(grass, out) >= 38.0
    w, h = out.size
    small = out.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    for attacked in (jpeg(out, 75), jpeg(small, 50), out.crop((w // 10, h // 10, w, h))):
        found = wm.detect(attacked)
        assert found.detected and found.payload == payload


def test_unmarked_readings_stay_below_the_agreement_threshold(grass: Image.Image, photo: Image.Image) -> None:
    """Not only the pick: every reading the detector weighs on unmarked photos stays under the threshold,
    so a chance CRC-24 match (1 in 16.7 million) would still not count."""
    for image in (grass, jpeg(photo, 75)):
        readings = list(wm.candidates(image))
        assert readings and not any(r.detected for r in readings)
        assert max(r.agreement for r in readings) < wm.RHO_THRESHOLD


def _shape_picture(side: int) -> Image.Image:
    """A picture like the demo model's: a soft coloured shape on a plain background."""
    from PIL import ImageDraw, ImageFilter

    picture = Image.new("RGB", (side, side), (236, 232, 220))
    ImageDraw.Draw(picture).ellipse([side // 6, side // 5, side * 2 // 3, side * 3 // 4], fill=(200, 40, 30))
    return picture.filter(ImageFilter.GaussianBlur(side / 40))


@pytest.mark.parametrize("small", ["shape-64", "shape-96", "photo-160", "photo-224"])
def test_small_pictures_keep_a_mark_that_is_found_again(photo: Image.Image, small: str) -> None:
    """Generated pictures are often small (the demo's are 64 px): their mark must be readable, also
    after a JPEG export, and an unmarked picture of that size must not read as marked."""
    kind, side = small.split("-")
    picture = _shape_picture(int(side)) if kind == "shape" else photo.resize((int(side), int(side) * 3 // 4))
    payload = wm.Payload(owner=77, image=int(side))
    marked = wm.embed(picture, payload)
    assert wm.psnr(picture, marked) >= 38.0
    for copy in (marked, jpeg(marked, 90)):
        assert wm.readable(copy, payload)
    assert not wm.detect(picture).detected
