"""`studio train lora` on a tiny real SD 1.x folder: the file it writes, its formats, resume after a
SIGKILL, two processes under ``accelerate launch``, bad input and the SDXL path. No mocks: the models
are tiny real diffusers/transformers ones (tests/fixtures/models.py), the data are drawn stars."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli.main import main
from studio.jobs import JobQueue, JobState
from tests.fixtures.stars import write_star_folder
from tests.plugin_helpers import identify

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
#: fast flags: a handful of steps, no prior pictures (they take base-model generations), no samples
FAST = ["--steps", "6", "--no-prior", "--sample-every", "0", "--seed", "1"]


@pytest.fixture(scope="module")
def stars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_star_folder(tmp_path_factory.mktemp("data") / "stars", 6)


def train(capsys, model, data, out, *flags) -> tuple[int, str, str]:
    rc = main(["train", "lora", "--model", str(model), "--data", str(data), "--out", str(out), *flags])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def picture(folder, lora=None, prompt="a red star on the left", steps=4) -> np.ndarray:
    """What bare diffusers draws (float pixels 0..1), with ``lora`` loaded if given."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    if lora is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. peft's RuntimeWarning about an inconsistent config
            pipe.load_lora_weights(str(lora))
    generator = torch.Generator().manual_seed(0)
    return pipe(prompt, num_inference_steps=steps, generator=generator, output_type="np").images[0]


def header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return handle.metadata()


def tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


# --------------------------------------------------------------------------------- the file
def test_lora_file_loads_in_bare_diffusers_and_in_a_studio_job(capsys, tiny_sd_folder, stars, tmp_path,
                                                               studio_home):
    out = tmp_path / "stars.safetensors"
    rc, stdout, err = train(capsys, tiny_sd_folder, stars, out, *FAST, "--lr", "1e-2")
    assert rc == 0, err
    assert json.loads(stdout)["lora"] == str(out)
    assert out.is_file()

    base = picture(tiny_sd_folder)
    with_lora = picture(tiny_sd_folder, out)  # warnings are errors inside
    assert np.abs(with_lora - base).max() > 10 / 255  # the LoRA changes the picture

    meta = header(out)
    from studio.plugins import model_hash

    assert meta["ss_network_dim"] == "16" and meta["ss_network_alpha"] == "16"
    assert meta["ss_num_train_images"] == "6" and meta["ss_max_train_steps"] == "6"
    assert meta["ss_sd_model_name"] == Path(tiny_sd_folder).name and meta["ss_seed"] == "1"
    studio = json.loads(meta["studio"])
    unet_weights = next(Path(tiny_sd_folder, "unet").glob("*.safetensors"))  # a folder: its UNet file's hash
    assert studio["base_model_hash"] and studio["base_model_hash"] == model_hash(unet_weights)
    assert meta["ss_new_sd_model_hash"] == studio["base_model_hash"]
    assert studio["request"]["recipe"] == "lora" and studio["request"]["steps"] == 6

    entry = identify(out)
    assert entry is not None and entry.kind == "lora" and entry.details["format"] == "diffusers"

    from studio.core.requests import GenerationRequest, LoraRef
    from studio.session import StudioSession

    session = StudioSession()
    try:
        plain = GenerationRequest(model=str(tiny_sd_folder), prompt="a red star on the left", width=64,
                                  height=64, steps=4, seed=3)
        jobs = [session.runner.run_now(plain),
                session.runner.run_now(plain.replace(loras=(LoraRef(str(out), 1.0),)))]
    finally:
        session.close()
    assert [j.state for j in jobs] == [JobState.DONE, JobState.DONE], [j.error for j in jobs]
    from PIL import Image

    a, b = (np.asarray(Image.open(j.result.artifacts[0].path).convert("RGB")).astype(int) for j in jobs)
    assert np.abs(a - b).max() > 10


