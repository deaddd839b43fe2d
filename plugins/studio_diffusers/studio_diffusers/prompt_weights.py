"""Prompt weighting in AUTOMATIC1111's syntax, encoded by ``compel``.

A1111 syntax: ``(words)`` weighs 1.1, ``[words]`` 1/1.1, ``(words:1.3)`` 1.3 (nested brackets
multiply), ``\\(`` and ``\\)`` are literal brackets, ``BREAK`` starts a new 75-token chunk, and a prompt
longer than one chunk is encoded chunk by chunk instead of being cut at 77 tokens. compel's own
syntax (``word++``, ``.and()``) is a different language, so the text is parsed here into weighted
fragments and compel's :class:`~compel.EmbeddingsProvider` turns each BREAK-separated segment into
weighted text-encoder states (weights above 1 scale a token's distance from the empty prompt, below
1 blend towards the prompt without that token); segments are joined along the token axis.

A prompt with no weighting syntax that fits in one chunk takes the pipeline's own text encoding,
so existing pictures do not change. The request keeps the prompt as typed (the infotext too).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from studio.plugins import BadInput, GenerationRequest

ROUND_WEIGHT = 1.1
SQUARE_WEIGHT = 1 / 1.1
#: The longest weighted prompt: chunks of 75 tokens (about 2,400 tokens; each chunk lengthens every
#: cross-attention of every step).
MAX_CHUNKS = 32

#: One lexical piece of A1111 prompt syntax, in A1111's order of precedence.
_PIECE = re.compile(r"""
    \\[()\[\]\\]                      # an escaped bracket or backslash
  | \\                                # a lone backslash (literal)
  | \(                                # open round
  | \[                                # open square
  | :\s*(?P<weight>[+-]?[.\d]+)\s*\)  # ':1.3)' closes round with a weight
  | \)                                # close round
  | \]                                # close square
  | [^\\()\[\]:]+                     # plain text
  | :                                 # a colon that is not a weight
""", re.VERBOSE)
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


@dataclass(frozen=True)
class Fragment:
    """A run of prompt text with one weight."""

    text: str
    weight: float = 1.0


Segment = list[Fragment]  # the text between two BREAKs


def parse_prompt(text: str) -> list[Segment]:
    """``text`` as BREAK-separated segments of weighted fragments (A1111's ``parse_prompt_attention``
    rules: a bracket weighs the text from where it opens to where it closes, an unclosed one to the
    end, an unmatched closing one is literal text). Linear in the prompt's length."""
    pieces: list[str | None] = []  # text, or None for a BREAK
    spans: list[tuple[int, int, float]] = []  # (first piece, end piece, factor) of each bracket
    round_open: list[int] = []
    square_open: list[int] = []
    for match in _PIECE.finditer(text):
        piece, weight = match.group(0), match.group("weight")
        if piece.startswith("\\"):
            pieces.append(piece[1:] or "\\")
        elif piece == "(":
            round_open.append(len(pieces))
        elif piece == "[":
            square_open.append(len(pieces))
        elif weight is not None and round_open and _is_number(weight):
            spans.append((round_open.pop(), len(pieces), float(weight)))
        elif piece == ")" and round_open:
            spans.append((round_open.pop(), len(pieces), ROUND_WEIGHT))
        elif piece == "]" and square_open:
            spans.append((square_open.pop(), len(pieces), SQUARE_WEIGHT))
        else:
            for index, part in enumerate(_BREAK.split(piece)):
                if index:
                    pieces.append(None)
                pieces.append(part)
    spans += [(start, len(pieces), ROUND_WEIGHT) for start in round_open]
    spans += [(start, len(pieces), SQUARE_WEIGHT) for start in square_open]

    segments: list[Segment] = [[]]
    run: list[str] = []  # texts of equal weight, joined once
    run_weight = 1.0
    for piece_text, weight in zip(pieces, _span_products(len(pieces), spans), strict=True):
        if piece_text is None or (piece_text and weight != run_weight):
            if run:
                segments[-1].append(Fragment("".join(run), run_weight))
            run, run_weight = [], weight
            if piece_text is None:
                segments.append([])
                continue
        if piece_text:
            run.append(piece_text)
    if run:
        segments[-1].append(Fragment("".join(run), run_weight))
    return segments


