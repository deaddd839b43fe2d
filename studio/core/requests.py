"""Frozen, JSON-serialisable requests: one object per job, from panel to job to file and back.

A request holds everything its job needs. ``to_dict``/``to_json`` and ``request_from_dict``/
``request_from_json`` round-trip exactly; the ``schema`` field versions the format so a file
written today can still be read after fields are added.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from studio.core.errors import BadInput

SCHEMA_VERSION = 2  # 2: GenerationRequest.prompt_weighting (a schema-1 record read its brackets literally)

BACKENDS = ("torch", "onnx")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SIDE = 4096
TEXT_MODES = ("continue", "rewrite", "detect")
WATERMARK_KEY = 15485863  # transformers' default hashing key
SCHEDULER_NAMES = ("Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras", "DDIM", "UniPC", "LMS", "PNDM")
MAX_SEED = 2**32 - 1
MAX_LORA_WEIGHT = 10.0
MAX_CONTROL_WEIGHT = 5.0
#: How a control image is prepared: "" uses the file as it is; "canny" draws its edges (Pillow/numpy).
CONTROL_PREPROCESSORS = ("", "canny")
#: Fields that name files or folders: they may not hold a NUL character.
PATH_FIELDS = frozenset({"model", "init_image", "mask", "images", "out_dir", "visible_image", "c2pa_cert",
                         "c2pa_key", "data", "run_dir", "refiner", "image", "upscaler"})
MAX_TEXT_CHARS = 10_000_000  # a prompt, a document to check, a path: more is a mistake, not a request


def ranged(default: Any, low: float, high: float, help: str = "") -> Any:
    """A request field with its range: the one place the panel, the CLI and ``validate`` read it from."""
    return field(default=default, metadata={"range": (low, high), "help": help})


def field_range(cls: type[Request], name: str) -> tuple[float, float]:
    """``(low, high)`` of a ranged field of ``cls``."""
    return cls.__dataclass_fields__[name].metadata["range"]


def field_defaults(cls: type[Request]) -> dict[str, Any]:
    """Every field's default value: what a new request of ``cls`` holds."""
    return {name: getattr(cls(), name) for name in cls.__dataclass_fields__}


@dataclass(frozen=True)
class LoraRef:
    """A LoRA file applied with a weight."""

    path: str
    weight: float = 1.0

    @classmethod
    def parse(cls, text: str) -> LoraRef:
        """Parse ``FILE[:WEIGHT]`` as the CLI takes it."""
        path, sep, weight = text.rpartition(":")
        if sep and path and _is_float(weight):
            return cls(path=path, weight=float(weight))
        return cls(path=text)

    def validate(self) -> None:
        """A path as text and a finite weight within ±10."""
        if not isinstance(self.path, str) or not self.path:
            raise BadInput(f"A LoRA needs a file path, not {self.path!r}.")
        check_text("LoRA path", self.path, path=True)
        check_number("LoRA weight", self.weight, "float")
        if abs(self.weight) > MAX_LORA_WEIGHT:
            raise BadInput(f"The LoRA weight {self.weight:g} of '{self.path}' is out of range.",
                           f"Use a weight between {-MAX_LORA_WEIGHT:g} and {MAX_LORA_WEIGHT:g}.")


