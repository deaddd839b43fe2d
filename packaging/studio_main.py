"""The frozen studio's entry point (PyInstaller runs this file as ``__main__``).

``studio -m MODULE [ARGS]`` runs a module of the bundle as ``python -m`` would: the window starts
helpers that way with ``sys.executable`` (the device probe, ``studio.backends.probe``), and in the
bundle ``sys.executable`` is this program."""

import multiprocessing
import runpy
import sys


def run() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from studio.cli.main import main

    return main()


if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process (accelerate, DataLoader workers) starts here
    sys.exit(run())
