"""``studio`` entry point. Exit 0 on success, 2 on bad input (one clear line, no traceback),
1 on an unexpected failure (with the log's path)."""

from __future__ import annotations

import time

STARTED_AT = time.perf_counter()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from studio import __version__  # noqa: E402
from studio.core.errors import StudioError  # noqa: E402

log = logging.getLogger("studio.cli")


class CliParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line on stderr and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> CliParser:
    parser = CliParser(prog="studio", description="Studio: a desktop AI creative studio.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help='open the window, wait for the first paint, print {"startup_ms": N} and exit',
    )
    commands = parser.add_subparsers(dest="command", parser_class=CliParser, metavar="COMMAND")
    from studio.cli import batch_cmd, export_cmd, generate_cmd, jobs_cmd, models_cmd, plugins_cmd, text_cmd, upscale_cmd

    for module in (plugins_cmd, models_cmd, generate_cmd, batch_cmd, upscale_cmd, text_cmd, export_cmd, jobs_cmd):
        module.add_parser(commands)
    from studio.cli import interpolate_cmd, score_cmd

    interpolate_cmd.add_parser(commands)
    score_cmd.add_parser(commands)
    try:
        from studio.cli import train_cmd
    except ImportError:
        pass
    else:
        train_cmd.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from studio.ui.app import run

        try:
            return run(smoke_test=args.smoke_test, started_at=STARTED_AT)
        except StudioError as exc:  # e.g. a STUDIO_HOME that cannot be created: one line, no traceback
            _say(f"studio: error: {exc.user_text()}")
            return exc.exit_code
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """The one error boundary of every command: logging is set up before the command runs; bad input
    is exit 2 with one line on stderr, anything unexpected exit 1 with the log's path, never a traceback."""
    from studio.core.logs import log_location, setup_logging

    try:
        setup_logging()
        return int(args.func(args) or 0)
    except StudioError as exc:
        if exc.exit_code == 2:
            log.info("refused: %s", exc.user_text())
            _say(f"studio: error: {exc.user_text()}")
        else:
            log.error("%s", exc.user_text(), exc_info=True)
            _say(f"studio: error: {exc.user_text()} (log: {log_location()})")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("studio: interrupted")
        return 130
    except BrokenPipeError:  # the reader of our output went away (``studio models list | head``)
        _silence_stdout()
        return 1
    except Exception as exc:
        log.exception("unexpected failure")
        from studio.core.errors import describe

        _say(f"studio: {describe(exc)} (details in {log_location()})")
        return 1


def _silence_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush does not complain either."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (captured in tests)
        pass


def _say(line: str) -> None:
    """One line on stderr, whatever the message holds (newlines, bytes that are not UTF-8)."""
    line = " ".join(line.replace("\r", " ").split("\n"))
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed
        pass


if __name__ == "__main__":
    sys.exit(main())
