"""Studio: a desktop AI creative studio."""

import os as _os

__version__ = "0.1.0"

# The studio never reaches a model hub: models are local files. Say so to the Hugging Face
# libraries before any of them is imported, and keep their console chatter down.
for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_VERBOSITY", "error"),
    ("DIFFUSERS_VERBOSITY", "error"),
    ("TOKENIZERS_PARALLELISM", "false"),
    ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
):
    _os.environ.setdefault(_name, _value)