def _span_products(count: int, spans: list[tuple[int, int, float]]) -> list[float]:
    """Each piece's weight: the product of the factors of the spans covering it (one sweep; a piece
    no span covers weighs exactly 1, a zero factor makes 0)."""
    opening: dict[int, list[float]] = {}
    closing: dict[int, list[float]] = {}
    for first, end, factor in spans:
        if first < end:
            opening.setdefault(first, []).append(factor)
            closing.setdefault(end, []).append(factor)
    weights, product, active, zeros = [], 1.0, 0, 0
    for index in range(count):
        for factor in closing.get(index, ()):
            active, zeros = active - 1, zeros - (factor == 0)
            product = product / factor if factor else product
        if active == 0:
            product = 1.0  # no rounding left over from closed spans
        for factor in opening.get(index, ()):
            active, zeros = active + 1, zeros + (factor == 0)
            product = product * factor if factor else product
        weights.append(0.0 if zeros else product)
    return weights


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def plain_text(segments: list[Segment]) -> str:
    """The words of the prompt without weights (BREAKs as spaces)."""
    return " ".join("".join(fragment.text for fragment in segment) for segment in segments)


def is_weighted(segments: list[Segment]) -> bool:
    """True when the prompt has a BREAK or a fragment weighing other than 1."""
    return len(segments) > 1 or any(fragment.weight != 1.0 for fragment in segments[0])


def has_weighting_syntax(text: str) -> bool:
    """True when ``text`` uses weights, BREAK or escapes (what a pipeline would read literally)."""
    segments = parse_prompt(text)
    return is_weighted(segments) or plain_text(segments) != text


def token_count(tokenizer: Any, text: str) -> int:
    """The tokens of ``text`` without the start and end markers."""
    return len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


def fits_one_chunk(tokenizer: Any, text: str) -> bool:
    return token_count(tokenizer, text) <= tokenizer.model_max_length - 2


def prompt_arguments(pipe: Any, request: GenerationRequest) -> dict[str, Any]:
    """The prompt arguments of a diffusers call for ``request``: the texts themselves (weighting off,
    or a prompt without weighting syntax that fits in one chunk: exactly the pipeline's own encoding),
    else compel's weighted states for the prompt and the negative prompt, padded to one length."""
    batch = request.batch
    literal = {"prompt": [request.prompt] * batch,
               "negative_prompt": [request.negative_prompt] * batch if request.negative_prompt else None}
    if not request.prompt_weighting:
        return literal
    positive, negative = parse_prompt(request.prompt), parse_prompt(request.negative_prompt)
    tokenizer = pipe.tokenizer if pipe.tokenizer is not None else pipe.tokenizer_2
    chunks = [check_length(tokenizer, what, segments)
              for what, segments in (("prompt", positive), ("negative prompt", negative))]
    if not is_weighted(positive) and not is_weighted(negative) and chunks == [1, 1]:
        plain = [plain_text(positive), plain_text(negative)]
        return {"prompt": [plain[0]] * batch, "negative_prompt": [plain[1]] * batch if plain[1] else None}
    return WeightedEncoder(pipe).arguments(positive, negative, batch)


def check_length(tokenizer: Any, what: str, segments: list[Segment]) -> int:
    """How many 75-token chunks the parsed prompt takes; a :class:`BadInput` past :data:`MAX_CHUNKS`
    or for a weight that is not a finite number (``((((…))))`` nested thousands deep)."""
    if any(not math.isfinite(fragment.weight) for segment in segments for fragment in segment):
        raise BadInput(f"A weight in the {what} is too large to use (brackets nested too deep?).")
    per_chunk = tokenizer.model_max_length - 2
    chunks = 0
    for segment in segments:
        chunks += max(1, math.ceil(token_count(tokenizer, "".join(f.text for f in segment)) / per_chunk))
        if chunks > MAX_CHUNKS:
            raise BadInput(f"The {what} is too long to weight: over {MAX_CHUNKS} chunks of {per_chunk} tokens.",
                           "Shorten it, or turn prompt weighting off (--no-prompt-weighting) to cut it at "
                           f"{tokenizer.model_max_length} tokens.")
    return chunks