@dataclass(frozen=True)
class ControlRef:
    """A ControlNet (folder or file) steered by a control image: its weight and the fractions of the
    steps it acts between (diffusers' conditioning scale and control guidance start/end)."""

    model: str
    image: str
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    preprocess: str = ""

    @classmethod
    def parse(cls, text: str, preprocess: str = "") -> ControlRef:
        """Parse ``FILE:MODEL[:WEIGHT[:START:END]]`` as the CLI takes it."""
        parts = text.split(":")
        numbers: list[float] = []
        while len(parts) > 2 and len(numbers) < 3 and _is_float(parts[-1]):
            numbers.insert(0, float(parts.pop()))
        if len(numbers) == 2:
            raise BadInput(f"The control '{text}' has a start without an end.",
                           "Write FILE:MODEL[:WEIGHT[:START:END]], e.g. edges.png:canny-net:0.8:0:0.6.")
        image, sep, model = ":".join(parts).rpartition(":")
        if not sep or not image or not model:
            raise BadInput(f"The control '{text}' names no image and model.",
                           "Write FILE:MODEL[:WEIGHT[:START:END]], e.g. edges.png:canny-net.")
        weight, start, end = (*numbers, 0.0, 1.0) if len(numbers) == 1 else (numbers or [1.0, 0.0, 1.0])
        return cls(model=model, image=image, weight=weight, start=start, end=end, preprocess=preprocess)

    def validate(self) -> None:
        """Paths as text, a finite weight within 0–5, 0 ≤ start < end ≤ 1 and a known preprocessor."""
        for name, value in (("control model", self.model), ("control image", self.image)):
            if not isinstance(value, str) or not value:
                raise BadInput(f"A control needs a {name.split()[1]} path, not {value!r}.")
            check_text(name, value, path=True)
        for name, value in (("control weight", self.weight), ("control start", self.start),
                            ("control end", self.end)):
            check_number(name, value, "float")
        if not 0 <= self.weight <= MAX_CONTROL_WEIGHT:
            raise BadInput(f"The control weight {self.weight:g} of '{self.image}' is out of range.",
                           f"Use a weight between 0 and {MAX_CONTROL_WEIGHT:g}.")
        if not 0 <= self.start < self.end <= 1:
            raise BadInput(f"The control of '{self.image}' acts from {self.start:g} to {self.end:g} of the steps.",
                           "Use a start below the end, both between 0 and 1.")
        if self.preprocess not in CONTROL_PREPROCESSORS:
            raise BadInput(f"Unknown control preprocessor '{self.preprocess}'.",
                           f"Choose one of: {', '.join(p or 'none' for p in CONTROL_PREPROCESSORS)}.")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label(name: str) -> str:
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def check_text(name: str, value: str, *, path: bool = False) -> None:
    """Refuse text that is not UTF-8 (bytes a shell passed through undecoded), a path holding a NUL
    character (no file system takes one), or text absurdly long."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{_label(name)} holds bytes that are not UTF-8 text.",
                       "Re-type it, or convert the text to UTF-8.") from None
    if path and "\x00" in value:
        raise BadInput(f"{_label(name)} holds a NUL character.", "Remove it.")
    if len(value) > MAX_TEXT_CHARS:
        raise BadInput(f"{_label(name)} is too long ({len(value):,} characters; at most {MAX_TEXT_CHARS:,}).")


def check_number(name: str, value: Any, kind: str) -> None:
    """``value`` is an ``int`` (``kind == "int"``) or a finite real number (``kind == "float"``); bools
    and numbers written as text are refused."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{_label(name)} must be a whole number, not {value!r}.")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{_label(name)} must be a number, not {value!r}.")
    if not math.isfinite(value):
        raise BadInput(f"{_label(name)} must be a finite number, not {value}.")


def check_field_value(name: str, declared: str, value: Any) -> None:
    """Check one field against its declared type (the dataclass annotation, as text)."""
    optional = declared.endswith(" | None")
    base = declared.removesuffix(" | None")
    if value is None:
        if optional:
            return
        raise BadInput(f"{_label(name)} is missing.")
    if base in ("int", "float"):
        check_number(name, value, base)
    elif base == "str":
        if not isinstance(value, str):
            raise BadInput(f"{_label(name)} must be text, not {value!r}.")
        check_text(name, value, path=name in PATH_FIELDS)
    elif base == "bool":
        if not isinstance(value, bool):
            raise BadInput(f"{_label(name)} must be true or false, not {value!r}.")
    elif base.startswith("tuple["):
        if not isinstance(value, tuple):
            raise BadInput(f"{_label(name)} must be a list, not {value!r}.")
        for entry in value:
            if isinstance(entry, LoraRef | ControlRef):
                entry.validate()
            elif isinstance(entry, str):
                check_text(name, entry, path=name in PATH_FIELDS)
            else:
                raise BadInput(f"{_label(name)} holds {entry!r}, which is not a path.")
    elif base.startswith("dict["):
        if not isinstance(value, dict):
            raise BadInput(f"{_label(name)} must be a mapping, not {value!r}.")
        for key, entry in value.items():
            if not isinstance(key, str):
                raise BadInput(f"{_label(name)}: the key {key!r} is not text.")
            if isinstance(entry, float) and not math.isfinite(entry):
                raise BadInput(f"{_label(name)}: '{key}' must be a finite number, not {entry}.")
            if isinstance(entry, str):
                check_text(key, entry)


