"""``studio batch``: every prompt × seed as one job, named by prompt and seed, resumable, cancellable."""

from __future__ import annotations

import pytest

from studio.batch_render import BatchItem, parse_seeds, read_prompts
from studio.cli.main import main
from studio.core.errors import BadInput
from studio.core.events import Progress
from studio.core.requests import BatchRequest, request_from_json
from studio.jobs import JobQueue, JobState

FLAGS = ["--model", "demo", "--steps", "2"]  # the demo model draws 64×64 pictures


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("\ufeff# a campaign\nred circle\n\n   # not a prompt\nblue square on the left  \n",
                    encoding="utf-8")
    return path


def files(folder):
    return sorted(path.name for path in folder.iterdir())


def test_prompts_file_and_seed_range_are_read_as_written(prompts):
    assert read_prompts(prompts) == ("red circle", "blue square on the left")
    assert parse_seeds("3-5") == (3, 5)
    assert parse_seeds(" 7 ") == (7, 7)
    for bad in ("5-3", "a-b", "-1", "1-99999999999"):
        with pytest.raises(BadInput):
            parse_seeds(bad)
    assert BatchItem(2, 42).name == "p003-s0042.png"
    assert BatchItem(0, 123456).name == "p001-s123456.png"


def test_every_prompt_and_seed_once_as_one_job_and_a_rerun_skips_finished_files(prompts, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(prompts), "--seeds", "1-2", "--out", str(out), *FLAGS]) == 0
    names = ["p001-s0001.png", "p001-s0002.png", "p002-s0001.png", "p002-s0002.png"]
    assert files(out) == names
    assert capsys.readouterr().out.split() == [str(out / name) for name in names]
    queue = JobQueue()
    [job] = queue.jobs()
    assert job.request.kind == "batch" and job.state is JobState.DONE
    assert job.result.data["written"] == 4
    capsys.readouterr()
    assert main(["jobs", "list"]) == 0
    assert "red circle (+1 more), seeds 1-2" in capsys.readouterr().out  # what the queue shows for it

    # The picture is the one `studio generate` makes with that prompt and seed, byte for byte.
    single = tmp_path / "single.png"
    assert main(["generate", "--prompt", "blue square on the left", "--seed", "2", "--out", str(single), *FLAGS]) == 0
    assert single.read_bytes() == (out / "p002-s0002.png").read_bytes()

    # Re-run with one file gone: only that one is made again; the others are not touched.
    before = {name: (out / name).stat() for name in names}
    lost = (out / "p001-s0002.png").read_bytes()
    (out / "p001-s0002.png").unlink()
    capsys.readouterr()
    assert main(["batch", str(prompts), "--seeds", "1-2", "--out", str(out), *FLAGS]) == 0
    assert capsys.readouterr().out.split() == [str(out / "p001-s0002.png")]
    assert (out / "p001-s0002.png").read_bytes() == lost
    for name in set(names) - {"p001-s0002.png"}:
        after = (out / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before[name].st_ino, before[name].st_mtime_ns)
    last = queue.jobs()[-1]
    assert last.result.data == {**last.result.data, "written": 1, "skipped": 3, "pictures": 4}
    queue.close()


def test_files_of_another_prompt_list_are_refused_not_skipped(prompts, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(prompts), "--seeds", "5", "--out", str(out), *FLAGS]) == 0
    made = {name: (out / name).read_bytes() for name in files(out)}
    prompts.write_text("green triangle\nred circle\nblue square on the left\n")  # a prompt inserted first
    capsys.readouterr()
    assert main(["batch", str(prompts), "--seeds", "5", "--out", str(out), *FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "p001-s0005.png" in err and "green triangle" in err
    assert {name: (out / name).read_bytes() for name in files(out)} == made
    # Other flags make other pictures too: a different step count is no finished file either.
    prompts.write_text("red circle\nblue square on the left\n")
    assert main(["batch", str(prompts), "--seeds", "5", "--out", str(out), "--model", "demo", "--steps", "3"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "9-3"], "seeds '9-3'"),
        (["--seeds", "x"], "seeds 'x'"),
        (["--seeds", "1", "--steps", "0"], "Steps must be"),
        (["--seeds", "1", "--width", "13"], "width 13"),
    ],
)
def test_bad_batch_input_is_one_line_and_exit_2(args, message, prompts, tmp_path, capsys):
    assert main(["batch", str(prompts), "--model", "demo", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_empty_prompts_file_and_a_file_as_out_folder_are_refused(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    assert main(["batch", str(empty), "--model", "demo", "--seeds", "1", "--out", str(tmp_path / "o")]) == 2
    assert "holds no prompt" in capsys.readouterr().err
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    empty.write_text("red circle\n")
    assert main(["batch", str(empty), "--model", "demo", "--seeds", "1", "--out", str(not_a_folder)]) == 2
    assert "expected a folder" in capsys.readouterr().err


def test_the_batch_request_round_trips_through_the_queue(tmp_path):
    request = BatchRequest(model="demo", prompts=("a", "b"), first_seed=3, last_seed=4, out_dir=str(tmp_path),
                           generation={"steps": 2, "loras": [{"path": "/x.safetensors", "weight": 0.5}]})
    again = request_from_json(request.to_json())
    assert again == request and again.item(1, 4).prompt == "b" and again.item(1, 4).loras[0].weight == 0.5


class _CancelAfterFirstPicture:
    """A listener that cancels the batch once its first picture is written."""

    def __init__(self):
        self.session = None
        self.armed = True

    def job_changed(self, job):
        pass

    def job_event(self, job_id, event):
        if self.armed and isinstance(event, Progress) and event.message.endswith("written"):
            self.session.runner.cancel(job_id)


def test_cancelling_the_batch_job_stops_it_between_pictures_and_a_rerun_resumes(prompts, tmp_path):
    from studio.session import StudioSession

    out = tmp_path / "out"
    out.mkdir()
    request = BatchRequest(model="demo", prompts=read_prompts(prompts), first_seed=1, last_seed=2,
                           out_dir=str(out), generation={"steps": 2, "width": 64, "height": 64})
    listener = _CancelAfterFirstPicture()
    session = StudioSession(listener=listener)
    listener.session = session
    try:
        job = session.runner.run_now(request)
        assert job.state is JobState.CANCELLED
        assert files(out) == ["p001-s0001.png"]
        listener.armed = False  # no more cancelling: the re-run finishes the rest
        job = session.runner.run_now(request)
    finally:
        session.close()
    assert job.state is JobState.DONE and job.result.data["skipped"] == 1 and job.result.data["written"] == 3
    assert len(files(out)) == 4


def test_generate_flags_reach_every_picture_and_missing_input_files_are_refused_before_queueing(
        prompts, tmp_path, capsys):
    from studio.cli.batch_cmd import add_parser, batch_request
    from studio.cli.main import CliParser

    parser = CliParser(prog="studio")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", str(prompts), "--model", "demo", "--seeds", "3-4", "--out", str(tmp_path / "o"),
                              "--negative-prompt", "blurry", "--guidance", "3.5", "--scheduler", "Euler"])
    request = batch_request(args)
    assert request_from_json(request.to_json()) == request
    picture = request.item(1, 4)
    assert (picture.prompt, picture.seed, picture.batch) == ("blue square on the left", 4, 1)
    assert (picture.negative_prompt, picture.guidance, picture.scheduler) == ("blurry", 3.5, "Euler")
    assert main(["batch", str(prompts), "--model", "demo", "--seeds", "1", "--out", str(tmp_path / "o"),
                 "--lora", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
    assert JobQueue().jobs() == []  # refused before a job was queued