def refuse_on_onnx(request: GenerationRequest, tokenizer: Any | None = None) -> None:
    """The ONNX backend encodes prompts literally: a request that needs weighting (syntax, or with
    ``tokenizer`` a prompt longer than one chunk) is refused rather than silently read otherwise."""
    if not request.prompt_weighting:
        return
    for what, text in (("prompt", request.prompt), ("negative prompt", request.negative_prompt)):
        if has_weighting_syntax(text):
            raise BadInput(f"Prompt weighting (the brackets or BREAK in the {what}) is not available on the "
                           "ONNX backend.", "Use the torch backend, or turn prompt weighting off "
                           "(--no-prompt-weighting) to send the text as written.")
        if tokenizer is not None and not fits_one_chunk(tokenizer, text):
            raise BadInput(f"The {what} is longer than {tokenizer.model_max_length} tokens, which only the torch "
                           "backend encodes whole.", "Use the torch backend, or turn prompt weighting off "
                           "(--no-prompt-weighting) to cut it at the limit.")


class WeightedEncoder:
    """compel's embeddings providers over a pipeline's text encoders: SD 1.x/2.x (the last hidden
    state) and SDXL (both encoders' penultimate states side by side, the second's pooled output)."""

    def __init__(self, pipe: Any) -> None:
        from compel import EmbeddingsProvider, ReturnedEmbeddingsType

        self.pipe = pipe
        self.sdxl = hasattr(pipe, "text_encoder_2")
        device = str(pipe._execution_device)
        kind = (ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED if self.sdxl
                else ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED)
        pairs = [(pipe.tokenizer, pipe.text_encoder)]
        if self.sdxl:
            pairs.append((pipe.tokenizer_2, pipe.text_encoder_2))
        self.device = device
        self.providers = [EmbeddingsProvider(tokenizer=tokenizer, text_encoder=encoder, truncate=False,
                                             returned_embeddings_type=kind, device=device)
                          for tokenizer, encoder in pairs if tokenizer is not None and encoder is not None]

    def arguments(self, positive: list[Segment], negative: list[Segment], batch: int) -> dict[str, Any]:
        import torch

        with torch.no_grad():
            states = self.states(positive)
            zero_negative = (self.sdxl and not plain_text(negative).strip()
                             and self.pipe.config.get("force_zeros_for_empty_prompt", False))
            negative_states = torch.zeros_like(states) if zero_negative else self.states(negative)
            states, negative_states = self.same_length(states, negative_states)
            out = {"prompt_embeds": states.repeat(batch, 1, 1),
                   "negative_prompt_embeds": negative_states.repeat(batch, 1, 1)}
            if self.sdxl:
                pooled = self.pooled(positive)
                negative_pooled = torch.zeros_like(pooled) if zero_negative else self.pooled(negative)
                out["pooled_prompt_embeds"] = pooled.repeat(batch, 1)
                out["negative_pooled_prompt_embeds"] = negative_pooled.repeat(batch, 1)
        return out

    def states(self, segments: list[Segment]):
        """Weighted states of every segment, joined along the token axis (a multiple of 77 tokens)."""
        import torch

        parts = []
        for segment in segments:
            # a fragment without tokens (spaces, characters the tokenizer drops) has nothing to weigh
            tokenizer = self.providers[0].tokenizer
            kept = [f for f in segment if f.text.strip() and token_count(tokenizer, f.text)] or [Fragment("")]
            texts, weights = [f.text for f in kept], [f.weight for f in kept]
            per_encoder = [provider.get_embeddings_for_weighted_prompt_fragments(
                text_batch=[texts], fragment_weights_batch=[weights], device=self.device)
                for provider in self.providers]
            parts.append(torch.cat(per_encoder, dim=-1))
        return torch.cat(parts, dim=1)

    def empty(self):
        """The empty prompt's states (one chunk): what a shorter prompt is padded with."""
        import torch

        return torch.cat([provider.empty_z.to(self.device) for provider in self.providers], dim=-1)

    def same_length(self, first, second):
        """Both padded to the longer one's token count with the empty prompt's states (as compel does)."""
        import torch

        def pad(states, length: int):
            if states.shape[1] >= length:
                return states
            chunk = self.empty().to(states.dtype)
            return torch.cat([states, chunk.repeat(1, (length - states.shape[1]) // chunk.shape[1], 1)], dim=1)

        length = max(first.shape[1], second.shape[1])
        return pad(first, length), pad(second, length)

    def pooled(self, segments: list[Segment]):
        """SDXL's pooled text: the second encoder's projection of the unweighted words (first chunk)."""
        provider = self.providers[-1]
        return provider.get_pooled_embeddings([plain_text(segments)], device=self.device).to(
            provider.text_encoder.dtype)