@dataclass(frozen=True)
class Request:
    """Base of every request. Subclasses set ``kind`` and ``capability``."""

    kind: ClassVar[str] = ""
    model: str = ""
    backend: str = "torch"
    device: str = "auto"

    @property
    def capability(self) -> str:
        """The plugin capability that runs this request."""
        return self.kind

    def resolved(self) -> Request:
        """This request with every choice left to the studio made: a random seed drawn once.

        The queue stores the resolved request, so the job, the files it writes, their gallery rows
        and a re-queued run all hold the same seed."""
        seed = getattr(self, "seed", 0)
        if seed is not None:
            return self
        span = MAX_SEED + 1 - max(1, int(getattr(self, "batch", 1) or 1))
        return self.replace(seed=random.randrange(span))

    def validate(self) -> None:
        """Raise :class:`BadInput` with a clear message when a value is impossible: every field of
        the declared kind (an int is an int: ``steps=2.5`` is refused), every number finite (nan and
        inf are refused), every text UTF-8, every ranged field in its range."""
        for item in dataclasses.fields(self):
            check_field_value(item.name, str(item.type), getattr(self, item.name))
        for item in dataclasses.fields(self):
            if "range" in item.metadata:
                low, high = item.metadata["range"]
                value = getattr(self, item.name)
                if not low <= value <= high:
                    label = item.name.replace("_", " ").capitalize()
                    raise BadInput(f"{label} must be between {low:g} and {high:g}, not {value}.")
        if self.backend not in BACKENDS:
            raise BadInput(f"Unknown backend '{self.backend}'.", f"Choose one of: {', '.join(BACKENDS)}.")
        if self.device not in DEVICES:
            raise BadInput(f"Unknown device '{self.device}'.", f"Choose one of: {', '.join(DEVICES)}.")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"kind": self.kind, "schema": SCHEMA_VERSION, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **changes: Any) -> Request:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class GenerationRequest(Request):
    """Text-to-image, image-to-image or inpainting with a diffusion model."""

    kind: ClassVar[str] = "generate"
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = ranged(20, 1, 1000, "denoising steps")
    guidance: float = ranged(7.0, 0.0, 50.0, "classifier-free guidance scale")
    width: int = 512
    height: int = 512
    scheduler: str = "Euler a"
    batch: int = ranged(1, 1, 64, "images per job")
    init_image: str | None = None
    strength: float = ranged(0.75, 0.01, 1.0, "how much the init image changes (img2img, inpaint)")
    mask: str | None = None
    loras: tuple[LoraRef, ...] = ()
    controls: tuple[ControlRef, ...] = ()
    refiner: str = field(default="", metadata={"help": "an SDXL refiner folder the base hands its latents to"})
    refiner_at: float = ranged(0.8, 0.01, 0.99, "fraction of the steps the base runs before the refiner")
    prompt_weighting: bool = field(default=True, metadata={
        "help": "read A1111 weights (word:1.3), (word), [word], BREAK and prompts over 77 tokens"})
    hires_scale: float = ranged(1.0, 0.0, 8.0, "hires fix: upscale the picture this much, then img2img at that "
                                               "size (0 or 1: off)")
    hires_strength: float = ranged(0.5, 0.01, 1.0, "hires fix: how much the second pass changes the upscaled picture")
    upscaler: str = field(default="lanczos", metadata={
        "help": "hires fix upscaler: lanczos, or an ESRGAN .safetensors/.pth file"})

    @property
    def capability(self) -> str:
        if self.mask:
            return "inpaint"
        if self.init_image:
            return "img2img"
        return "txt2img"

    def validate(self) -> None:
        super().validate()
        if not self.model:
            raise BadInput("No model chosen.", "Pick a model in the prompt panel or pass --model.")
        for name, side in (("width", self.width), ("height", self.height)):
            if side <= 0 or side % 8 or side > MAX_SIDE:
                raise BadInput(
                    f"The {name} {side} is not a usable image size.",
                    f"Use a multiple of 8 between 8 and {MAX_SIDE}.",
                )
        if self.scheduler not in SCHEDULER_NAMES:
            raise BadInput(
                f"Unknown scheduler '{self.scheduler}'.", f"Choose one of: {', '.join(SCHEDULER_NAMES)}."
            )
        if self.mask and not self.init_image:
            raise BadInput("A mask needs an init image to paint into.", "Pass --init-image too.")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise BadInput(f"Seed must be between 0 and {MAX_SEED}, not {self.seed}.")
        if self.controls and self.mask:
            raise BadInput("ControlNet does not inpaint yet.", "Drop the mask or the controls.")
        if self.refiner and (self.init_image or self.controls):
            raise BadInput("The refiner hand-off is for plain text-to-image.",
                           "Drop the refiner, or the init image and controls.")
        if self.hires_scale > 1:
            check_hires(self)

    @classmethod
    def defaults_for(cls, recommended: dict[str, Any] | None = None) -> dict[str, Any]:
        """Width, height, steps, guidance and scheduler for a model: the request's own defaults,
        overlaid with what the model recommends (its family reads that from its files)."""
        base = field_defaults(cls)
        out = {k: base[k] for k in ("width", "height", "steps", "guidance", "scheduler")}
        out.update({k: v for k, v in (recommended or {}).items() if k in out})
        return out


