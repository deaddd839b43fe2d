"""Load a local causal language model and stream text continuations with transformers."""

from __future__ import annotations

import random
import threading

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, TextIteratorStreamer
from transformers import logging as transformers_logging

from studio.backends.torch_device import default_dtype, resolve_device
from studio.core.errors import JobCancelled, ModelError
from studio.core.requests import TextRequest
from studio.core.results import JobResult
from studio.plugins.api import LoadContext


def load(context: LoadContext) -> CausalLM:
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    entry = context.model
    if not entry.details.get("has_tokenizer", False):
        raise ModelError(f"The model folder '{entry.path}' has no tokenizer.", "Copy its tokenizer files beside it.")
    device = resolve_device(context.device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(entry.path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            entry.path, dtype=default_dtype(device), local_files_only=True, use_safetensors=None
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"'{entry.name}' could not be loaded as a language model: {exc}") from None
    return CausalLM(model.to(device).eval(), tokenizer, device)


class _StopWhenCancelled(StoppingCriteria):
    def __init__(self, cancelled) -> None:
        self.cancelled = cancelled

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancelled(), dtype=torch.bool, device=input_ids.device)


class CausalLM:
    """A loaded language model; ``run`` streams tokens through ``report(message=chunk)``."""

    def __init__(self, model, tokenizer, device: torch.device) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device

    def unload(self) -> None:
        self.model = None

    def run(self, request: TextRequest, report, cancelled) -> JobResult:
        seed = request.seed if request.seed is not None else random.randrange(2**32)
        torch.manual_seed(seed)
        inputs = self.tokenizer(request.prompt, return_tensors="pt").to(self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(
            **inputs,
            max_new_tokens=request.max_new_tokens,
            do_sample=request.temperature > 0,
            temperature=request.temperature or None,
            top_p=request.top_p,
            top_k=request.top_k,
            repetition_penalty=request.repetition_penalty,
            streamer=streamer,
            stopping_criteria=[_StopWhenCancelled(cancelled)],
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        errors: list[BaseException] = []

        def generate() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # re-raised on the job's thread
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=generate, name="studio-text-generate", daemon=True)
        thread.start()
        pieces: list[str] = []
        for step, chunk in enumerate(streamer, start=1):
            pieces.append(chunk)
            try:
                report(step, request.max_new_tokens, message=chunk)
            except JobCancelled:
                thread.join()
                raise
        thread.join()
        if errors:
            raise errors[0]
        return JobResult(text="".join(pieces), data={"seed": seed})
