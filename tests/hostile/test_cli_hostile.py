"""Bad input on the command line, as a hostile user types it: every case exits 2 with exactly one line
on stderr, no traceback, and nothing written or lost (the output folder, the hostile files themselves,
special files included, and the gallery are unchanged). In-process through ``studio.cli.main.main``;
none of these cases loads a model."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.hostile.conftest import assert_refused, gallery_images, run_main, snapshot

NOT_UTF8 = os.fsdecode(b"a red \xff cat")  # what Python makes of bytes that are not UTF-8 in argv
G = ["generate", "--model", "demo", "--prompt", "a cat", "--out", "@out"]
T = ["text", "--model", "demo-text", "--prompt", "Once"]
E = ["export", "@good_png", "--out", "@outdir"]
R = ["regenerate"]


def gen(*extra: str) -> list[str]:
    return [*G, *extra]


def text(*extra: str) -> list[str]:
    return [*T, *extra]


def export(*extra: str) -> list[str]:
    return [*E, *extra]


CASES: list[tuple[str, list[str], str]] = [
    # -- the command line itself
    ("unknown-command", ["paint-my-house"], "invalid choice"),
    ("unknown-top-flag", ["--bogus"], "unrecognized arguments"),
    ("generate-no-model", ["generate", "--prompt", "p", "--out", "@out"], "--model"),
    ("generate-no-out", ["generate", "--model", "demo", "--prompt", "p"], "--out"),
    ("generate-unknown-flag", gen("--colour", "red"), "unrecognized arguments"),
    # -- generation numbers: ints are ints, floats finite, all in range
    ("steps-fraction", gen("--steps", "2.5"), "invalid int value"),
    ("steps-word", gen("--steps", "many"), "invalid int value"),
    ("steps-zero", gen("--steps", "0"), "Steps must be between 1 and 1000"),
    ("steps-negative", gen("--steps", "-3"), "Steps must be between"),
    ("steps-too-many", gen("--steps", "1001"), "Steps must be between"),
    ("steps-nan", gen("--steps", "nan"), "invalid int value"),
    ("guidance-nan", gen("--guidance", "nan"), "Guidance must be a finite number"),
    ("guidance-inf", gen("--guidance", "inf"), "Guidance must be a finite number"),
    ("guidance-minus-inf", gen("--guidance=-inf"), "Guidance must be a finite number"),
    ("guidance-overflow", gen("--guidance", "1e309"), "Guidance must be a finite number"),
    ("guidance-negative", gen("--guidance", "-1"), "Guidance must be between 0 and 50"),
    ("guidance-too-high", gen("--guidance", "51"), "Guidance must be between 0 and 50"),
    ("guidance-word", gen("--guidance", "high"), "invalid float value"),
    ("width-13", gen("--width", "13"), "width 13 is not a usable image size"),
    ("width-0", gen("--width", "0"), "width 0"),
    ("width-negative", gen("--width", "-8"), "width -8"),
    ("width-8192", gen("--width", "8192"), "width 8192"),
    ("width-float-text", gen("--width", "64.0"), "invalid int value"),
    ("height-13", gen("--height", "13"), "height 13"),
    ("height-huge", gen("--height", "999999999999"), "height 999999999999"),
    ("batch-0", gen("--batch", "0"), "Batch must be between 1 and 64"),
    ("batch-65", gen("--batch", "65"), "Batch must be between 1 and 64"),
    ("seed-negative", gen("--seed", "-1"), "Seed must be between 0 and 4294967295"),
    ("seed-too-big", gen("--seed", "4294967296"), "Seed must be between"),
    ("seed-word", gen("--seed", "lucky"), "invalid int value"),
    ("strength-nan", gen("--init-image", "@good_png", "--strength", "nan"), "Strength must be a finite number"),
    ("strength-inf", gen("--init-image", "@good_png", "--strength", "inf"), "Strength must be a finite number"),
    ("strength-zero", gen("--init-image", "@good_png", "--strength", "0"), "Strength must be between 0.01 and 1"),
    ("strength-too-high", gen("--init-image", "@good_png", "--strength", "1.5"), "Strength must be between"),
    ("scheduler-unknown", gen("--scheduler", "Warp"), "Unknown scheduler 'Warp'"),
    ("scheduler-empty", gen("--scheduler", ""), "Unknown scheduler ''"),
    ("backend-unknown", gen("--backend", "tpu"), "invalid choice"),
    ("device-unknown", gen("--device", "tpu"), "invalid choice"),
    # -- generation text
    ("prompt-not-utf8", ["generate", "--model", "demo", "--prompt", NOT_UTF8, "--out", "@out"],
     "Prompt holds bytes that are not UTF-8"),
    ("negative-not-utf8", gen("--negative-prompt", NOT_UTF8), "Negative prompt holds bytes that are not UTF-8"),
    ("init-nul", gen("--init-image", "a\x00b.png"), "path holds a NUL character"),
    ("out-nul", ["generate", "--model", "demo", "--prompt", "p", "--out", "a\x00b.png"], "holds a NUL character"),
    ("prompt-ten-million", ["generate", "--model", "demo", "--prompt", "x" * 10_000_001, "--out", "@out"],
     "Prompt is too long"),
    ("model-empty", ["generate", "--model", "", "--prompt", "p", "--out", "@out"], "No model chosen"),
    ("model-missing-path", ["generate", "--model", "@missing", "--prompt", "p", "--out", "@out"], "no-such-file"),
    ("model-a-folder-of-notes", ["generate", "--model", "@folder", "--prompt", "p", "--out", "@out"],
     "not a model the studio recognises"),
    ("model-a-fifo", ["generate", "--model", "@fifo", "--prompt", "p", "--out", "@out"], "not a model"),
    ("model-garbage-safetensors", ["generate", "--model", "@lora_garbage", "--prompt", "p", "--out", "@out"],
     "not a readable safetensors file"),
    ("export-fifo-image", ["export", "@fifo", "--out", "@outdir"], "is a FIFO, expected a file"),
    ("export-out-fifo", ["export", "@good_png", "--out", "@fifo"], "is a FIFO, expected a folder"),
    ("model-a-text-file", ["generate", "--model", "@text_file", "--prompt", "p", "--out", "@out"], "story.txt"),
    ("model-text-for-image", ["generate", "--model", "demo-text", "--prompt", "p", "--out", "@out"],
     "'demo-text' cannot do txt2img"),
    ("model-text-for-img2img", ["generate", "--model", "demo-text", "--prompt", "p", "--init-image", "@good_png",
                                "--out", "@out"], "cannot do img2img"),
    # -- init images and masks: the right kind, an image, not too large (header only)
    ("init-missing", gen("--init-image", "@missing"), "does not exist"),
    ("init-folder", gen("--init-image", "@folder"), "is a folder, expected a file"),
    ("init-fifo", gen("--init-image", "@fifo"), "is a FIFO, expected a file"),
    ("init-socket", gen("--init-image", "@socket"), "is a socket, expected a file"),
    ("init-device", gen("--init-image", "@device"), "is a device, expected a file"),
    ("init-dangling-link", gen("--init-image", "@dangling"), "does not exist"),
    ("init-text", gen("--init-image", "@text_as_png"), "not an image the studio can read"),
    ("init-empty", gen("--init-image", "@empty"), "not an image the studio can read"),
    ("init-30000px", gen("--init-image", "@huge_30000"), "too large to open safely"),
    ("init-12000px", gen("--init-image", "@huge_12000"), "too large to open safely"),
    ("init-not-utf8-path", gen("--init-image", NOT_UTF8), "does not exist"),
    ("mask-without-init", gen("--mask", "@good_png"), "A mask needs an init image"),
    ("mask-missing", gen("--init-image", "@good_png", "--mask", "@missing"), "The mask"),
    ("mask-folder", gen("--init-image", "@good_png", "--mask", "@folder"), "is a folder, expected a file"),
    ("mask-text", gen("--init-image", "@good_png", "--mask", "@text_as_png"), "The mask"),
    ("mask-30000px", gen("--init-image", "@good_png", "--mask", "@huge_30000"), "too large"),
    # -- LoRAs: a safetensors file, a finite weight
    ("lora-missing", gen("--lora", "@missing"), "The LoRA file"),
    ("lora-folder", gen("--lora", "@folder"), "is a folder, expected a file"),
    ("lora-fifo", gen("--lora", "@fifo"), "is a FIFO"),
    ("lora-pickle", gen("--lora", "@lora_pickle"), "not a .safetensors file"),
    ("lora-garbage", gen("--lora", "@lora_garbage"), "not a safetensors file"),
    ("lora-weight-nan", gen("--lora", "@lora_garbage:nan"), "LoRA weight must be a finite number"),
    ("lora-weight-inf", gen("--lora", "@lora_garbage:inf"), "LoRA weight must be a finite number"),
    ("lora-weight-huge", gen("--lora", "@lora_garbage:1e9"), "out of range"),
    # -- --out: a regular file or a new one; never through a special file; no silent overwrite
    ("out-folder", ["generate", "--model", "demo", "--prompt", "p", "--out", "@outdir"], "is a folder, expected"),
    ("out-device", ["generate", "--model", "demo", "--prompt", "p", "--out", "@device"], "is a device"),
    ("out-fifo", ["generate", "--model", "demo", "--prompt", "p", "--out", "@fifo"], "is a FIFO"),
    ("out-socket", ["generate", "--model", "demo", "--prompt", "p", "--out", "@socket"], "is a socket"),
    ("out-exists", ["generate", "--model", "demo", "--prompt", "p", "--out", "@existing"], "already exists"),
    ("out-batch-sibling-exists", ["generate", "--model", "demo", "--prompt", "p", "--batch", "2", "--out",
                                  "@sibling_base"], "already exists"),
    ("out-dangling-link", ["generate", "--model", "demo", "--prompt", "p", "--out", "@dangling"],
     "broken symbolic link"),
    ("out-folder-missing", ["generate", "--model", "demo", "--prompt", "p", "--out", "@missing_dir_out"],
     "does not exist"),
    ("out-folder-is-a-file", ["generate", "--model", "demo", "--prompt", "p", "--out", "@a_file_as_folder"],
     "is a file, expected a folder"),
    ("out-not-utf8", ["generate", "--model", "demo", "--prompt", "p", "--out", NOT_UTF8 + ".png"], "not UTF-8"),
    # -- info and regenerate: damaged studio records are one clear line
    ("info-missing", ["info", "@missing"], "does not exist"),
    ("info-folder", ["info", "@folder"], "is a folder, expected a file"),
    ("info-fifo", ["info", "@fifo"], "is a FIFO"),
    ("info-device", ["info", "@device"], "is a device"),
    ("info-text", ["info", "@text_as_png"], "not an image the studio can read"),
    ("info-empty", ["info", "@empty"], "not an image the studio can read"),
    ("info-chunk-bad-json", ["info", "@chunk_bad_json"], "damaged (not valid JSON)"),
    ("info-chunk-list", ["info", "@chunk_list"], "a list, not an object"),
    ("info-chunk-string", ["info", "@chunk_string"], "a str, not an object"),
    ("info-chunk-deep", ["info", "@chunk_deep"], "not valid JSON"),
    ("regen-missing", [*R, "@missing", "--out", "@out"], "does not exist"),
    ("regen-folder", [*R, "@folder", "--out", "@out"], "is a folder"),
    ("regen-text", [*R, "@text_as_png", "--out", "@out"], "not an image"),
    ("regen-no-record", [*R, "@no_record", "--out", "@out"], "no studio generation record"),
    ("regen-a1111-only", [*R, "@a1111_only", "--out", "@out"], "no studio generation record"),
    ("regen-chunk-bad-json", [*R, "@chunk_bad_json", "--out", "@out"], "not valid JSON"),
    ("regen-chunk-list", [*R, "@chunk_list", "--out", "@out"], "not an object"),
    ("regen-chunk-string", [*R, "@chunk_string", "--out", "@out"], "not an object"),
    ("regen-chunk-deep", [*R, "@chunk_deep", "--out", "@out"], "not valid JSON"),
    ("regen-width-text", [*R, "@chunk_width_text", "--out", "@out"], "Width must be a whole number"),
    ("regen-steps-fraction", [*R, "@chunk_steps_float", "--out", "@out"], "Steps must be a whole number"),
    ("regen-guidance-nan", [*R, "@chunk_guidance_nan", "--out", "@out"], "Guidance must be a finite number"),
    ("regen-seed-huge", [*R, "@chunk_seed_huge", "--out", "@out"], "Seed must be between"),
    ("regen-kind-text", [*R, "@chunk_kind_text", "--out", "@out"], "not made by an image generation"),
    ("regen-kind-unknown", [*R, "@chunk_kind_unknown", "--out", "@out"], "Unknown request kind 'paint'"),
    ("regen-schema-future", [*R, "@chunk_schema_future", "--out", "@out"], "newer studio"),
    ("regen-unknown-field", [*R, "@chunk_unknown_field", "--out", "@out"], "Unknown field(s)"),
    ("regen-request-list", [*R, "@chunk_request_list", "--out", "@out"], "holds no request"),
    ("regen-no-request", [*R, "@chunk_no_request", "--out", "@out"], "holds no request"),
    ("regen-loras-text", [*R, "@chunk_loras_text", "--out", "@out"], "loras must be a list"),
    ("regen-loras-numbers", [*R, "@chunk_loras_numbers", "--out", "@out"], "Malformed generate request"),
    ("regen-model-nul", [*R, "@chunk_model_nul", "--out", "@out"], "Model holds a NUL character"),
    ("regen-scheduler", [*R, "@chunk_scheduler", "--out", "@out"], "Unknown scheduler"),
    ("regen-out-exists", [*R, "@good_record", "--out", "@existing"], "already exists"),
    ("regen-out-fifo", [*R, "@good_record", "--out", "@fifo"], "is a FIFO"),
    ("regen-out-device", [*R, "@good_record", "--out", "@device"], "is a device"),
    # -- text generation
    ("text-image-model", ["text", "--model", "demo", "--prompt", "Once"], "'demo' cannot do text"),
    ("text-no-prompt", ["text", "--model", "demo-text"], "No prompt given"),
    ("text-empty-prompt", ["text", "--model", "demo-text", "--prompt", "   "], "The prompt is empty"),
    ("text-prompt-not-utf8", ["text", "--model", "demo-text", "--prompt", NOT_UTF8], "not UTF-8"),
    ("text-instruction-not-utf8", text("--instruction", NOT_UTF8), "Instruction holds bytes that are not UTF-8"),
    ("text-temperature-nan", text("--temperature", "nan"), "Temperature must be a finite number"),
    ("text-temperature-inf", text("--temperature", "inf"), "Temperature must be a finite number"),
    ("text-temperature-negative", text("--temperature", "-1"), "Temperature cannot be negative"),
    ("text-temperature-huge", text("--temperature", "1000"), "at most 100"),
    ("text-top-p-zero", text("--top-p", "0"), "top-p must be above 0"),
    ("text-top-p-nan", text("--top-p", "nan"), "Top p must be a finite number"),
    ("text-top-p-above-1", text("--top-p", "1.5"), "top-p must be above 0 and at most 1"),
    ("text-top-k-negative", text("--top-k", "-1"), "top-k cannot be negative"),
    ("text-top-k-fraction", text("--top-k", "2.5"), "invalid int value"),
    ("text-repetition-nan", text("--repetition-penalty", "nan"), "Repetition penalty must be a finite number"),
    ("text-repetition-inf", text("--repetition-penalty", "inf"), "Repetition penalty must be a finite number"),
    ("text-repetition-zero", text("--repetition-penalty", "0"), "must be positive"),
    ("text-watermark-bias-nan", text("--watermark", "--watermark-bias", "nan"), "Watermark bias must be a finite"),
    ("text-watermark-bias-inf", text("--watermark-bias", "inf"), "Watermark bias must be a finite"),
    ("text-watermark-bias-negative", text("--watermark-bias", "-1"), "watermark bias must be between 0 and 100"),
    ("text-watermark-ratio-zero", text("--watermark-ratio", "0"), "green-list ratio must be between 0 and 1"),
    ("text-watermark-ratio-nan", text("--watermark-ratio", "nan"), "Watermark ratio must be a finite"),
    ("text-watermark-key-negative", text("--watermark-key", "-1"), "watermark key must be between"),
    ("text-max-tokens-zero", text("--max-new-tokens", "0"), "max_new_tokens must be between 1 and 32768"),
    ("text-max-tokens-huge", text("--max-new-tokens", "40000"), "max_new_tokens must be between"),
    ("text-seed-negative", text("--seed", "-5"), "Seed must be between"),
    ("text-preset-unknown", text("--preset", "Nope"), "no text preset"),
    ("text-backend-unknown", text("--backend", "tpu"), "invalid choice"),
    ("text-out-folder", text("--out", "@outdir"), "is a folder, expected a file"),
    ("text-out-fifo", text("--out", "@fifo"), "is a FIFO"),
    ("text-out-device", text("--out", "@device"), "is a device"),
    ("text-out-exists", text("--out", "@existing"), "already exists"),
    ("text-out-folder-missing", text("--out", "@missing_dir_out"), "does not exist"),
    ("text-unknown-action", ["text", "paint", "--model", "demo-text"], "Unknown text command 'paint'"),
    ("detect-two-files", ["text", "detect", "@text_file", "@text_file", "--model", "demo-text"], "exactly one FILE"),
    ("detect-missing", ["text", "detect", "@missing", "--model", "demo-text"], "does not exist"),
    ("detect-folder", ["text", "detect", "@folder", "--model", "demo-text"], "is a folder, expected a file"),
    ("detect-fifo", ["text", "detect", "@fifo", "--model", "demo-text"], "is a FIFO"),
    ("detect-latin1", ["text", "detect", "@latin1_file", "--model", "demo-text"], "could not be read as UTF-8"),
    ("detect-blank", ["text", "detect", "@empty_text", "--model", "demo-text"], "no text to check"),
    ("detect-threshold-nan", ["text", "detect", "@text_file", "--model", "demo-text", "--threshold", "nan"],
     "Detect threshold must be a finite number"),
    ("detect-image-model", ["text", "detect", "@text_file", "--model", "demo"], "cannot do text"),
    # -- export and watermark detect
    ("export-missing-image", ["export", "@missing", "--out", "@outdir"], "does not exist"),
    ("export-folder-image", ["export", "@folder", "--out", "@outdir"], "is a folder, expected a file"),
    ("export-text-image", ["export", "@text_as_png", "--out", "@outdir"], "not an image the studio can read"),
    ("export-30000px", ["export", "@huge_30000", "--out", "@outdir"], "too large to open safely"),
    ("export-12000px", ["export", "@huge_12000", "--out", "@outdir"], "too large to open safely"),
    ("export-out-missing", ["export", "@good_png", "--out", "@missing_dir"], "does not exist"),
    ("export-out-a-file", ["export", "@good_png", "--out", "@text_file"], "is a file, expected a folder"),
    ("export-name-huge-width", export("--name", "{n:>300000000}"), "too wide"),
    ("export-name-nested", export("--name", "{n:{n}}"), "too wide"),
    ("export-name-parent", export("--name", "../{n}"), "outside the export folder"),
    ("export-name-absolute", export("--name", "/etc/{n}"), "outside the export folder"),
    ("export-name-unknown", export("--name", "{colour}"), "Unknown placeholder"),
    ("export-name-empty", export("--name", ""), "template is empty"),
    ("export-name-unbalanced", export("--name", "{n"), "malformed"),
    ("export-quality-zero", export("--quality", "0"), "Quality must be between 1 and 100"),
    ("export-quality-high", export("--quality", "101"), "Quality must be between 1 and 100"),
    ("export-opacity-nan", export("--visible-text", "x", "--opacity", "nan"), "Visible opacity must be a finite"),
    ("export-opacity-high", export("--visible-text", "x", "--opacity", "2"), "Opacity must be between 0 and 1"),
    ("export-scale-zero", export("--visible-text", "x", "--scale", "0"), "Scale must be above 0"),
    ("export-scale-inf", export("--visible-text", "x", "--scale", "inf"), "Visible scale must be a finite number"),
    ("export-margin-high", export("--visible-text", "x", "--margin", "0.6"), "Margin must be between 0 and 0.5"),
    ("export-resize-negative", export("--resize", "-1"), "Resize must be"),
    ("export-owner-high", export("--owner", "70000"), "owner id must be between 0 and 65535"),
    ("export-format-gif", export("--format", "gif"), "invalid choice"),
    ("export-visible-image-missing", export("--visible-image", "@missing"), "does not exist"),
    ("export-text-not-utf8", export("--visible-text", NOT_UTF8), "not UTF-8"),
    ("watermark-detect-missing", ["watermark", "detect", "@missing"], "does not exist"),
    ("watermark-detect-folder", ["watermark", "detect", "@folder"], "is a folder, expected a file"),
    ("watermark-detect-text", ["watermark", "detect", "@text_as_png"], "not an image"),
    ("watermark-detect-30000px", ["watermark", "detect", "@huge_30000"], "too large"),
    ("watermark-no-subcommand", ["watermark"], "required"),
    # -- plugins, models, train
    ("plugins-trust-unknown", ["plugins", "trust", "no-such-plugin"], "No plugin 'no-such-plugin' is installed"),
    ("plugins-enable-unknown", ["plugins", "enable", "no-such-plugin"], "No plugin 'no-such-plugin'"),
    ("plugins-disable-unknown", ["plugins", "disable", "no-such-plugin"], "No plugin 'no-such-plugin'"),
    ("plugins-no-subcommand", ["plugins"], "required"),
    ("plugins-unknown-subcommand", ["plugins", "burn"], "invalid choice"),
    ("models-no-subcommand", ["models"], "required"),
    ("models-list-bad-flag", ["models", "list", "--xml"], "unrecognized arguments"),
    ("train-unknown-recipe", ["train", "no-such-recipe"], "No enabled plugin trains 'no-such-recipe'"),
    ("train-steps-zero", ["train", "demo-text", "--steps", "0"], "Steps must be at least 1"),
    ("train-steps-fraction", ["train", "demo-text", "--steps", "2.5"], "invalid int value"),
    ("train-lr-nan", ["train", "demo-text", "--lr", "nan"], "Learning rate must be a finite number"),
    ("train-lr-inf", ["train", "demo-text", "--lr", "inf"], "Learning rate must be a finite number"),
    ("train-batch-zero", ["train", "demo-image", "--batch-size", "0"], "batch size must be between 1 and"),
    ("train-seed-negative", ["train", "demo-text", "--seed", "-1"], "Seed must be between 0 and"),
    # -- the job queue
    ("jobs-no-subcommand", ["jobs"], "required"),
    ("jobs-requeue-unknown", ["jobs", "requeue", "99"], "There is no job 99"),
    ("jobs-requeue-word", ["jobs", "requeue", "abc"], "whole number"),
    ("jobs-cancel-negative", ["jobs", "cancel", "-1"], "positive number"),
    ("jobs-cancel-unknown", ["jobs", "cancel", "99"], "There is no job 99"),
    ("jobs-prune-nan", ["jobs", "prune", "--older-than", "nan"], "days must be between 0 and"),
    ("jobs-prune-negative", ["jobs", "prune", "--older-than", "-1"], "days must be between 0 and"),
    ("jobs-prune-no-age", ["jobs", "prune"], "--older-than"),
    ("jobs-list-unknown-state", ["jobs", "list", "--state", "sleeping"], "Unknown job state"),
]

SPECIAL = ("fifo", "socket", "device")


@pytest.fixture()
def places(bad_files: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``@name`` → a path: the hostile files, and a fresh output folder for this case."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "existing.png").write_bytes(b"the user's own picture")
    (outdir / "pair-1.png").write_bytes(b"the second of an older pair")
    from tests.hostile.conftest import png_with_text, studio_record

    record = png_with_text(tmp_path / "record.png", studio=studio_record())
    return {**bad_files, "out": str(outdir / "new.png"), "outdir": str(outdir),
            "existing": str(outdir / "existing.png"), "sibling_base": str(outdir / "pair.png"),
            "missing_dir": str(tmp_path / "no-such-folder"),
            "missing_dir_out": str(tmp_path / "no-such-folder" / "a.png"),
            "good_record": str(record)}


def _kinds(paths: dict[str, str]) -> dict[str, int]:
    return {name: stat.S_IFMT(os.lstat(paths[name]).st_mode) for name in SPECIAL}


def _expand(argv: list[str], places: dict[str, str]) -> list[str]:
    out = []
    for arg in argv:
        name, sep, weight = arg.partition(":") if arg.startswith("@") else (arg, "", "")
        if name.startswith("@"):
            arg = places[name[1:]] + sep + weight
        out.append(arg)
    return out


@pytest.mark.parametrize(("argv", "expect"), [pytest.param(a, e, id=i) for i, a, e in CASES])
def test_bad_input_is_one_line_and_exit_2(argv, expect, places, studio_home, capsys) -> None:
    outdir, files_root = Path(places["outdir"]), Path(places["folder"]).parent
    before = snapshot(outdir, files_root)
    kinds = _kinds(places)
    outcome = run_main(_expand(argv, places), capsys)
    assert_refused(outcome, expect)
    assert snapshot(outdir, files_root) == before, "a file was written, changed or removed"
    assert _kinds(places) == kinds, "a special file was replaced"
    assert gallery_images(studio_home) == []


def test_the_table_is_large_and_its_names_unique() -> None:
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names))
    assert len(names) >= 150