def test_the_text_encoder_learns_at_its_own_rate(capsys, tiny_sd_folder, stars, tmp_path, studio_home):
    """--text-encoder-lr sets the text encoder adapters' rate apart from the UNet's (kohya's
    text_encoder_lr): at a rate near zero they stay at their start (lora_B is zeros) while the UNet's
    move; the header says both rates."""
    out = tmp_path / "slow-text.safetensors"
    rc, _stdout, err = train(capsys, tiny_sd_folder, stars, out, *FAST, "--lr", "1e-2", "--train-text-encoder",
                             "--text-encoder-lr", "1e-12")
    assert rc == 0, err
    weights = tensors(out)
    text_b = [v for k, v in weights.items() if k.startswith("text_encoder") and "lora_B" in k]
    unet_b = [v for k, v in weights.items() if k.startswith("unet") and "lora_B" in k]
    assert text_b and unet_b
    assert max(float(v.abs().max()) for v in text_b) < 1e-6
    assert max(float(v.abs().max()) for v in unet_b) > 1e-4
    meta = header(out)
    assert (meta["ss_unet_lr"], meta["ss_text_encoder_lr"]) == ("0.01", "1e-12")


def test_kohya_export_draws_the_same_picture_as_the_diffusers_file(capsys, tiny_sd_folder, stars, tmp_path):
    """Two runs with the same seed (the recipe is deterministic on a CPU): one saved in each format.
    The text encoder trains too (the star captions hold words the tiny tokenizer splits)."""
    peft_file, kohya_file = tmp_path / "peft.safetensors", tmp_path / "kohya.safetensors"
    for out, fmt in ((peft_file, "diffusers"), (kohya_file, "kohya")):
        rc, _out, err = train(capsys, tiny_sd_folder, stars, out, *FAST, "--lr", "1e-2", "--format", fmt)
        assert rc == 0, err
    names = list(tensors(kohya_file))
    assert any(n.startswith("lora_unet_") for n in names)
    # kohya / A1111 name the CLIP layers from text_model (transformers 5's CLIPTextModel lacks that level)
    te = [n for n in names if n.startswith("lora_te")]
    assert te and all(n.startswith("lora_te_text_model_encoder_layers_") for n in te)
    assert identify(kohya_file).details["format"] == "kohya"

    base = picture(tiny_sd_folder)
    from_peft, from_kohya = picture(tiny_sd_folder, peft_file), picture(tiny_sd_folder, kohya_file)
    assert np.abs(from_peft - base).max() > 10 / 255
    assert np.abs(from_kohya - from_peft).max() <= 1 / 255  # measured: 0.0 (identical pictures)


