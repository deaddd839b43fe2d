"""Export: formats with provenance, strip, and every bad input refused before anything is written."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import BadInput, JobCancelled
from studio.core.imagemeta import save_png
from studio.core.requests import ExportRequest, request_from_json
from studio.export import provenance, watermark
from studio.export.batch import export_images, plan_export
from tests.export.conftest import bomb_png, generation_request

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


def run(request: ExportRequest, cancel_after: int | None = None):
    steps = []

    def report(step, total, preview=None, message="", notice=None):
        steps.append((step, total))
        if cancel_after is not None and step >= cancel_after:
            raise JobCancelled()

    return export_images(request, report, lambda: False), steps


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_export_carries_parameters_source_type_and_watermark(generated_png: Path, out: Path, fmt: str) -> None:
    request = ExportRequest(images=(str(generated_png),), out_dir=str(out), format=fmt, quality=90,
                            name_template="{seed}-{prompt}", watermark_owner=7)
    result, steps = run(request)
    (artifact,) = result.artifacts
    path = Path(artifact.path)
    assert path.parent == out.resolve() and path.name.startswith("1234-a-red-fox-in-snow-watercolor.")
    assert steps[-1] == (1, 1)
    found = provenance.read_provenance(path)
    assert found["digital_source_type"] == TRAINED
    assert "a red fox in snow, watercolor" in found["parameters"] and "Seed: 1234" in found["parameters"]
    with Image.open(path) as image:
        mark = watermark.detect(image)
    assert mark.detected and mark.payload.owner == 7
    assert mark.payload.image == artifact.metadata["watermark"]["image"]


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_sd_parsers_reads_the_parameters(generated_png: Path, out: Path, fmt: str) -> None:
    sd_parsers = pytest.importorskip("sd_parsers", reason="sd-parsers (test dependency) is not installed")
    result, _ = run(ExportRequest(images=(str(generated_png),), out_dir=str(out), format=fmt))
    info = sd_parsers.ParserManager().parse(result.artifacts[0].path)
    assert info is not None
    sampler = info.samplers[0]
    assert sampler.name == "Euler a" and sampler.parameters["seed"] == "1234"
    assert sampler.prompts[0].value == "a red fox in snow, watercolor"


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool (Debian libimage-exiftool-perl) is absent")
def test_exiftool_reads_digital_source_type(generated_png: Path, out: Path) -> None:
    paths = []
    for fmt in ("png", "jpeg", "webp"):
        result, _ = run(ExportRequest(images=(str(generated_png),), out_dir=str(out), format=fmt))
        paths.append(result.artifacts[0].path)
    text = subprocess.run(["exiftool", "-j", "-XMP-iptcExt:DigitalSourceType", *paths],
                          capture_output=True, text=True, check=True).stdout
    assert [item["DigitalSourceType"] for item in json.loads(text)] == [TRAINED] * 3


def test_edited_user_image_is_composite(tmp_path: Path, out: Path) -> None:
    src = tmp_path / "edit.png"
    save_png(Image.new("RGB", (64, 64), (9, 9, 9)), src, generation_request(init_image="mine.jpg"), 5, {})
    result, _ = run(ExportRequest(images=(str(src),), out_dir=str(out), format="jpeg", watermark=False))
    assert provenance.read_provenance(result.artifacts[0].path)["digital_source_type"] == COMPOSITE


def test_strip_metadata_removes_everything(generated_png: Path, out: Path) -> None:
    for fmt in ("png", "jpeg", "webp"):
        request = ExportRequest(images=(str(generated_png),), out_dir=str(out), format=fmt, strip_metadata=True,
                                name_template=f"{{n}}-{fmt}")
        path = run(request)[0].artifacts[0].path
        found = provenance.read_provenance(path)
        assert found["parameters"] is None and found["digital_source_type"] is None and not found["c2pa"]
        with Image.open(path) as image:
            assert not image.getexif() and "xmp" not in image.info and "parameters" not in image.info
        data = Path(path).read_bytes()
        assert b"red fox" not in data and b"Studio" not in data


def test_resize_and_lossless_webp(generated_png: Path, out: Path) -> None:
    request = ExportRequest(images=(str(generated_png),), out_dir=str(out), format="webp", lossless=True,
                            resize=128, watermark=False)
    result, _ = run(request)
    with Image.open(result.artifacts[0].path) as image, Image.open(generated_png) as src:
        assert image.size == (128, 96)
        expected = src.convert("RGB").resize((128, 96), Image.Resampling.LANCZOS)
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(expected))


def test_batch_reports_progress_and_cancel_keeps_only_whole_files(generated_png: Path, out: Path) -> None:
    images = tuple(str(generated_png) for _ in range(3))
    request = ExportRequest(images=images, out_dir=str(out), watermark=False, name_template="img-{n}")
    with pytest.raises(JobCancelled):
        run(request, cancel_after=1)
    assert files(out) == ["img-1.png"]  # no temp files, no half-written image
    _, steps = run(request.replace(conflict="rename"))
    assert [s for s, _ in steps] == [0, 1, 2, 3]
    assert files(out) == ["img-1-2.png", "img-1.png", "img-2.png", "img-3.png"]
    assert request_from_json(request.to_json()) == request


def test_missing_and_read_only_folders_are_refused(generated_png: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        run(ExportRequest(images=(str(generated_png),), out_dir=str(tmp_path / "nope")))
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        with pytest.raises(BadInput, match="read-only"):
            run(ExportRequest(images=(str(generated_png),), out_dir=str(locked)))
        assert files(locked) == []
    finally:
        os.chmod(locked, 0o755)


def test_name_escaping_the_folder_is_refused(generated_png: Path, out: Path) -> None:
    with pytest.raises(BadInput, match="outside"):
        run(ExportRequest(images=(str(generated_png),), out_dir=str(out), name_template="../{n}"))
    assert files(out) == [] and files(out.parent) == ["out", "src", "studio-home"]


def test_existing_file_is_never_overwritten(generated_png: Path, out: Path) -> None:
    (out / "1.png").write_bytes(b"precious")
    with pytest.raises(BadInput, match="already exists"):
        run(ExportRequest(images=(str(generated_png),), out_dir=str(out)))
    assert (out / "1.png").read_bytes() == b"precious" and files(out) == ["1.png"]


def test_corrupt_and_bomb_sources_are_refused_before_writing(generated_png: Path, tmp_path: Path, out: Path) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(generated_png.read_bytes()[:3000])
    bomb = bomb_png(tmp_path / "bomb.png")
    cases = [(garbage, "not an image"), (bomb, "too large"), (truncated, "damaged"),
             (tmp_path / "missing.png", "does not exist")]
    for bad, message in cases:
        with pytest.raises(BadInput, match=message):
            run(ExportRequest(images=(str(generated_png), str(bad)) if bad != truncated else (str(bad),),
                              out_dir=str(out)))
        assert files(out) == []  # nothing written, no temp file left


def test_c2pa_manifest_is_signed_offline_with_a_local_ca(generated_png: Path, tmp_path: Path, out: Path) -> None:
    pytest.importorskip("c2pa", reason="c2pa-python is not installed")
    pytest.importorskip("cryptography", reason="cryptography (test dependency) makes the test CA")
    from tests.export.certs import make_chain

    chain, key = make_chain()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    request = ExportRequest(images=(str(generated_png),), out_dir=str(out), format="jpeg",
                            c2pa_cert=str(tmp_path / "chain.pem"), c2pa_key=str(tmp_path / "key.pem"))
    result, _ = run(request)
    data = Path(result.artifacts[0].path).read_bytes()
    manifest = provenance.read_c2pa(data, "jpeg")
    assert manifest is not None and manifest["validation_state"] == "Valid"
    active = manifest["manifests"][manifest["active_manifest"]]
    actions = next(a for a in active["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["digitalSourceType"] == TRAINED
    found = provenance.read_provenance(result.artifacts[0].path)
    assert found["c2pa"] and found["digital_source_type"] == TRAINED and "Seed: 1234" in found["parameters"]
    with Image.open(io.BytesIO(data)) as image:
        assert watermark.detect(image).detected


def test_self_signed_leaf_is_refused_clearly(generated_png: Path, tmp_path: Path) -> None:
    pytest.importorskip("c2pa", reason="c2pa-python is not installed")
    pytest.importorskip("cryptography")
    from tests.export.certs import make_chain

    chain, _ = make_chain()
    ca_only = chain[chain.index(b"-----BEGIN CERTIFICATE-----", 10):]
    with pytest.raises(BadInput, match="C2PA"):
        provenance.sign_c2pa(generated_png.read_bytes(), "png", ca_only, b"not a key")


def test_plan_checks_everything_first(generated_png: Path, out: Path) -> None:
    planned = plan_export(ExportRequest(images=(str(generated_png),) * 2, out_dir=str(out), name_template="{n}"))
    assert [p.target.name for p in planned] == ["1.png", "2.png"] and files(out) == []
    with pytest.raises(BadInput, match="both"):
        plan_export(ExportRequest(images=(str(generated_png),) * 2, out_dir=str(out), name_template="same"))


def test_sideways_photo_is_upright_tiny_image_works_and_icc_is_kept(tmp_path: Path, out: Path) -> None:
    from PIL import ImageCms

    src = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (40, 20), (200, 50, 50)).save(src, exif=exif.tobytes(), icc_profile=icc)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (3, 2), (1, 2, 3)).save(tiny)
    run(ExportRequest(images=(str(src), str(tiny)), out_dir=str(out), name_template="{stem}"))
    with Image.open(out / "sideways.png") as image:
        assert image.size == (20, 40) and image.info.get("icc_profile") == icc
    with Image.open(out / "tiny.png") as image:
        assert image.size == (3, 2)


def test_bad_c2pa_key_fails_before_any_file(generated_png: Path, tmp_path: Path, out: Path) -> None:
    pytest.importorskip("c2pa", reason="c2pa-python is not installed")
    pytest.importorskip("cryptography")
    from tests.export.certs import make_chain

    chain, _ = make_chain()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(make_chain()[1])  # a key that does not match the certificate
    request = ExportRequest(images=(str(generated_png),) * 2, out_dir=str(out),
                            c2pa_cert=str(tmp_path / "chain.pem"), c2pa_key=str(tmp_path / "key.pem"))
    with pytest.raises(BadInput, match="C2PA"):
        run(request)
    assert files(out) == []