@dataclass(frozen=True)
class TextRequest(Request):
    """Text continuation with a causal language model."""

    kind: ClassVar[str] = "text"
    prompt: str = ""
    max_new_tokens: int = 100
    seed: int | None = None
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    watermark: bool = False
    # What to do with ``prompt``: "continue" it; "rewrite" it (the selection) following
    # ``instruction``; or "detect" a watermark in it (result data: z_score, detected, …).
    mode: str = "continue"
    instruction: str = ""
    # Green-list watermark settings (generation and detection must use the same ones).
    watermark_key: int = WATERMARK_KEY
    watermark_bias: float = 2.0
    watermark_ratio: float = 0.25
    detect_threshold: float = 4.0

    def watermark_settings(self) -> dict[str, Any]:
        """What a document must keep to be checked later (stored with a draft)."""
        return {"hashing_key": self.watermark_key, "bias": self.watermark_bias,
                "greenlist_ratio": self.watermark_ratio, "seeding_scheme": "lefthash", "context_width": 1}

    def validate(self) -> None:
        super().validate()
        if not self.model:
            raise BadInput("No model chosen.", "Pass --model with a model folder or 'demo-text'.")
        if self.mode not in TEXT_MODES:
            raise BadInput(f"Unknown text mode '{self.mode}'.", f"Choose one of: {', '.join(TEXT_MODES)}.")
        if not self.prompt.strip():
            if self.mode == "rewrite":
                raise BadInput("Nothing is selected to rewrite.", "Select some text first.")
            if self.mode == "detect":
                raise BadInput("There is no text to check for a watermark.")
            raise BadInput("The prompt is empty.", "Type some text for the model to continue.")
        if not 0.0 < self.watermark_ratio < 1.0:
            raise BadInput(f"The watermark green-list ratio must be between 0 and 1, not {self.watermark_ratio}.")
        if not 0.0 < self.top_p <= 1.0:
            raise BadInput(f"top-p must be above 0 and at most 1, not {self.top_p}.")
        if self.top_k < 0:
            raise BadInput(f"top-k cannot be negative ({self.top_k}).")
        if self.repetition_penalty <= 0:
            raise BadInput(f"The repetition penalty must be positive, not {self.repetition_penalty}.")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise BadInput(f"Seed must be between 0 and {MAX_SEED}, not {self.seed}.")
        if not 1 <= self.max_new_tokens <= 32768:
            raise BadInput(f"max_new_tokens must be between 1 and 32768, not {self.max_new_tokens}.")
        if self.temperature < 0:
            raise BadInput(f"Temperature cannot be negative ({self.temperature}).")
        if self.temperature > 100:
            raise BadInput(f"Temperature must be at most 100, not {self.temperature}.")
        if self.repetition_penalty > 100:
            raise BadInput(f"The repetition penalty must be at most 100, not {self.repetition_penalty}.")
        if not 0 <= self.watermark_bias <= 100:
            raise BadInput(f"The watermark bias must be between 0 and 100, not {self.watermark_bias}.")
        if not 0 <= self.watermark_key <= MAX_SEED:
            raise BadInput(f"The watermark key must be between 0 and {MAX_SEED}, not {self.watermark_key}.")
        if abs(self.detect_threshold) > 1000:
            raise BadInput(f"The detection threshold must be between -1000 and 1000, not {self.detect_threshold}.")