# ----------------------------------------------------------------------- SIGKILL and resume
def _command(model, data, out, *flags) -> list[str]:
    return [PYTHON, "-m", "studio.cli.main", "train", "lora", "--model", str(model), "--data", str(data),
            "--out", str(out), *flags]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def test_sigkilled_run_resumes_at_its_checkpoint_and_ends_like_an_uninterrupted_one(tiny_sd_folder, stars,
                                                                                    tmp_path, studio_home):
    # samples every step only slow the run down (they fork the RNG): time to kill it between checkpoints
    flags = ["--steps", "12", "--checkpoint-every", "4", "--no-prior", "--seed", "3", "--lr", "1e-2",
             "--sample-every", "1"]
    out, run_dir = tmp_path / "killed.safetensors", tmp_path / "run-killed"
    command = _command(tiny_sd_folder, stars, out, *flags, "--run-dir", str(run_dir))
    process = subprocess.Popen(command, env=_env(studio_home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        checkpoint = run_dir / "checkpoints" / "step-00000008" / "trainer_state.json"
        deadline = time.monotonic() + 120
        while not checkpoint.is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(30)
    assert not out.exists()
    queue = JobQueue(studio_home / "queue.sqlite")
    try:
        assert [j.state for j in queue.jobs()] == [JobState.INTERRUPTED]
    finally:
        queue.close()

    again = subprocess.run(command, env=_env(studio_home), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "Resumed from the checkpoint at step 8" in again.stderr
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    resume = [i for i, e in enumerate(events) if e["event"] == "resume"]
    assert len(resume) == 1 and events[resume[0]]["step"] == 8
    after = events[resume[0] + 1:]
    assert not [e for e in after if e["event"] == "start"]
    assert [e["step"] for e in after if e["event"] == "sample"] == [9, 10, 11, 12]  # no restart at 1
    assert [e["step"] for e in events if e["event"] == "step"] == [10, 12]  # logged every 10 and at the end
    assert events[-1] == {**events[-1], "event": "done", "step": 12}

    whole, whole_dir = tmp_path / "whole.safetensors", tmp_path / "run-whole"
    done = subprocess.run(_command(tiny_sd_folder, stars, whole, *flags, "--run-dir", str(whole_dir)),
                          env=_env(studio_home), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed, uninterrupted = tensors(out), tensors(whole)
    assert resumed.keys() == uninterrupted.keys()
    diff = max((resumed[k] - uninterrupted[k]).abs().max().item() for k in resumed)
    assert diff <= 1e-6, diff  # measured: 0.0 (bit-identical on this CPU)


# ------------------------------------------------------------------- two processes (gloo)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_accelerate_launch_matches_one_process_with_the_same_effective_batch(
        tiny_sd_folder, stars, tmp_path, studio_home):
    """``accelerate launch --cpu --num_processes 2`` starts one process unless mpirun is used, so the
    two processes come from ``--multi_gpu`` (torch.distributed.run); on a machine without CUDA the
    engine's Accelerator then takes the CPU and gloo. 2 ranks × batch 2 vs 1 process × batch 4."""
    # Plain MSE (--snr-gamma 0): min-SNR weights span 0..1 per item and make 10-step windows of 4 items
    # too noisy to compare two runs this short; the claim is about the processes, not the weighting.
    flags = ["--steps", "40", "--no-prior", "--snr-gamma", "0", "--seed", "1", "--lr", "1e-3", "--sample-every", "0",
             "--checkpoint-every", "20"]
    two, one = tmp_path / "two.safetensors", tmp_path / "one.safetensors"
    launch = [PYTHON, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(_free_port()), "-m", "studio.cli.main", "train", "lora",
              "--model", str(tiny_sd_folder), "--data", str(stars), "--out", str(two), "--batch-size", "2", *flags]
    ran = subprocess.run(launch, env=_env(studio_home), capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.count('"job"') == 1  # one JSON result: rank 0's
    assert ran.stderr.count("Saved the LoRA") == 1
    queue = JobQueue(studio_home / "queue.sqlite")
    try:
        jobs = queue.jobs()
    finally:
        queue.close()
    assert [j.state for j in jobs] == [JobState.DONE]  # rank 1 added no job
    run_two = studio_home / "runs" / "lora-two"
    events = [json.loads(line) for line in (run_two / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "step"] == [10, 20, 30, 40]  # written once, by rank 0
    assert next(e["epoch"] for e in events if e["event"] == "step") == pytest.approx(10 * 4 / 6)
    assert [p.name for p in sorted((run_two / "checkpoints").iterdir())] == ["step-00000020", "step-00000040"]
    assert two.is_file()

    single = subprocess.run(_command(tiny_sd_folder, stars, one, "--batch-size", "4", *flags),
                            env=_env(studio_home), capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    curve_two = [e["loss"] for e in events if e["event"] == "step"]
    curve_one = [e["loss"] for e in (json.loads(line) for line in
                                     (studio_home / "runs" / "lora-one" / "metrics.jsonl").read_text().splitlines())
                 if e["event"] == "step"]
    # The same items make each step (accelerate hands rank r every other batch of 2 of the sampler's
    # stream); only the noise and timesteps differ, so the 10-step mean losses agree within noise.
    # Measured on 60 steps: largest difference of a window 1.9 %, means 1.118 vs 1.123.
    assert len(curve_two) == len(curve_one) == 4
    relative = [abs(a - b) / b for a, b in zip(curve_two, curve_one, strict=True)]
    assert max(relative) < 0.05, (curve_two, curve_one)
    assert abs(np.mean(curve_two) - np.mean(curve_one)) / np.mean(curve_one) < 0.02, (curve_two, curve_one)


# ------------------------------------------------------------------------------ bad input
def _onnx_folder(root: Path) -> Path:
    """An ONNX export of a pipeline, as optimum/diffusers write it (model_index.json + model.onnx files)."""
    root.mkdir()
    (root / "model_index.json").write_text(json.dumps({"_class_name": "OnnxStableDiffusionPipeline",
                                                       "unet": ["diffusers", "OnnxRuntimeModel"]}))
    (root / "unet").mkdir()
    (root / "unet" / "model.onnx").write_bytes(b"\x08\x07onnx")
    return root


def _bad_data(kind: str, tmp_path: Path) -> Path:
    folder = tmp_path / kind
    if kind == "missing":
        return folder
    folder.mkdir()
    if kind == "non-images":
        (folder / "notes.csv").write_text("a,b\n")
        (folder / "weights.bin").write_bytes(os.urandom(64))
    elif kind == "captions-only":
        for i in range(3):
            (folder / f"star-{i}.txt").write_text("a red star")
    return folder


@pytest.mark.parametrize("kind, words", [("empty", "no images"), ("missing", "does not exist"),
                                         ("non-images", "no images"), ("captions-only", "captions without images")])
def test_bad_data_folder_is_one_clear_line_and_writes_nothing(kind, words, capsys, tiny_sd_folder, tmp_path,
                                                              studio_home):
    out = tmp_path / "out.safetensors"
    rc, _out, err = train(capsys, tiny_sd_folder, _bad_data(kind, tmp_path), out, *FAST)
    assert rc == 2
    assert err.startswith("studio: error:") and words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not (studio_home / "runs").exists()


@pytest.mark.parametrize("kind", ["pickle", "onnx", "unknown"])
def test_a_base_model_that_cannot_be_trained_is_refused(kind, capsys, stars, tmp_path, studio_home):
    if kind == "pickle":
        model = tmp_path / "old.ckpt"
        torch.save({"state_dict": {"model.diffusion_model.x": torch.zeros(2)}}, model)
    elif kind == "onnx":
        model = _onnx_folder(tmp_path / "onnx-export")
    else:
        model = "no-such-model"
    out = tmp_path / "out.safetensors"
    rc, _out, err = train(capsys, model, stars, out, *FAST)
    assert rc == 2, err
    assert err.startswith("studio: error:") and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not (studio_home / "runs").exists()


def test_read_only_output_folder_is_refused_before_any_work(capsys, tiny_sd_folder, stars, tmp_path, studio_home):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: a read-only folder stays writable")
        rc, _out, err = train(capsys, tiny_sd_folder, stars, folder / "out.safetensors", *FAST)
    finally:
        folder.chmod(0o755)
    assert rc == 2 and "read-only" in err and len(err.strip().splitlines()) == 1, err
    assert not list(folder.iterdir()) and not (studio_home / "runs").exists()


def test_disk_full_at_a_checkpoint_fails_clearly_keeps_the_last_one_and_resumes(capsys, monkeypatch,
                                                                                tiny_sd_folder, stars, tmp_path):
    """The second checkpoint's write hits ENOSPC (accelerate's file writer raises it, as a full disk
    would): the job fails naming the disk, the step-4 checkpoint stays whole, and a rerun resumes."""
    import accelerate.checkpointing as checkpointing

    real_save, calls = checkpointing.save, {"n": 0}

    def save(obj, path, *args, **kwargs):
        if "-00000004" not in str(path):  # accelerate writes into RUN_DIR/checkpoints/.tmp-00000004
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        calls["n"] += 1
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpointing, "save", save)
    out, run_dir = tmp_path / "full.safetensors", tmp_path / "run"
    flags = ["--steps", "8", "--checkpoint-every", "4", "--no-prior", "--sample-every", "0", "--seed", "1",
             "--run-dir", str(run_dir)]
    rc, _out, err = train(capsys, tiny_sd_folder, stars, out, *flags)
    assert calls["n"] > 0  # the first checkpoint was written
    assert rc == 1 and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]  # after the progress notices: one line, naming the disk and the step
    assert last.startswith("studio: error: The disk holding") and "is full" in last and "step 8" in last, err
    assert "resumes from the checkpoint at step 4" in last and err.count("studio: error") == 1
    assert not out.exists()
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["step-00000004"]  # no half-written folder left beside it
    assert (run_dir / "checkpoints" / "step-00000004" / "trainer_state.json").is_file()
    queue = JobQueue()
    try:
        assert queue.jobs()[-1].state is JobState.FAILED
    finally:
        queue.close()

    monkeypatch.setattr(checkpointing, "save", real_save)  # space freed
    rc, _out, err = train(capsys, tiny_sd_folder, stars, out, *flags)
    assert rc == 0, err
    assert "Resumed from the checkpoint at step 4" in err and out.is_file()


def test_an_unreadable_image_is_listed_as_skipped_and_training_proceeds(capsys, tiny_sd_folder, tmp_path):
    data = write_star_folder(tmp_path / "stars", 4)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (data / "broken.txt").write_text("a red star")
    out = tmp_path / "out.safetensors"
    rc, stdout, err = train(capsys, tiny_sd_folder, data, out, *FAST, "--batch-size", "2")
    assert rc == 0, err
    assert "Skipped broken.png: not a readable image" in err
    result = json.loads(stdout)
    assert result["images"] == 4
    assert [s.split(" (")[0] for s in result["skipped"]] == ["broken.png: not a readable image"]
    assert header(out)["ss_num_train_images"] == "4"


# ------------------------------------------------------------------------- prior preservation
def test_prior_pictures_are_the_base_models_own_and_balance_the_batches(capsys, tiny_sd_folder, stars, tmp_path):
    """The prior pictures are what the base model draws for their prompts, each from its own seed (drawn
    several per call, the same as one by one); with twice as many prior pictures as the designer's 6,
    each of the designer's images counts twice an epoch, so a batch holds about as many of each."""
    run_dir = tmp_path / "run"
    flags = ["--steps", "2", "--sample-every", "0", "--seed", "1", "--run-dir", str(run_dir),
             "--prior-prompt", "a red circle", "--prior-prompt", "a blue square", "--prior-images", "12"]
    rc, _out, err = train(capsys, tiny_sd_folder, stars, tmp_path / "a.safetensors", *flags)
    assert rc == 0, err
    task = json.loads((run_dir / "config.json").read_text())["task"]
    assert (task["images"], task["prior_images"], task["repeats"]) == (6, 12, 2)
    pictures = sorted((run_dir / "prior").glob("prior-*.png"))
    assert len(pictures) == 12
    assert [(run_dir / "prior" / f"prior-{i:04d}.txt").read_text().strip() for i in (0, 1, 4, 5)] == [
        "a red circle", "a blue square", "a red circle", "a blue square"]

    from diffusers import StableDiffusionPipeline
    from PIL import Image

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd_folder, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    drawn = np.asarray(Image.open(pictures[5]).convert("RGB")).astype(int)
    size = drawn.shape[0]  # the model's own size
    alone = pipe("a blue square", num_inference_steps=20, guidance_scale=7.0, height=size, width=size,
                 generator=torch.Generator().manual_seed(1 * 7919 + 5)).images[0]
    assert np.abs(drawn - np.asarray(alone).astype(int)).max() <= 2
    other = np.asarray(Image.open(pictures[3]).convert("RGB")).astype(int)  # same prompt, another seed
    assert np.abs(other - drawn).max() > 10

    rc, _out, err = train(capsys, tiny_sd_folder, stars, tmp_path / "b.safetensors", *flags, "--repeats", "3",
                          "--no-resume")
    assert rc == 0, err
    assert json.loads((run_dir / "config.json").read_text())["task"]["repeats"] == 3
    rc, _out, err = train(capsys, tiny_sd_folder, stars, tmp_path / "c.safetensors", *flags, "--repeats", "0")
    assert rc == 2 and "Repeats must be at least 1" in err and len(err.strip().splitlines()) == 1, err


def test_default_prior_prompts_swap_the_new_word_for_each_class_word_in_turn() -> None:
    """DreamBooth's class words: every prior prompt is a caption with the new word swapped for one of them,
    each word about as often as the others, and a caption seen twice gets two different words."""
    from studio_diffusers.train_lora import prior_prompts_for

    captions = [f"a large {colour} zorblat on the left" for colour in ("red", "blue", "green", "yellow")]
    prompts = prior_prompts_for(captions, ["zorblat"], None, seed=3, words=["circle", "square", "triangle"], count=12)
    swapped = [prompt.split()[3] for prompt in prompts]
    assert sorted(swapped) == sorted(["circle", "square", "triangle"] * 4)
    assert [prompt.split()[2] for prompt in prompts] == ["red", "blue", "green", "yellow"] * 3
    for i in range(4):  # the same caption on each pass: another word
        assert len({swapped[i], swapped[i + 4], swapped[i + 8]}) == 3
    assert all("zorblat" not in prompt for prompt in prompts)
    # without class words: the captions without the new word, when the tokenizer offers nothing to swap in
    assert prior_prompts_for(captions[:1], ["zorblat"]) == ["a large red on the left"]


def test_prior_words_flag_replaces_the_models_recommendation(capsys, tiny_sd_folder, stars, tmp_path) -> None:
    """``--prior-word`` names what takes the new words' place in the prior pictures' prompts; given on the
    command line it replaces a model's recommended words rather than adding to them."""
    import argparse

    from studio_diffusers.train import add_lora_arguments

    parser = argparse.ArgumentParser()
    add_lora_arguments(parser)
    parser.set_defaults(prior_words=["circle", "square"])  # what a model's studio-defaults.json recommends
    needed = ["--model", "m", "--data", "d", "--out", "o.safetensors"]
    assert parser.parse_args(needed).prior_words == ["circle", "square"]
    assert parser.parse_args([*needed, "--prior-word", "cat", "--prior-word", "dog"]).prior_words == ["cat", "dog"]

    run_dir = tmp_path / "run"
    rc, _out, err = train(capsys, tiny_sd_folder, stars, tmp_path / "a.safetensors", "--steps", "1",
                          "--sample-every", "0", "--run-dir", str(run_dir), "--prior-word", "cat",
                          "--prior-images", "3")
    assert rc == 0, err
    captions = [(run_dir / "prior" / f"prior-{i:04d}.txt").read_text().strip() for i in range(3)]
    assert all("cat" in caption.split() and "star" not in caption.split() for caption in captions), captions


@pytest.mark.parametrize("layers, has, lacks", [
    ("attention", ["to_q", "to_out"], ["ff.net", "proj_in", "conv1"]),
    ("transformer", ["to_q", "ff.net", "proj_in"], ["conv1", "conv2"]),
    ("all", ["to_q", "ff.net", "conv1", "conv2"], []),
])
def test_unet_layers_choose_which_layers_learn(layers, has, lacks, capsys, tiny_sd_folder, stars, tmp_path):
    out = tmp_path / f"{layers}.safetensors"
    rc, _out, err = train(capsys, tiny_sd_folder, stars, out, *FAST, "--unet-layers", layers)
    assert rc == 0, err
    unet_keys = [k for k in tensors(out) if k.startswith("unet")]
    for name in has:
        assert any(name in k for k in unet_keys), (name, layers)
    for name in lacks:
        assert not any(name in k for k in unet_keys), (name, layers)
    assert picture(tiny_sd_folder, out).shape  # loads in bare diffusers (warnings are errors)
