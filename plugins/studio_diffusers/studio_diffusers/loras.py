"""Stacking LoRA files (diffusers/peft or kohya/A1111 keys) on a loaded pipeline, with weights."""

from __future__ import annotations

import re
from pathlib import Path

from studio.plugins import LoraRef, ModelError, file_key, loading_weights


class LoraStack:
    """Keeps the pipeline's adapters in step with what each request asks for. A LoRA file is known
    by its path, size and modification time, so one rewritten on disk (a training that saved again
    to the same name) is loaded again, never used stale."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.loaded: dict[str, str] = {}  # file key (path|size|mtime) -> adapter name

    def apply(self, loras: tuple[LoraRef, ...]) -> None:
        paths = [str(Path(lora.path).expanduser().resolve()) for lora in loras]
        wanted = [file_key(path) or path for path in paths]
        if set(wanted) != set(self.loaded):
            if self.loaded:
                self.pipe.unload_lora_weights()
                self.loaded.clear()
            for index, (path, key) in enumerate(zip(paths, wanted, strict=True)):
                self._load(path, key, f"lora{index}_{re.sub(r'[^A-Za-z0-9_]', '_', Path(path).stem)[:40]}")
        if self.loaded:
            names = [self.loaded[key] for key in wanted]
            self.pipe.set_adapters(names, adapter_weights=[lora.weight for lora in loras])

    def _load(self, path: str, key: str, name: str) -> None:
        if not Path(path).is_file():
            raise ModelError(f"The LoRA file '{path}' does not exist.")
        if not path.endswith(".safetensors"):
            raise ModelError(f"The LoRA '{Path(path).name}' is not a .safetensors file.",
                             "Pickle files can run code when loaded; convert it to safetensors first.")
        try:
            with loading_weights():  # peft builds the adapter layers
                self.pipe.load_lora_weights(path, adapter_name=name)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, OSError, RuntimeError) as exc:
            self.pipe.unload_lora_weights()
            self.loaded.clear()
            raise ModelError(f"'{Path(path).name}' is not a LoRA that fits this model ({exc}).") from None
        self.loaded[key] = name