@dataclass(frozen=True)
class TrainRequest(Request):
    """A training run: a recipe, its data and where its run folder goes."""

    kind: ClassVar[str] = "train"
    recipe: str = ""
    data: str = ""
    run_dir: str = ""
    steps: int = 1000
    batch_size: int = 8
    learning_rate: float = 1e-4
    seed: int = 0
    resume: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> TrainRequest:
        """With its run folder chosen: ``STUDIO_HOME/runs/RECIPE`` (``RECIPE-NAME`` when the run
        writes a file or folder of another name, so two LoRAs never share a run folder)."""
        if self.run_dir:
            return self
        from studio.core.paths import studio_home

        out = Path(str(self.options.get("out") or "")).stem
        name = self.recipe if not out or out == self.recipe else f"{self.recipe}-{out}"
        return self.replace(run_dir=str(studio_home() / "runs" / name))  # type: ignore[return-value]

    def validate(self) -> None:
        super().validate()
        if not self.recipe:
            raise BadInput("No training recipe chosen.")
        if self.steps < 1:
            raise BadInput(f"Steps must be at least 1, not {self.steps}.")
        if not 1 <= self.batch_size <= 65536:
            raise BadInput(f"The batch size must be between 1 and 65536, not {self.batch_size}.")
        if not 0 < self.learning_rate <= 10:
            raise BadInput(f"The learning rate must be above 0 and at most 10, not {self.learning_rate}.")
        if not 0 <= self.seed <= MAX_SEED:
            raise BadInput(f"Seed must be between 0 and {MAX_SEED}, not {self.seed}.")


@dataclass(frozen=True)
class ExportRequest(Request):
    """Export images with watermarks and provenance metadata."""

    kind: ClassVar[str] = "export"
    images: tuple[str, ...] = ()
    out_dir: str = ""
    format: str = "png"
    quality: int = 92
    watermark: bool = True
    visible_text: str | None = None
    visible_image: str | None = None
    strip_metadata: bool = False
    name_template: str = "{n}"
    lossless: bool = False  # WebP only
    resize: int = 0  # long side in pixels; 0 keeps the size
    conflict: str = "error"  # when a file exists: error | rename | overwrite
    source_type: str = "auto"  # IPTC digital source type: auto | generated | composite | none
    watermark_owner: int = 0  # the studio/user id the invisible mark carries (0–65535)
    visible_anchor: str = "bottom-right"
    visible_opacity: float = 0.5
    visible_scale: float = 0.25
    visible_margin: float = 0.03
    visible_tile: bool = False
    c2pa_cert: str | None = None  # PEM chain, leaf first; with c2pa_key, signs a C2PA manifest
    c2pa_key: str | None = None

    def validate(self) -> None:
        super().validate()
        if not self.images:
            raise BadInput("No images to export.")
        if self.format not in ("png", "jpeg", "webp"):
            raise BadInput(f"Unknown format '{self.format}'.", "Choose png, jpeg or webp.")
        if not 1 <= self.quality <= 100:
            raise BadInput(f"Quality must be between 1 and 100, not {self.quality}.")
        if self.visible_text and self.visible_image:
            raise BadInput("Choose a visible text or a visible image, not both.")
        if not 0 <= self.resize <= 32768:
            raise BadInput(f"Resize must be a long side between 1 and 32768 pixels, not {self.resize}.")
        if self.conflict not in ("error", "rename", "overwrite"):
            raise BadInput(f"Unknown conflict rule '{self.conflict}'.", "Choose error, rename or overwrite.")
        if self.source_type not in ("auto", "generated", "composite", "none"):
            raise BadInput(
                f"Unknown source type '{self.source_type}'.", "Choose auto, generated, composite or none."
            )
        if not 0.0 <= self.visible_opacity <= 1.0:
            raise BadInput(f"Opacity must be between 0 and 1, not {self.visible_opacity}.")
        if not 0.0 < self.visible_scale <= 1.0:
            raise BadInput(f"Scale must be above 0 and at most 1, not {self.visible_scale}.")
        if not 0.0 <= self.visible_margin < 0.5:
            raise BadInput(f"Margin must be between 0 and 0.5, not {self.visible_margin}.")
        if not 0 <= self.watermark_owner < 2**16:
            raise BadInput(f"The watermark owner id must be between 0 and 65535, not {self.watermark_owner}.")


