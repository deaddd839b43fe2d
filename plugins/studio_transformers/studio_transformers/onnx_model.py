"""A causal language model on the ONNX Runtime backend.

The decoder is exported with its key/value cache on the first generating job (with progress) and
cached under ``cache/onnx`` per model folder; later jobs — and later sessions — reuse it. Detection
needs no network at all (the tokenizer and the watermark settings), so it never exports.

The loop is transformers' ``generate`` step for step: the same prompt ids (the torch path's
``prompt_ids``), the same logits processors in the same order (repetition penalty; temperature,
top-k, top-p when sampling; the green-list ``WatermarkLogitsProcessor`` last) applied to torch
tensors made from ORT's logits, ``argmax`` or ``torch.multinomial`` after ``torch.manual_seed(seed)``,
the model's end-of-text tokens and the rewrite stop string. Streaming goes through the torch
path's streamer; ``cancelled()`` is read before every token.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.plugins import JobResult, LoadContext, ModelEntry, ModelError, TextRequest, loading_weights
from studio.plugins.onnx import (
    ExportCache,
    ModelExports,
    ProviderChoice,
    cache_key,
    create_session,
    folder_identity,
    provider_name,
)
from studio_transformers.loader import CausalLM, _ReportingStreamer


class _ConfigOnly:
    """Stands in for the torch model where :class:`CausalLM` reads ``model.config`` (window, vocabulary,
    the watermark detector)."""

    def __init__(self, config) -> None:
        self.config = config


def load_onnx(context: LoadContext) -> OnnxCausalLM:
    """The ONNX twin of :func:`studio_transformers.loader.load`: tokenizer and config now; the decoder
    is exported (or found in the cache) by the first generating job."""
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    entry = context.model
    try:
        tokenizer = AutoTokenizer.from_pretrained(entry.path, local_files_only=True)
        config = AutoConfig.from_pretrained(entry.path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"'{entry.name}' could not be loaded as a language model: {exc}") from None
    try:
        generation = GenerationConfig.from_pretrained(entry.path, local_files_only=True)
    except OSError:
        generation = GenerationConfig.from_model_config(config)
    return OnnxCausalLM(entry, config, generation, tokenizer, ModelExports.for_context(context))


class OnnxDecoder:
    """An exported decoder (a cache entry's folder) in an ``InferenceSession``."""

    def __init__(self, folder: Path, choice: ProviderChoice) -> None:
        from studio_transformers.onnx_export import CONFIG, GRAPH, input_names

        self.folder = Path(folder)
        self.config = json.loads((self.folder / CONFIG).read_text(encoding="utf-8"))
        self.layers = int(self.config["layers"])
        self.names = input_names(self.layers)
        self.session = create_session(self.folder / GRAPH, choice)

    @property
    def provider(self) -> str:
        return provider_name(self.session.get_providers()[0])

    def empty_cache(self) -> list[np.ndarray]:
        return [np.zeros((1, heads, 0, dim), np.float32) for heads, dim in self.config["cache"] for _ in (0, 1)]

    def step(self, input_ids: np.ndarray, past: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits of the last position [1, vocab] and the cache grown by ``input_ids``."""
        done = past[0].shape[2]
        length = input_ids.shape[1]
        values = [input_ids.astype(np.int64), np.ones((1, done + length), np.int64),
                  np.arange(done, done + length, dtype=np.int64)[None], *past]
        logits, *present = self.session.run(None, dict(zip(self.names, values, strict=True)))
        return logits[:, -1, :], present


class OnnxCausalLM(CausalLM):
    """:class:`CausalLM` (prompts, rewrite, detection) with generation run by ONNX Runtime."""

    def __init__(self, entry: ModelEntry, config, generation, tokenizer, exports: ModelExports) -> None:
        super().__init__(_ConfigOnly(config), tokenizer, torch.device("cpu"))
        self.entry = entry
        self.name = entry.name
        self.generation = generation
        self.exports = exports
        self._decoder: tuple[str, OnnxDecoder] | None = None

    @property
    def cache(self) -> ExportCache:
        return self.exports.cache

    def unload(self) -> None:
        self._decoder = None
        gc.collect()

    # ------------------------------------------------------------------------------ the export

    def export_key(self) -> str:
        import transformers

        from studio_transformers.onnx_export import EXPORT_VERSION

        return cache_key({"model": folder_identity(self.entry.path), "kind": "causal-lm", "dtype": "float32",
                          "export": EXPORT_VERSION, "torch": torch.__version__.split("+")[0],
                          "transformers": transformers.__version__})

    def decoder(self, report) -> OnnxDecoder:
        """The cached export (checked), else a fresh one; its session is kept between jobs."""
        key = self.export_key()

        def write(model, folder: Path) -> dict[str, Any]:
            from studio_transformers.onnx_export import export_decoder

            meta = export_decoder(model, folder, report, self.name, self.window)
            return {**meta, "model": self.entry.path}

        folder = self.exports.folder(key, report, release=self.unload, load=self._torch_model, write=write)
        if self._decoder is None or self._decoder[0] != key:
            self._decoder = (key, OnnxDecoder(folder, self.exports.choice))
        return self._decoder[1]

    def _torch_model(self):
        """The float32 torch model to export (its memory checked first)."""
        from transformers import AutoModelForCausalLM

        from studio_transformers.loader import _check_memory

        _check_memory(Path(self.entry.path))
        try:
            with loading_weights():
                return AutoModelForCausalLM.from_pretrained(self.entry.path, dtype=torch.float32,
                                                            local_files_only=True, use_safetensors=None)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"'{self.name}' could not be loaded as a language model: {exc}") from None

    # ---------------------------------------------------------------------------- generation

    def logits_processors(self, request: TextRequest):
        """What ``generate`` builds for the torch path's arguments, in its order."""
        from transformers import (
            LogitsProcessorList,
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        processors = LogitsProcessorList()
        if request.repetition_penalty is not None and request.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(request.repetition_penalty,
                                                               prompt_ignore_length=torch.zeros(1, dtype=torch.long)))
        if request.temperature > 0:
            if request.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(request.temperature))
            if request.top_k:
                processors.append(TopKLogitsWarper(top_k=request.top_k, min_tokens_to_keep=1))
            if request.top_p is not None and request.top_p < 1.0:
                processors.append(TopPLogitsWarper(top_p=request.top_p, min_tokens_to_keep=1))
        if request.watermark:  # last, on the final scores, as generate does
            vocab = int(self.model.config.get_text_config().vocab_size)
            processors.append(self.watermark_config(request).construct_processor(vocab, "cpu"))
        return processors

    def stopping_criteria(self, request: TextRequest):
        from transformers import StoppingCriteriaList, StopStringCriteria

        criteria = StoppingCriteriaList()
        if request.mode == "rewrite" and not self.has_chat_template:
            criteria.append(StopStringCriteria(self.tokenizer, ["\n\n"]))
        return criteria

    def end_tokens(self) -> set[int]:
        eos = self.generation.eos_token_id
        if eos is None:
            return set()
        return {int(eos)} if isinstance(eos, int) else {int(token) for token in eos}

    def run(self, request: TextRequest, report, cancelled) -> JobResult:
        if request.mode == "detect":
            return super().run(request, report, cancelled)
        seed = request.seed
        input_ids, notices = self.prompt_ids(request)
        decoder = self.decoder(report)
        provider_notice = self.exports.provider_notice()  # once per loaded model, as for images
        if provider_notice:
            notices = [*notices, provider_notice]
        for notice in notices:
            report(0, request.max_new_tokens, notice=notice)
        processors = self.logits_processors(request)
        criteria = self.stopping_criteria(request)
        end = self.end_tokens()
        streamer = _ReportingStreamer(self.tokenizer, self, report, request.max_new_tokens)
        streamer.put(input_ids)
        self.tokens_generated = 0
        torch.manual_seed(seed)
        ids = input_ids
        feed = input_ids.numpy()
        past = decoder.empty_cache()
        with torch.inference_mode():
            for _ in range(request.max_new_tokens):
                if cancelled():
                    break
                logits, past = decoder.step(feed, past)
                scores = processors(ids, torch.from_numpy(logits).to(torch.float32))
                if request.temperature > 0:
                    token = torch.multinomial(torch.nn.functional.softmax(scores, dim=-1), num_samples=1).squeeze(1)
                else:
                    token = torch.argmax(scores, dim=-1)
                ids = torch.cat([ids, token[:, None]], dim=-1)
                streamer.put(token)
                if int(token[0]) in end or bool(criteria(ids, scores).any()):
                    break
                feed = token[:, None].numpy()
        streamer.end()
        new_ids = ids[0, input_ids.shape[-1]:]
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        data = {"seed": seed, "new_tokens": int(new_ids.shape[-1]), "prompt_tokens": int(input_ids.shape[-1]),
                "stopped": bool(cancelled()), "mode": request.mode, "notices": notices, "notice": provider_notice,
                "backend": "onnx",
                "provider": decoder.provider, "export_seconds": self.exports.last_export_seconds}
        if request.watermark:
            data["watermark"] = self.watermark_info(request)
        return JobResult(text=text, data=data)
