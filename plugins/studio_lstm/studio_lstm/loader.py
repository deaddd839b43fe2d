"""Load a character LSTM and continue text with it: the ``text`` capability.

``CharModel.run`` serves a :class:`TextRequest` in ``continue`` mode: ``max_new_tokens`` new
characters after the prompt, sampled with ``temperature``/``top_k``/``top_p`` from a CPU generator
seeded with ``request.seed`` (the same seed gives the same text on any device), streamed word by word
through ``report(text=…)``; ``report`` raises when the user stops the job. ``repetition_penalty`` does
not apply to characters and is ignored; rewriting and watermarks need a language model with a
tokenizer and are refused with one line.
"""

from __future__ import annotations

from pathlib import Path

from studio.plugins import BadInput, JobResult, LoadContext, ModelError, TextRequest

STREAM_EVERY = 16  # characters; a chunk also ends at every space or line break


def load(context: LoadContext) -> CharModel:
    from studio.plugins.devices import resolve_device
    from studio_lstm.model import load_model

    folder = Path(context.model.path)
    try:
        model, vocab = load_model(folder)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise ModelError(f"'{context.model.name}' could not be loaded as a character LSTM: {exc}",
                         "Train it again with 'studio train lstm --out FOLDER'.") from None
    device = resolve_device(context.device)
    return CharModel(model.to(device), vocab, context.model.name)


class CharModel:
    """A loaded character LSTM; ``run`` streams characters through ``report(text=chunk)``."""

    def __init__(self, model, vocab, name: str) -> None:
        self.model, self.vocab, self.name = model, vocab, name
        self.memory_bytes = sum(p.numel() * p.element_size() for p in model.parameters())

    def unload(self) -> None:
        self.model = None

    def run(self, request: TextRequest, report, cancelled) -> JobResult:
        from studio_lstm.model import sample_chars

        if request.mode != "continue":
            raise BadInput(f"The character LSTM '{self.name}' can only continue text, not {request.mode} it.",
                           "Pick a language model (demo-text or your own) for rewriting and watermark checks.")
        if request.watermark:
            raise BadInput(f"The character LSTM '{self.name}' cannot watermark its text.",
                           "Turn the watermark off, or pick a language model such as demo-text.")
        unknown = sorted({c for c in request.prompt if c not in self.vocab.index})
        notices = []
        if unknown:
            notices.append(f"The model never saw {''.join(unknown)!r} in its training text; it reads them as unknown.")
            report(0, request.max_new_tokens, notice=notices[-1])
        total, made, pending, stopped = request.max_new_tokens, [], "", False
        for char in sample_chars(self.model, self.vocab, request.prompt, total, int(request.seed),
                                 request.temperature, request.top_k, request.top_p):
            if cancelled():
                stopped = True
                break
            made.append(char)
            pending += char
            if char in " \n" or len(pending) >= STREAM_EVERY:
                report(len(made), total, text=pending)
                pending = ""
        if pending:
            report(len(made), total, text=pending)
        # one token is one character here; "new_tokens" is what the editor's status line reads
        data = {"seed": request.seed, "new_tokens": len(made), "new_characters": len(made),
                "stopped": stopped or bool(cancelled()), "mode": request.mode, "notices": notices}
        return JobResult(text="".join(made), data=data)
