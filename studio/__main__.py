"""``python -m studio …`` (and ``accelerate launch -m studio batch …``): the ``studio`` command."""

import sys

from studio.cli.main import main

sys.exit(main())