@dataclass(frozen=True)
class BatchRequest(Request):
    """Every prompt × seed of a list, rendered into ``out_dir`` as ``pNNN-sSEED.png`` (``studio batch``).

    ``generation`` holds the other fields of the :class:`GenerationRequest` each picture is made from
    (its dict, without model, prompt and seed); :meth:`item` builds that request."""

    kind: ClassVar[str] = "batch"
    prompts: tuple[str, ...] = ()
    first_seed: int = 0
    last_seed: int = 0
    out_dir: str = ""
    generation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.prompts, list):  # read back from JSON
            object.__setattr__(self, "prompts", tuple(self.prompts))

    @property
    def capability(self) -> str:
        return self.item(0, self.first_seed).capability if self.prompts else "txt2img"

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.last_seed + 1)

    @property
    def prompt(self) -> str:
        """What the queue shows for the job: the first prompt, how many follow, and the seeds."""
        more = f" (+{len(self.prompts) - 1} more)" if len(self.prompts) > 1 else ""
        return f"{self.prompts[0]}{more}, seeds {self.first_seed}-{self.last_seed}" if self.prompts else ""

    def item(self, index: int, seed: int) -> GenerationRequest:
        """The request of prompt ``index`` (0-based) with ``seed``: one picture."""
        data = {**self.generation, "kind": "generate", "model": self.model, "backend": self.backend,
                "device": self.device, "prompt": self.prompts[index], "seed": seed, "batch": 1}
        return request_from_dict(data)  # type: ignore[return-value]

    def validate(self) -> None:
        super().validate()
        if not self.prompts:
            raise BadInput("The prompts file holds no prompt.", "Write one prompt a line (# starts a comment).")
        if not self.out_dir:
            raise BadInput("No output folder given.", "Pass --out DIR.")
        for name, seed in (("first seed", self.first_seed), ("last seed", self.last_seed)):
            if not 0 <= seed <= MAX_SEED:
                raise BadInput(f"The {name} must be between 0 and {MAX_SEED}, not {seed}.")
        if self.first_seed > self.last_seed:
            raise BadInput(f"The seeds {self.first_seed}-{self.last_seed} run backwards.", "Write A-B with A ≤ B.")
        if len(self.prompts) * len(self.seeds) > MAX_BATCH_ITEMS:
            raise BadInput(f"{len(self.prompts)} prompts × {len(self.seeds)} seeds is more than "
                           f"{MAX_BATCH_ITEMS:,} pictures.", "Split the batch.")
        self.item(0, self.first_seed).validate()


MAX_BATCH_ITEMS = 1_000_000


def check_hires(request: GenerationRequest) -> None:
    """A hires fix the studio can run: not with a mask, its large size within ``MAX_SIDE``."""
    if request.mask:
        raise BadInput("The hires fix does not inpaint.", "Drop the mask or set --hires-scale 1.")
    for name, side in (("width", request.width), ("height", request.height)):
        if round(side * request.hires_scale / 8) * 8 > MAX_SIDE:
            raise BadInput(f"The hires {name} {side} × {request.hires_scale:g} is above {MAX_SIDE} px.",
                           "Lower --hires-scale, or upscale the picture afterwards with 'studio upscale'.")


@dataclass(frozen=True)
class UpscaleRequest(Request):
    """Upscale one picture with Lanczos or an upscaler model file (``studio upscale``), in tiles."""

    kind: ClassVar[str] = "upscale"
    image: str = ""
    scale: float = ranged(2.0, 1.0, 16.0, "output side / input side")
    upscaler: str = "lanczos"
    tile: int = ranged(256, 0, 4096, "input pixels per tile side for a model upscaler (0: the default)")

    def validate(self) -> None:
        super().validate()
        if not self.image:
            raise BadInput("No image to upscale.")
        check_text("upscaler", self.upscaler, path=True)
        if 0 < self.tile < 32:
            raise BadInput(f"A tile of {self.tile} px is too small.", "Use at least 32 px, or 0 for the default.")


