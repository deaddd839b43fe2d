"""Load a local causal language model and continue, rewrite or watermark-check text with transformers.

``CausalLM.run(request, report, cancelled)`` handles the three modes of a :class:`TextRequest`:

- ``continue``: the prompt (trimmed from the left to the model's window, with a notice) is continued;
- ``rewrite``: the prompt is a selection rewritten after ``request.instruction``, through the
  tokenizer's chat template when it has one, a completion prompt otherwise;
- ``detect``: the prompt is scored for the green-list watermark (no generation).

Streaming: ``report(tokens_so_far, max_new_tokens, text=chunk)`` for each new piece of text as its
token is generated (``step >= 1``; a transformers streamer on the job's worker thread, no extra
thread); notices (trimming) come as ``report(0, total, notice=notice)`` and in
``result.data["notices"]``. Stop: a stopping criterion reads ``cancelled()`` before every new token,
and ``report`` raising :class:`JobCancelled` ends ``generate`` at once.
With ``request.watermark`` the generation is watermarked by transformers' ``WatermarkingConfig``;
``result.data["watermark"]`` holds the settings a detector needs (store them with the document).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria
from transformers import logging as transformers_logging
from transformers.generation.streamers import BaseStreamer

from studio.plugins import BadInput, JobResult, LoadContext, ModelError, TextRequest
from studio.plugins.devices import default_dtype, resolve_device

DEFAULT_WINDOW = 2048
REWRITE_SYSTEM = "You rewrite text as the user asks. Reply with the rewritten text only."

# The imports above (torch, transformers) live as long as the process: kept out of the cyclic
# collector's sight, a full collection takes milliseconds instead of a fifth of a second.
gc.freeze()


def load(context: LoadContext) -> CausalLM:
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    entry = context.model
    if not entry.details.get("has_tokenizer", False):
        raise ModelError(
            f"The model folder '{entry.path}' has no tokenizer (tokenizer.json, tokenizer.model or vocab.json).",
            "Copy the tokenizer files that came with the model into that folder.",
        )
    _refuse_unallowed_pickle(Path(entry.path), context.options.get("allowed_pickles", []))
    if context.backend == "onnx":  # the decoder is exported on first use and run by ONNX Runtime
        from studio_transformers.onnx_model import load_onnx

        return load_onnx(context)
    _check_memory(Path(entry.path))
    device = resolve_device(context.device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(entry.path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            entry.path, dtype=default_dtype(device), local_files_only=True, use_safetensors=None
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"'{entry.name}' could not be loaded as a language model: {exc}") from None
    return CausalLM(model.to(device).eval(), tokenizer, device)


def _refuse_unallowed_pickle(folder: Path, allowed: list[str]) -> None:
    """A folder whose only weights are pickles (``pytorch_model*.bin``) loads only when the user
    allowed that file (or the folder) in Settings, as single-file pickle checkpoints do."""
    pickles = sorted(folder.glob("pytorch_model*.bin"))
    if not pickles or any(folder.glob("*.safetensors")):
        return
    trusted = {str(Path(p).expanduser().resolve()) for p in allowed}
    if {str(folder.resolve()), *(str(p.resolve()) for p in pickles)} & trusted:
        return
    raise ModelError(
        f"'{folder.name}' has only pickle weights ({pickles[0].name}), which can run hidden code when opened.",
        "Prefer a .safetensors version of this model. If you trust the file, allow it in Settings → "
        "Models → 'Allow pickle files'; it is then read with torch's weights-only loader.",
    )


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(folder: Path) -> None:
    """Refuse, with a clear message, a model whose weights alone exceed the free memory."""
    weights = sum(p.stat().st_size for p in folder.glob("*.safetensors")) or sum(
        p.stat().st_size for p in folder.glob("pytorch_model*.bin"))
    free = _available_memory()
    if free is not None and weights > free * 0.9:
        raise ModelError(
            f"'{folder.name}' needs about {weights / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB of memory is free.",
            "Close other programs, or pick a smaller (or quantised) model.",
        )


class _StopWhenCancelled(StoppingCriteria):
    def __init__(self, cancelled) -> None:
        self.cancelled = cancelled

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancelled(), dtype=torch.bool, device=input_ids.device)


class _ReportingStreamer(BaseStreamer):
    """Hands each new piece of text to ``report`` as soon as its token is generated, on the job's thread.

    Text is sent as soon as it decodes cleanly: not while it ends in an incomplete UTF-8 sequence, and
    not when the decoding of the tokens so far no longer starts with what was already sent (rare
    tokenizer clean-ups; the text then waits for the next line or the end); a token whose text is held
    back is still reported, without text, so progress and Stop follow every token. The token cache restarts
    after every line break so decoding stays cheap on long generations.
    """

    def __init__(self, tokenizer, owner: CausalLM, report, total: int) -> None:
        self.tokenizer, self.owner, self.report, self.total = tokenizer, owner, report, total
        self.prompt = True
        self.tokens = 0
        self.ids: list[int] = []
        self.sent = ""
        # The Rust tokenizer decodes ~20x faster than the Python wrapper; use it when the wrapper
        # would not change the text (no clean-up of tokenization spaces).
        backend = getattr(tokenizer, "_tokenizer", None)
        if backend is not None and not getattr(tokenizer, "clean_up_tokenization_spaces", False):
            self.decode = lambda ids: backend.decode(ids, skip_special_tokens=True)
        else:
            self.decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)

    def put(self, value) -> None:
        if self.prompt:  # generate() first hands over the prompt
            self.prompt = False
            return
        ids = value.reshape(-1).tolist()
        self.tokens += len(ids)
        self.owner.tokens_generated = self.tokens
        self.ids.extend(ids)
        self._send(final=False)

    def end(self) -> None:
        self._send(final=True)

    def _send(self, final: bool) -> None:
        text = self.decode(self.ids)
        if not text.startswith(self.sent) or (text.endswith("\ufffd") and not final):
            # Withheld text still counts: the token count moves on, and Stop is heard at this token.
            self.report(max(1, self.tokens), self.total)
            return
        chunk = text[len(self.sent):]
        if text.endswith("\n"):
            self.ids, self.sent = [], ""
        else:
            self.sent = text
        if chunk:
            self.report(max(1, self.tokens), self.total, text=chunk)


class CausalLM:
    """A loaded language model; ``run`` streams tokens through ``report(text=chunk)``."""

    def __init__(self, model, tokenizer, device: torch.device) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.tokens_generated = 0  # live count of the current generation (read by tests and benches)

    def unload(self) -> None:
        self.model = None

    # ---------------------------------------------------------------- facts
    @property
    def window(self) -> int:
        """How many tokens (prompt + generated) the model was built to attend to."""
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        limit = getattr(self.tokenizer, "model_max_length", 0)
        return limit if 0 < limit < 1_000_000 else DEFAULT_WINDOW

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    # --------------------------------------------------------------- prompts
    def prompt_ids(self, request: TextRequest) -> tuple[torch.Tensor, list[str]]:
        """Token ids of what the model sees for ``request``, and notices for the user."""
        budget = max(1, self.window - request.max_new_tokens)
        if request.mode == "rewrite":
            ids = self._rewrite_ids(request)
            if ids.shape[-1] > budget:
                raise BadInput(
                    f"The selection is too long to rewrite with this model ({ids.shape[-1]} tokens with the "
                    f"instruction; its window leaves {budget} for the text).",
                    "Select less text, or lower max new tokens.",
                )
            return ids, []
        ids = self.tokenizer(request.prompt, return_tensors="pt")["input_ids"]
        notices = []
        if ids.shape[-1] > budget:
            cut = ids.shape[-1] - budget
            bos = self.tokenizer.bos_token_id
            if bos is not None and budget > 1 and int(ids[0, 0]) == bos:  # keep the start-of-text token
                ids = torch.cat([ids[:, :1], ids[:, cut + 1:]], dim=-1)
            else:
                ids = ids[:, cut:]
            notices.append(
                f"The text is longer than the model's window ({self.window} tokens, {request.max_new_tokens} of "
                f"them kept for new text): the first {cut} tokens were left out; the model sees the last {budget}."
            )
        return ids, notices

    def _rewrite_ids(self, request: TextRequest) -> torch.Tensor:
        instruction = request.instruction.strip() or "Rewrite this text."
        if self.has_chat_template:
            user = f"{instruction}\n\n{request.prompt}"
            for messages in (
                [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}],
                [{"role": "user", "content": f"{REWRITE_SYSTEM}\n\n{user}"}],  # templates without a system role
            ):
                try:
                    text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                except Exception:  # templates raise whatever jinja raises
                    continue
                return self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        text = f"{instruction}\n\nOriginal: {request.prompt.strip()}\nRewritten:"
        return self.tokenizer(text, return_tensors="pt")["input_ids"]

    # --------------------------------------------------------------- watermark
    def watermark_config(self, request: TextRequest):
        from transformers import WatermarkingConfig

        s = request.watermark_settings()
        return WatermarkingConfig(greenlist_ratio=s["greenlist_ratio"], bias=s["bias"], hashing_key=s["hashing_key"],
                                  seeding_scheme=s["seeding_scheme"], context_width=s["context_width"])

    def watermark_info(self, request: TextRequest) -> dict:
        return {**request.watermark_settings(), "vocab_size": int(self.model.config.vocab_size),
                "model": request.model, "threshold": request.detect_threshold}

    def detect(self, request: TextRequest) -> dict:
        """Green-list watermark z-score of ``request.prompt`` under ``request``'s watermark settings."""
        from transformers import WatermarkDetector

        ids = self.tokenizer(request.prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        if ids.shape[-1] < 2:
            raise BadInput("The text is too short to check for a watermark (fewer than 2 tokens).")
        detector = WatermarkDetector(model_config=self.model.config, device=str(self.device),
                                     watermarking_config=self.watermark_config(request), ignore_repeated_ngrams=True)
        out = detector(ids.to(self.device), z_threshold=request.detect_threshold, return_dict=True)
        z = float(out.z_score[0])
        return {"z_score": round(z, 4), "detected": bool(z >= request.detect_threshold),
                "tokens_scored": int(out.num_tokens_scored[0]),
                "green_fraction": round(float(out.green_fraction[0]), 4),
                "watermark": self.watermark_info(request)}

    # --------------------------------------------------------------------- run
    def generate_kwargs(self, request: TextRequest, input_ids: torch.Tensor) -> dict:
        """The ``model.generate`` arguments for ``request`` (shared with the P6 benchmark's bare path)."""
        sample = request.temperature > 0
        kwargs = dict(
            input_ids=input_ids.to(self.device),
            attention_mask=torch.ones_like(input_ids).to(self.device),
            max_new_tokens=request.max_new_tokens,
            do_sample=sample,
            repetition_penalty=request.repetition_penalty,
            pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id,
        )
        if sample:
            kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=request.top_k)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if request.watermark:
            kwargs["watermarking_config"] = self.watermark_config(request)
        if request.mode == "rewrite" and not self.has_chat_template:
            kwargs.update(stop_strings=["\n\n"], tokenizer=self.tokenizer)
        return kwargs

    def run(self, request: TextRequest, report, cancelled) -> JobResult:
        if request.mode == "detect":
            data = self.detect(request)
            report(1, 1, message="")
            return JobResult(data=data)
        seed = request.seed  # resolved by the studio when the job was queued
        input_ids, notices = self.prompt_ids(request)
        for notice in notices:
            report(0, request.max_new_tokens, notice=notice)
        kwargs = self.generate_kwargs(request, input_ids)
        # Generation runs on the job's own (worker) thread: the streamer calls report() per token, so
        # a cancelled job's report() raises JobCancelled out of generate(); the stopping criterion
        # stops it as well when report() does not raise (cancelled() is read before every new token).
        streamer = _ReportingStreamer(self.tokenizer, self, report, request.max_new_tokens)
        kwargs.update(streamer=streamer, stopping_criteria=[_StopWhenCancelled(cancelled)])
        self.tokens_generated = 0
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = self.model.generate(**kwargs)
        new_ids = output[0, input_ids.shape[-1]:]
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        data = {"seed": seed, "new_tokens": int(new_ids.shape[-1]), "prompt_tokens": int(input_ids.shape[-1]),
                "stopped": bool(cancelled()), "mode": request.mode, "notices": notices}
        if request.watermark:
            data["watermark"] = self.watermark_info(request)
        return JobResult(text=text, data=data)
