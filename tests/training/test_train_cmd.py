"""``studio train demo-image`` parses its options without importing torch."""

from __future__ import annotations

import argparse
import subprocess
import sys


def test_parser_builds_without_torch() -> None:
    code = (
        "import argparse, sys\n"
        "from studio.cli import train_cmd\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers(dest='command')\n"
        "train_cmd.add_parser(sub)\n"
        "a = p.parse_args(['train', 'demo-image', '--steps', '7', '--run-dir', 'r', '--seed', '2'])\n"
        "assert (a.steps, a.run_dir, a.seed, a.no_resume) == (7, 'r', 2, False), a\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_no_resume_flag() -> None:
    from studio.cli import train_cmd

    p = argparse.ArgumentParser()
    train_cmd.add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["train", "demo-image", "--no-resume", "--batch-size", "4", "--out", "o"])
    assert args.no_resume and args.batch_size == 4 and args.out == "o"
    assert args.func is train_cmd.run_demo_image
