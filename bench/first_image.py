"""P11, the first image of a session: the window, and ``studio generate`` against a bare diffusers script.

(a) window: the real studio (``studio.ui.app.run``) in a fresh STUDIO_HOME under offscreen Qt, in a
    subprocess per run. Once the models are listed and ``--click-after`` seconds have passed since
    the process started (a designer typing a prompt; 0: as soon as the Generate button can work;
    -1: as soon as the warm-up of the default model is done), a prompt is typed and the Generate
    button clicked; the time from the click to the finished image on the canvas is the figure
    (goal ≤ 2 s), with the start → first paint, start → warm-up done and start → image times.
(b) one-shot: ``studio generate --model demo`` and a bare diffusers script doing the same (the demo
    folder, ``StableDiffusionPipeline``, DPM++ 2M built from the folder's scheduler config, the same
    steps, guidance, size and seed on a CPU generator, the image saved as PNG), each a fresh process;
    the figure is the ratio of the medians (goal ≤ 1.05), of the wall clock and of the CPU time
    (user + system; steadier than the wall clock on a shared machine).

The variants run interleaved, ``--runs`` rounds, and medians are reported: the machine may be
shared. Usage: ``OMP_NUM_THREADS=1 .venv/bin/python bench/first_image.py [--runs 5] [--click-after 0 8 -1]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "models" / "demo"
PROMPT = "a large red circle on the left on a white background"
SEED, STEPS, GUIDANCE, SIZE = 7, 20, 2.0, 64
CLICK_GOAL_S = 2.0
RATIO_GOAL = 1.05

BARE_SCRIPT = f"""
import sys

import torch
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

pipe = StableDiffusionPipeline.from_pretrained({str(DEMO)!r}, local_files_only=True, use_safetensors=True)
pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
pipe.set_progress_bar_config(disable=True)
image = pipe({PROMPT!r}, num_inference_steps={STEPS}, guidance_scale={GUIDANCE}, width={SIZE}, height={SIZE},
             generator=torch.Generator("cpu").manual_seed({SEED})).images[0]
image.save(sys.argv[1])
"""


# ------------------------------------------------------------------------------- (a) window
def window_once(click_after: float) -> dict[str, Any]:
    """Run the studio in this process, click Generate once, return the times (seconds from start)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.ui import app as studio_app
    from studio.ui import warmup
    from studio.ui.window import MainWindow

    started = studio_app.process_started_at()
    times: dict[str, Any] = {}

    def now() -> float:
        return time.perf_counter() - started

    def find_window() -> MainWindow | None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        return windows[0] if windows else None

    def shown(_image: object) -> None:
        window = find_window()
        if window is not None and "click" in times and not window.canvas_model.previewing and "image" not in times:
            QApplication.processEvents()  # let the canvas paint it
            times["image"] = now()
            window.close()

    def step() -> None:
        window = find_window()
        if window is None or window.session is None:
            QTimer.singleShot(5, step)
            return
        times.setdefault("session", now())
        panel = window.prompt_panel
        warmed = "warmup_done" in times if click_after < 0 else now() >= click_after
        ready = not window.library_model.scanning and panel.model.currentText() and warmed
        if not ready:
            QTimer.singleShot(5, step)
            return
        window.canvas_model.image_changed.connect(shown)
        panel.prompt.setPlainText(PROMPT)
        times["click"] = now()
        panel.generate.click()
        times["feedback"] = panel.feedback.text()

    def first_paint() -> None:
        times["paint"] = now()

    original = studio_app._Startup.after_first_paint

    def after_first_paint(self) -> None:  # the app's own hook, timed
        first_paint()
        original(self)

    warm_run = warmup.ModelWarmup._run

    def timed_warmup(self) -> None:  # when the warm-up ended, and how far it got
        warm_run(self)
        times["warmup_done"], times["warmup_stage"] = now(), self.stage

    studio_app._Startup.after_first_paint = after_first_paint  # type: ignore[method-assign]
    warmup.ModelWarmup._run = timed_warmup  # type: ignore[method-assign]
    studio_app.application()  # the timers below need the application's event loop
    QTimer.singleShot(0, step)
    guard = QTimer(singleShot=True, interval=120_000)
    guard.timeout.connect(QApplication.quit)
    guard.start()
    code = studio_app.run(started_at=started)
    result = {k: round(v, 3) if isinstance(v, float) else v for k, v in times.items()}
    if "image" in times:
        result["click_to_image"] = round(times["image"] - times["click"], 3)
    result["exit_code"] = code
    return result