@dataclass(frozen=True)
class InterpolateRequest(Request):
    """Frames between two pictures through a model's latent space (``studio interpolate``): the
    first frame is the model's picture of ``images[0]``, the last of ``images[1]``."""

    kind: ClassVar[str] = "interpolate"
    images: tuple[str, ...] = ()
    frames: int = ranged(8, 2, 256, "frames from the first picture to the second, both included")

    def validate(self) -> None:
        super().validate()
        if len(self.images) != 2:
            raise BadInput(f"Interpolation needs two pictures, not {len(self.images)}.")


#: The scorer the studio uses when none is chosen (the gallery's match column, "rank by prompt").
DEFAULT_SCORER = "demo-clip"


@dataclass(frozen=True)
class ScoreRequest(Request):
    """How well each picture matches each prompt (``studio score``), with a model whose family declares
    the ``score`` capability. The job's ``JobResult.data`` is ``{"images": [{"image": PATH, "scores":
    [{"prompt": P, "score": X}, ...]}, ...], "model": NAME}``, images and prompts in the request's
    order; a score is the cosine similarity of the picture's and the prompt's embeddings, in [-1, 1]."""

    kind: ClassVar[str] = "score"
    images: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("images", "prompts"):
            if isinstance(getattr(self, name), list):  # read back from JSON
                object.__setattr__(self, name, tuple(getattr(self, name)))

    def validate(self) -> None:
        super().validate()
        if not self.model:
            raise BadInput("No scorer chosen.", f"Pass --model, e.g. {DEFAULT_SCORER}.")
        if not self.images:
            raise BadInput("No pictures to score.")
        if not self.prompts:
            raise BadInput("No prompt to score the pictures against.", "Pass --prompt P (one or more).")


REQUEST_TYPES: dict[str, type[Request]] = {
    cls.kind: cls for cls in (GenerationRequest, TextRequest, TrainRequest, ExportRequest, BatchRequest,
                           UpscaleRequest, InterpolateRequest, ScoreRequest)
}


def request_from_dict(data: dict[str, Any]) -> Request:
    """Rebuild a request; unknown kinds, unknown keys and newer schemas are refused clearly."""
    if not isinstance(data, dict):
        raise BadInput(f"A request must be a JSON object, not {type(data).__name__}.")
    data = dict(data)
    kind = data.pop("kind", None)
    schema = data.pop("schema", SCHEMA_VERSION)
    cls = REQUEST_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadInput(f"Unknown request kind '{kind}'.")
    if isinstance(schema, bool) or not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise BadInput(
            f"This request was written by a newer studio (schema {schema}).",
            "Update the studio to read it.",
        )
    if cls is GenerationRequest and schema < 2:
        data.setdefault("prompt_weighting", False)  # made before weighting: it regenerates as it was made
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(key) for key in set(data) - names)
    if unknown:
        raise BadInput(f"Unknown field(s) in a {kind} request: {', '.join(unknown)}.")
    try:
        if cls is GenerationRequest and "loras" in data:
            if not isinstance(data["loras"], list | tuple):
                raise TypeError(f"loras must be a list, not {data['loras']!r}")
            data["loras"] = tuple(
                LoraRef(**item) if isinstance(item, dict) else LoraRef(*item) for item in data["loras"]
            )
        if cls is GenerationRequest and "controls" in data:
            if not isinstance(data["controls"], list | tuple):
                raise TypeError(f"controls must be a list, not {data['controls']!r}")
            data["controls"] = tuple(
                ControlRef(**item) if isinstance(item, dict) else ControlRef(*item) for item in data["controls"]
            )
        for name in ("images", "prompts"):
            if cls in (ExportRequest, InterpolateRequest, ScoreRequest) and name in data:
                if not isinstance(data[name], list | tuple):
                    raise TypeError(f"{name} must be a list, not {data[name]!r}")
                data[name] = tuple(data[name])
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"Malformed {kind} request: {exc}.") from None


def request_from_json(text: str) -> Request:
    try:
        data = json.loads(text)
    except RecursionError:
        raise BadInput("The request is nested too deeply to be read.") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"The request is not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise BadInput("The request is not a JSON object.")
    return request_from_dict(data)
