"""The frozen studio's entry point (PyInstaller runs this file as ``__main__``)."""

import multiprocessing
import sys

from studio.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process (accelerate, DataLoader workers) starts here
    sys.exit(main())