def run_window(click_after: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="first-image-") as home:
        env = {**os.environ, "STUDIO_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
        done = subprocess.run([sys.executable, __file__, "--window-once", str(click_after)], env=env,
                              capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"window run failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- (b) one-shot
def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"{argv[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_studio_generate(work: Path, index: int) -> tuple[float, float]:
    home = work / "home"  # a designer's studio folder, used before (the preview map of demo is known)
    env = {**os.environ, "STUDIO_HOME": str(home)}
    return timed([sys.executable, "-m", "studio.cli.main", "generate", "--model", "demo", "--prompt", PROMPT,
                  "--seed", str(SEED), "--steps", str(STEPS), "--guidance", str(GUIDANCE), "--width", str(SIZE),
                  "--height", str(SIZE), "--scheduler", "DPM++ 2M", "--out", str(work / f"studio-{index}.png")], env)


def run_bare_script(work: Path, index: int) -> tuple[float, float]:
    script = work / "bare_diffusers.py"
    script.write_text(BARE_SCRIPT, encoding="utf-8")
    return timed([sys.executable, str(script), str(work / f"bare-{index}.png")], dict(os.environ))


# ------------------------------------------------------------------------------------ main
def median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--click-after", type=float, nargs="+", default=[0.0, 8.0, -1.0],
                        help="seconds after start before clicking Generate, -1: once warm (a window run each)")
    parser.add_argument("--skip-window", action="store_true")
    parser.add_argument("--skip-oneshot", action="store_true")
    parser.add_argument("--window-once", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.environ.get("FIRST_IMAGE_TRACE"):
        import faulthandler

        faulthandler.dump_traceback_later(float(os.environ["FIRST_IMAGE_TRACE"]), exit=True)
    if args.window_once is not None:
        print(json.dumps(window_once(args.window_once)), flush=True)
        return

    windows: dict[float, list[dict[str, Any]]] = {c: [] for c in args.click_after}
    studio_s: list[tuple[float, float]] = []
    bare_s: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="first-image-") as tmp:
        work = Path(tmp)
        for index in range(args.runs):
            if not args.skip_oneshot:
                order = (run_bare_script, run_studio_generate) if index % 2 else (run_studio_generate, run_bare_script)
                for variant in order:
                    (studio_s if variant is run_studio_generate else bare_s).append(variant(work, index))
            if not args.skip_window:
                for click_after in args.click_after:
                    windows[click_after].append(run_window(click_after))
            print(f"round {index + 1}/{args.runs} done", file=sys.stderr, flush=True)

    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "omp_threads": os.environ.get("OMP_NUM_THREADS", "")},
        "runs": args.runs,
    }
    if not args.skip_window:
        report["window"] = {
            (f"click_after_{c:g}s" if c >= 0 else "click_once_warm"): {
                "click_to_image_s": median([r["click_to_image"] for r in rs if "click_to_image" in r]),
                "start_to_paint_s": median([r["paint"] for r in rs if "paint" in r]),
                "click_at_s": median([r["click"] for r in rs if "click" in r]),
                "start_to_image_s": median([r["image"] for r in rs if "image" in r]),
                "start_to_warm_s": median([r["warmup_done"] for r in rs if "warmup_done" in r]),
                "all_click_to_image_s": [r.get("click_to_image") for r in rs],
            } for c, rs in windows.items()}
        report["window"]["goal_click_to_image_s"] = CLICK_GOAL_S
    if not args.skip_oneshot:
        wall = {name: [w for w, _cpu in runs] for name, runs in (("studio", studio_s), ("bare", bare_s))}
        cpu = {name: [c for _w, c in runs] for name, runs in (("studio", studio_s), ("bare", bare_s))}
        report["oneshot"] = {
            "studio_generate_s": median(wall["studio"]), "bare_diffusers_s": median(wall["bare"]),
            "ratio": round(median(wall["studio"]) / median(wall["bare"]), 3), "goal_ratio": RATIO_GOAL,
            "studio_cpu_s": median(cpu["studio"]), "bare_cpu_s": median(cpu["bare"]),
            "cpu_ratio": round(median(cpu["studio"]) / median(cpu["bare"]), 3),
            "all_studio_wall_cpu_s": [(round(w, 2), round(c, 2)) for w, c in studio_s],
            "all_bare_wall_cpu_s": [(round(w, 2), round(c, 2)) for w, c in bare_s]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
