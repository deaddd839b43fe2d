"""The studio's headless training engine, built on ``accelerate`` (Qt-free).

A :class:`TrainingTask` says *what* to train (models, data set, loss, samples); :class:`Trainer`
owns *how*: seeding, the optimiser and learning-rate schedule, the data order, checkpoints holding
the full state (weights, optimiser, scheduler, RNG, step) that resume exactly, periodic samples,
metrics events (JSON lines in the run folder and the ``report`` callable) and cooperative
cancel/pause, checked at every step.

It publishes through the job's ``report`` (the plugin API's): progress every step (``report(step,
total, message=...)``), metrics every logged step (``metrics={"loss", "lr", "it_s", …}`` plus the
task's own :meth:`TrainingTask.step_metrics`), samples as ``preview=`` pictures and a few
``notice=`` lines (resumed, checkpoint saved, stopped). The job runner's ``report`` holds while the
job is paused (that time counts neither in it/s nor in the ETA) and raises :class:`JobCancelled`
once it is cancelled: the engine then stops after the step it was reporting, saves a checkpoint and
returns status "cancelled", so the next run (``resume`` is the default) continues from exactly that
step.

Because the loop is accelerate's, the same code runs on several GPUs under ``accelerate launch``.

Run folder layout::

    run_dir/
      config.json          the TrainConfig and task description of the run
      metrics.jsonl        one JSON object per logged step ({"event": "step", ...}) and other events
      checkpoints/step-00000500/   accelerate state (safetensors weights, optimiser, scheduler, RNG)
                                   + trainer_state.json (step, config)
      samples/step-00000500.png    periodic samples from TrainingTask.sample
      tensorboard/         TensorBoard event files (``TrainConfig.tensorboard``; ``tensorboard
                           --logdir run_dir/tensorboard``), written through accelerate's tracker
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import pickle
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, is_tensorboard_available, set_seed
from torch.utils.data import DataLoader, Dataset, Sampler

from studio.core.errors import JobCancelled
from studio.core.storage import atomic_write_text, kill_point
from studio.core.weights_loading import loading_weights
from studio.training.errors import CheckpointError, DatasetError, TrainingError, UnreadableCheckpoint

log = logging.getLogger("studio.training")

Report = Callable[..., None]
"""``report(step, total, preview=None, message=None, *, metrics=None, notice=None)``: progress for
a UI, CLI or job runner (the plugin API's ``report``)."""

CHECKPOINT_PREFIX = "step-"
_STATE_FILE = "trainer_state.json"
#: Keys of a step record the engine writes itself: a task's step_metrics cannot replace them.
ENGINE_KEYS = frozenset({"event", "step", "total", "loss", "lr", "it_s", "eta_s", "epoch", "time",
                         "rss_mb", "cuda_mb"})


@dataclass
class TrainConfig:
    """Everything about *how* a run trains; saved as ``config.json`` in the run folder."""

    run_dir: str
    max_steps: int = 1000
    batch_size: int = 32
    seed: int = 0
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    lr_schedule: str = "constant"  # constant | cosine | linear
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    grad_clip: float | None = 1.0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    sample_every: int = 0
    log_every: int = 10
    num_workers: int = 0
    mixed_precision: str = "no"
    gradient_accumulation: int = 1  # batches per optimiser step (a step counts once per update)
    resume: bool = True  # continue from the latest checkpoint in run_dir/checkpoints if any
    tensorboard: bool = False  # also log loss/lr/it/s as TensorBoard scalars under run_dir/tensorboard
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


@dataclass
class TrainResult:
    status: str  # "done" | "cancelled"
    step: int
    total: int
    loss: float | None
    run_dir: Path
    checkpoint: Path | None
    seconds: float


class TrainingTask:
    """What to train. Subclass and override; the engine calls these in this order.

    ``build_models`` once (before accelerate wraps them), ``dataset`` once, then for every step
    ``loss(models, batch, step)``; ``sample(models, step)`` every ``sample_every`` steps.
    ``models`` passed to ``loss`` are the accelerate-prepared modules (maybe DDP-wrapped), in the
    order and under the names ``build_models`` gave. Use ``torch``'s global RNG for randomness in
    ``loss`` (noise, dropout): the engine seeds it and checkpoints its state.
    """

    name = "task"
    #: Checkpoints hold only the parameters that train (e.g. LoRA adapters on a frozen model: a few
    #: MB instead of the whole model); the frozen rest is rebuilt by ``build_models`` on resume.
    checkpoint_trainable_only = False

    def build_models(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def dataset(self) -> Dataset:
        raise NotImplementedError

    def collate(self, items: list[Any]) -> Any:
        return torch.utils.data.default_collate(items)

    def parameters(self, models: dict[str, torch.nn.Module]) -> list[Any]:
        """The parameters to optimise (default: all that require grad), or optimiser parameter groups
        (dicts with ``params``; a group's ``lr_scale`` multiplies the run's learning rate for it)."""
        return [p for m in models.values() for p in m.parameters() if p.requires_grad]

    def loss(self, models: dict[str, torch.nn.Module], batch: Any, step: int) -> torch.Tensor:
        raise NotImplementedError

    def step_metrics(self) -> dict[str, float]:
        """Figures of the batch ``loss`` just took, besides the loss itself (called after every
        ``loss``), e.g. ``{"loss_generator": 0.7, "loss_discriminator": 1.3}``. Averaged over the
        logging window like the loss, written with the step to ``metrics.jsonl`` and reported with
        its metrics; the training monitor draws each ``loss_<name>`` as its own curve. Non-numeric
        values and the engine's own keys (``loss``, ``lr`` …) are left out."""
        return {}

    def sample(self, models: dict[str, torch.nn.Module], step: int) -> Any | None:
        """A preview (a PIL image) of what the model makes now, or None. Must not train."""
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-able description saved with the run (for a later resume to compare)."""
        return {"name": self.name}


class _StepSampler(Sampler[int]):
    """Indices of an endless shuffled stream, from position ``start`` for ``count`` items.

    Epoch ``e`` is ``randperm(n)`` seeded by ``(seed, e)``, so the order is a pure function of the
    position: resuming at step ``s`` needs no saved data-loader state.
    """

    def __init__(self, n: int, seed: int, start: int, count: int) -> None:
        self.n, self.seed, self.start, self.count = n, seed, start, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        epoch, perm = -1, None
        for i in range(self.start, self.start + self.count):
            e = i // self.n
            if e != epoch:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + e)
                perm, epoch = torch.randperm(self.n, generator=g).tolist(), e
            yield perm[i % self.n]


_FUSED_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def _adamw(params: list[Any], **options: Any) -> torch.optim.AdamW:
    """AdamW, fused into one kernel per step where torch has one for the parameters' device and type
    (CPU and CUDA: on a small LoRA the per-tensor loop costs as much as a tenth of the step)."""
    tensors = [p for item in params for p in (item["params"] if isinstance(item, dict) else [item])]
    fused = bool(tensors) and all(p.dtype in _FUSED_DTYPES and p.device.type in ("cpu", "cuda") for p in tensors)
    return torch.optim.AdamW(params, fused=fused, **options)


def _lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    def f(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "constant":
            return 1.0
        span = max(1, cfg.max_steps - cfg.warmup_steps)
        t = min(1.0, (step - cfg.warmup_steps) / span)
        if cfg.lr_schedule == "cosine":
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        if cfg.lr_schedule == "linear":
            return 1.0 - (1 - cfg.min_lr_ratio) * t
        raise TrainingError(f"Unknown learning-rate schedule {cfg.lr_schedule!r}.",
                            "Use constant, cosine or linear.")

    return f


def checkpoint_interval(steps: int, longest: int = 200) -> int:
    """Steps between checkpoints for a run of ``steps``: ``longest``, but at least five
    checkpoints in a short run (a 50-step run saves every 10 steps, so a kill loses little)."""
    return min(longest, max(1, steps // 5))


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints of a run, oldest first (half-written ones are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    out = [p for p in root.iterdir()
           if p.name.startswith(CHECKPOINT_PREFIX) and (p / _STATE_FILE).is_file()]
    return sorted(out, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    cps = list_checkpoints(run_dir)
    return cps[-1] if cps else None


def read_metrics(run_dir: str | os.PathLike, event: str | None = "step") -> list[dict[str, Any]]:
    """The metrics events of a run (by default only the per-step ones)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        if event is None or rec.get("event") == event:
            out.append(rec)
    return out


class Trainer:
    """Runs a :class:`TrainingTask` under a :class:`TrainConfig`.

    ``report(step, total, preview=None, message=None, *, metrics=None, notice=None)`` receives
    progress every step, metrics every logged step, samples and notices; it may hold (a paused job)
    or raise :class:`JobCancelled`. ``cancelled()`` is checked before every step. A cancelled run
    saves a checkpoint and returns status "cancelled", so it can be resumed; so does a run stopped
    by Ctrl-C (KeyboardInterrupt, raised again afterwards). ``paused()`` holds the loop while it
    returns True.
    """

    def __init__(
        self,
        task: TrainingTask,
        config: TrainConfig,
        report: Report | None = None,
        cancelled: Callable[[], bool] | None = None,
        paused: Callable[[], bool] | None = None,
        accelerator: Accelerator | None = None,
    ) -> None:
        self.task = task
        self.config = config
        self.report = report or (lambda *a, **k: None)
        self.cancelled = cancelled or (lambda: False)
        self.paused = paused or (lambda: False)
        self.run_dir = Path(config.run_dir)
        if config.tensorboard and not is_tensorboard_available():
            raise TrainingError("TensorBoard logging needs the tensorboard package.",
                                "pip install tensorboard, or train without --tensorboard.")
        self.accelerator = accelerator or Accelerator(
            # several processes (accelerate launch / torchrun) on a machine without CUDA: gloo on the CPU,
            # not N independent runs that each believe they are the main process
            cpu=int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available(),
            mixed_precision=config.mixed_precision,
            step_scheduler_with_optimizer=False,
            log_with="tensorboard" if config.tensorboard else None,
            project_config=ProjectConfiguration(project_dir=str(self.run_dir),
                                                logging_dir=str(self.run_dir / "tensorboard")),
        )
        self.models: dict[str, torch.nn.Module] = {}
        self.step = 0
        self._stopping = False  # the report raised JobCancelled: stop after this step
        self._held = 0.0  # seconds spent inside report (held while paused) and paused(): not training

    def _publish(self, step: int, total: int, preview: Any = None, message: str | None = None,
                 **events: Any) -> None:
        """``report``; a JobCancelled it raises asks the loop to stop, and the time it takes (a
        paused job is held inside it) is left out of it/s and the ETA."""
        t = time.monotonic()
        try:
            self.report(step, total, preview=preview, message=message, **events)
        except JobCancelled:
            self._stopping = True
        finally:
            self._held += time.monotonic() - t

    def _stop_requested(self) -> bool:
        return self._stopping or bool(self.cancelled())

    # ----------------------------------------------------------------- events
    def _event(self, rec: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        rec.setdefault("time", time.time())
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def _truncate_metrics(self, step: int) -> None:
        """On resume, drop step events logged after the checkpoint: they will be redone."""
        path = self.run_dir / "metrics.jsonl"
        if not self.accelerator.is_main_process or not path.is_file():
            return
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("step", 0) <= step:
                keep.append(line)
        atomic_write_text(path, "".join(k + "\n" for k in keep), label="train-metrics")

    # ------------------------------------------------------------ checkpoints
    def _remove_unfinished_checkpoints(self) -> None:
        """A checkpoint a killed run was writing (``checkpoints/.tmp-*``): never complete, never read."""
        root = self.run_dir / "checkpoints"
        for unfinished in root.glob(".tmp-*") if root.is_dir() else ():
            shutil.rmtree(unfinished, ignore_errors=True)
            log.info("Removed an unfinished checkpoint left by a stopped run: %s", unfinished)

    def save_checkpoint(self) -> Path:
        acc = self.accelerator
        root = self.run_dir / "checkpoints"
        final = root / f"{CHECKPOINT_PREFIX}{self.step:08d}"
        tmp = root / f".tmp-{self.step:08d}"
        if acc.is_main_process:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
        acc.wait_for_everyone()
        try:
            acc.save_state(str(tmp), safe_serialization=True)
            if acc.is_main_process:
                state = {"step": self.step, "config": self.config.to_dict(),
                         "task": self.task.describe(), "time": time.time()}
                (tmp / _STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")
        except OSError as exc:  # disk full, quota, gone: the earlier checkpoints stay as they were
            shutil.rmtree(tmp, ignore_errors=True)
            kept = latest_checkpoint(self.run_dir)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            raise CheckpointError(
                (f"The disk holding {root} is full" if full else f"Could not write to {root} ({exc.strerror or exc})")
                + f": the checkpoint at step {self.step} was not saved.",
                "Free some space, then train again: it resumes from "
                + (f"the checkpoint at step {kept.name[len(CHECKPOINT_PREFIX):].lstrip('0') or 0}." if kept
                   else "the start."),
            ) from exc
        acc.wait_for_everyone()  # every rank has written its part (its RNG states) before the rename
        if acc.is_main_process:
            kill_point("train-checkpoint")  # tests: killed with the checkpoint written, not yet in place
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            for old in list_checkpoints(self.run_dir)[: -max(1, self.config.keep_checkpoints)]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        self._event({"event": "checkpoint", "step": self.step, "path": str(final)})
        self._publish(self.step, self.config.max_steps, notice=f"Checkpoint saved at step {self.step}.")
        return final

    def _keep_trainable_only(self, models: dict[str, torch.nn.Module]) -> None:
        """Checkpoints write each model's trainable parameters only (accelerate's save hook)."""
        trainable = [{name for name, p in m.named_parameters() if p.requires_grad} for m in models.values()]

        def keep(_models, weights, _output_dir) -> None:
            for index, state in enumerate(weights):
                names = trainable[index] if index < len(trainable) else set(state)
                weights[index] = {k: v for k, v in state.items() if k in names}

        self.accelerator.register_save_state_pre_hook(keep)

    def _load_checkpoint(self, path: Path) -> int:
        try:
            state = json.loads((path / _STATE_FILE).read_text(encoding="utf-8"))
            kwargs = {"strict": False} if self.task.checkpoint_trainable_only else {}
            with warnings.catch_warnings():  # torch's note on a pickle's protocol: noise beside the refusal
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                self.accelerator.load_state(str(path), **kwargs)
        except Exception as exc:
            raise UnreadableCheckpoint(
                f"Could not resume from checkpoint {path}: {_checkpoint_problem(exc)}",
                "Delete that checkpoint folder to resume from an older one, or train again with --no-resume.",
            ) from exc
        return int(state["step"])

    # -------------------------------------------------------------------- run
    def _dataloader(self, dataset: Dataset, start_step: int) -> DataLoader:
        cfg, n_proc = self.config, self.accelerator.num_processes
        per_step = cfg.batch_size * n_proc * max(1, cfg.gradient_accumulation)
        sampler = _StepSampler(len(dataset), cfg.seed, start_step * per_step,
                               max(0, cfg.max_steps - start_step) * per_step)
        # Its own generator: creating the iterator must not draw from the global RNG, or a
        # resumed run would drift from an uninterrupted one.
        loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                            num_workers=cfg.num_workers, collate_fn=self.task.collate,
                            generator=torch.Generator().manual_seed(cfg.seed))
        return self.accelerator.prepare(loader)

    def run(self) -> TrainResult:
        cfg, acc, task = self.config, self.accelerator, self.task
        t_start = time.time()
        self._stopping = False
        if cfg.max_steps <= 0 or cfg.batch_size <= 0:
            raise TrainingError("Steps and batch size must be positive.",
                                f"Got steps={cfg.max_steps}, batch size={cfg.batch_size}.")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if acc.is_main_process:
            self._remove_unfinished_checkpoints()
        set_seed(cfg.seed)

        with loading_weights():  # no other thread's load patches torch while the modules are built
            models = task.build_models()
        dataset = task.dataset()
        try:
            n = len(dataset)
        except TypeError as exc:
            raise DatasetError("The training data set has no length.",
                               "Use a map-style data set.") from exc
        if n == 0:
            raise DatasetError("The training data set is empty.",
                               "Add images (with captions) to the data folder and try again.")
        if n < cfg.batch_size:
            raise DatasetError(f"The training data set has {n} items, fewer than one batch "
                               f"({cfg.batch_size}).", "Lower --batch-size or add more data.")

        params = task.parameters(models)
        opt = _adamw(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        for group in opt.param_groups:  # before the schedule reads each group's starting rate
            group["lr"] = cfg.lr * float(group.get("lr_scale", 1.0))
        clipped = [p for group in opt.param_groups for p in group["params"]]  # every group's, one norm
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
        names = list(models)
        if task.checkpoint_trainable_only:
            self._keep_trainable_only(models)
        prepared = acc.prepare(*models.values(), opt, sched)
        self.models = dict(zip(names, prepared[: len(names)], strict=True))
        opt, sched = prepared[len(names)], prepared[len(names) + 1]

        start = 0
        ckpt = latest_checkpoint(self.run_dir) if cfg.resume else None
        if ckpt is not None:
            start = self._load_checkpoint(ckpt)
            self._truncate_metrics(start)
            self._event({"event": "resume", "step": start, "checkpoint": str(ckpt)})
            self._publish(start, cfg.max_steps, message=f"Resumed from step {start}.",
                          notice=f"Resumed from the checkpoint at step {start} ({ckpt}).")
        else:
            if acc.is_main_process:
                (self.run_dir / "metrics.jsonl").unlink(missing_ok=True)
            self._event({"event": "start", "step": 0})
        if acc.is_main_process:
            (self.run_dir / "config.json").write_text(
                json.dumps({"config": cfg.to_dict(), "task": task.describe()}, indent=1),
                encoding="utf-8")
        self.step = start
        if start >= cfg.max_steps:
            self._publish(start, cfg.max_steps, message="Already trained to the requested steps.")
            return TrainResult("done", start, cfg.max_steps, None, self.run_dir, ckpt, 0.0)

        if cfg.tensorboard:
            acc.init_trackers("train", config={k: v for k, v in cfg.to_dict().items()
                                               if isinstance(v, int | float | str | bool)})
        loader = self._dataloader(dataset, start)
        per_step = cfg.batch_size * acc.num_processes * max(1, cfg.gradient_accumulation)  # items a step
        for m in self.models.values():
            m.train()
        window: list[float] = []
        part_window: dict[str, list[float]] = {}  # the task's step_metrics since the last log
        last_loss: float | None = None
        t0, s0 = time.monotonic(), start
        self._held = 0.0
        status = "done"
        last_ckpt = ckpt
        micro = 0  # batches accumulated towards the next optimiser step
        try:
            for batch in loader:
                # pause and stop between optimiser steps, never inside an accumulated one
                if not micro and self.paused() and not self._stop_requested():
                    t_pause = time.monotonic()
                    while self.paused() and not self._stop_requested():
                        self._publish(self.step, cfg.max_steps, message="Paused.")
                        time.sleep(0.2)
                    self._held += time.monotonic() - t_pause
                if not micro and self._stop_requested():
                    status = "cancelled"
                    break
                loss = task.loss(self.models, batch, self.step)
                if not torch.isfinite(loss.detach()):
                    raise TrainingError(f"The loss became {loss.item()} at step {self.step}.",
                                        "Lower the learning rate and resume from the last checkpoint.")
                _collect_parts(task.step_metrics(), part_window)
                accumulate = max(1, cfg.gradient_accumulation)
                acc.backward(loss / accumulate)
                micro += 1
                if micro < accumulate:  # more batches before this optimiser step
                    window.append(loss.detach().float().item())
                    continue
                micro = 0
                if cfg.grad_clip:
                    acc.clip_grad_norm_(clipped, cfg.grad_clip)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                self.step += 1
                window.append(loss.detach().float().item())

                active = max(1e-9, time.monotonic() - t0 - self._held)  # paused time left out
                its = (self.step - s0) / active
                eta = (cfg.max_steps - self.step) / its if its > 0 else None
                eta_text = f" ETA {eta / 60:.1f} min" if eta is not None else ""
                if self.step % max(1, cfg.log_every) == 0 or self.step == cfg.max_steps:
                    mean = torch.tensor(sum(window) / len(window), device=acc.device)
                    last_loss = acc.reduce(mean, reduction="mean").item()
                    window = []
                    parts = self._mean_parts(part_window)
                    part_window = {}
                    lr = sched.get_last_lr()[0]
                    epoch = self.step * per_step / n
                    memory = _memory_mb(acc.device)
                    self._event({"event": "step", "step": self.step, "total": cfg.max_steps,
                                 "loss": last_loss, "lr": lr, "it_s": its, "eta_s": eta, "epoch": epoch,
                                 **memory, **parts})
                    if cfg.tensorboard:
                        acc.log({"loss": last_loss, "lr": lr, "it_s": its, **parts}, step=self.step)
                    self._publish(self.step, cfg.max_steps,
                                  message=f"step {self.step}/{cfg.max_steps} loss {last_loss:.4f} "
                                          f"lr {lr:.2e} {its:.2f} it/s{eta_text}",
                                  metrics={"loss": last_loss, "lr": lr, "it_s": its, "epoch": epoch,
                                           **({"eta_s": eta} if eta is not None else {}), **memory,
                                           **parts})
                else:
                    loss_text = f" loss {last_loss:.4f}" if last_loss is not None else ""
                    self._publish(self.step, cfg.max_steps,
                                  message=f"step {self.step}/{cfg.max_steps}{loss_text} "
                                          f"{its:.2f} it/s{eta_text}")
                if self._stopping:  # cancelled while reporting this step: its checkpoint follows
                    status = "cancelled"
                    break
                # checkpoints and samples are not training: their time stays out of it/s and the ETA
                t_aside, held = time.monotonic(), self._held
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    last_ckpt = self.save_checkpoint()
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self._sample()
                self._held = held + time.monotonic() - t_aside
        except KeyboardInterrupt:  # Ctrl-C: keep the steps made so far, then stop as asked
            if self.step > start and not self._saved(last_ckpt):
                self.save_checkpoint()
            raise
        if not self._saved(last_ckpt) and (status == "done" or self.step > start):
            last_ckpt = self.save_checkpoint()  # a cancelled run keeps the step it stopped at
        self._event({"event": status, "step": self.step})
        if cfg.tensorboard:
            acc.end_training()
        if status == "done":
            self._publish(self.step, cfg.max_steps, message="Training finished.")
        else:
            where = f"; the checkpoint at step {self.step} is saved" if self._saved(last_ckpt) else ""
            self._publish(self.step, cfg.max_steps, message=f"Stopped at step {self.step}.",
                          notice=f"Training stopped at step {self.step} of {cfg.max_steps}{where}: "
                                 f"train again (resume is the default) to continue from it.")
        return TrainResult(status, self.step, cfg.max_steps, last_loss, self.run_dir, last_ckpt,
                           time.time() - t_start)

    def _mean_parts(self, part_window: dict[str, list[float]]) -> dict[str, float]:
        """Each step metric's mean over the logging window (averaged across processes, sorted
        names: every process reduces the same keys in the same order)."""
        out = {}
        for key in sorted(part_window):
            mean = torch.tensor(sum(part_window[key]) / len(part_window[key]), device=self.accelerator.device)
            out[key] = self.accelerator.reduce(mean, reduction="mean").item()
        return out

    def _saved(self, checkpoint: Path | None) -> bool:
        """Whether ``checkpoint`` holds the current step."""
        return checkpoint is not None and checkpoint.name == f"{CHECKPOINT_PREFIX}{self.step:08d}"

    def _sample(self) -> None:
        if not self.accelerator.is_main_process:
            return
        with torch.random.fork_rng(devices=[]):
            models = {k: self.accelerator.unwrap_model(m) for k, m in self.models.items()}
            for m in models.values():
                m.eval()
            try:
                with torch.no_grad():
                    preview = self.task.sample(models, self.step)
            finally:
                for m in models.values():
                    m.train()
        if preview is None:
            return
        out = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        if hasattr(preview, "save"):
            out.parent.mkdir(parents=True, exist_ok=True)
            preview.save(out)
            self._event({"event": "sample", "step": self.step, "path": str(out)})
        self._publish(self.step, self.config.max_steps, preview=preview, message=f"Sample at step {self.step}.")

    def unwrapped(self) -> dict[str, torch.nn.Module]:
        """The trained models without accelerate/DDP wrappers."""
        return {k: self.accelerator.unwrap_model(m) for k, m in self.models.items()}


def _collect_parts(values: dict[str, Any], part_window: dict[str, list[float]]) -> None:
    """Add a task's step metrics to the logging window: finite numbers (or one-element tensors)
    under names the engine does not write itself."""
    for key, value in (values or {}).items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.detach().float().item()
        if (isinstance(key, str) and key not in ENGINE_KEYS and isinstance(value, int | float)
                and not isinstance(value, bool) and math.isfinite(value)):
            part_window.setdefault(key, []).append(float(value))


def _checkpoint_problem(exc: BaseException) -> str:
    """Why a checkpoint could not be read, in a few words."""
    if isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" in str(exc):
        return "it holds objects the weights-only loader refuses to run (a damaged or tampered file)."
    return _first_line(exc)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The gist of an error in one line: torch's refusal of a pickle spans a dozen."""
    text = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _memory_mb(device: torch.device) -> dict[str, float]:
    """This process's resident memory and, on CUDA, the memory torch holds there (MB)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            out["rss_mb"] = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        pass
    if device.type == "cuda":
        out["cuda_mb"] = torch.cuda.memory_allocated(device) / 2**20
    return out


def train(task: TrainingTask, config: TrainConfig, report: Report | None = None,
          cancelled: Callable[[], bool] | None = None,
          paused: Callable[[], bool] | None = None) -> tuple[TrainResult, Trainer]:
    """Convenience: build a :class:`Trainer`, run it, return the result and the trainer."""
    trainer = Trainer(task, config, report=report, cancelled=cancelled, paused=paused)
    return trainer.run(), trainer
