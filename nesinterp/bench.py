"""Benchmarks that train several model variants with one budget and tabulate their scores: the variant
runner (``train_variants``, also behind ``nesinterp bench compare``: ``bench_compare``) and ACAI's lines benchmark
(``bench_lines``, behind ``nesinterp bench lines``), which scores its runs with ``nesinterp.evaluate.lines``.
"""

from __future__ import annotations

import os
import signal
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import Config, load_config, variant_overrides
from .evaluate.lines import LAST_EVALUATIONS, PAIRS, STEPS, read_evaluations, run_score
from .jsonio import dumps
from .train import ensure_trained, is_trained


# --- several variants, one budget -------------------------------------------------------------------

@dataclass(frozen=True)
class VariantRun:
    """One model variant to train: a label for the log, its resolved config and its run directory."""

    label: str
    config: Config
    run_dir: Path


def train_variants(runs: Sequence[VariantRun], jobs: int = 1, log: Callable[[str], None] = print) -> None:
    """Bring every run to its train.steps: finished runs are kept, interrupted ones resumed, the rest
    trained, ``jobs`` at a time in worker processes with cores / jobs threads each. Logs each run as
    'to train' or 'done' first, then each as it is trained."""
    todo = [run for run in runs if not is_trained(run.run_dir, run.config.train.steps)]
    for run in runs:
        log(f"{run.label}: {'to train' if run in todo else 'done'} ({run.run_dir})")
    if not todo:
        return
    if jobs <= 1:
        for run in todo:
            ensure_trained(run.config.to_dict(), str(run.run_dir))
            log(f"{run.label}: trained")
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"))
    previous = _sigterm_as_interrupt()
    try:
        futures = [(run, pool.submit(ensure_trained, run.config.to_dict(), str(run.run_dir), threads)) for run in todo]
        for run, future in futures:
            future.result()
            log(f"{run.label}: trained")
    except BaseException:
        # Stopped (Ctrl-C, SIGTERM) or failed: end the workers too, never leave them training. Each
        # saves a checkpoint at the step it reached on SIGTERM, so the same command resumes.
        workers = list(getattr(pool, "_processes", {}).values())
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        pool.shutdown(wait=False, cancel_futures=True)  # and no further task starts
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
        raise
    else:
        pool.shutdown()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt():
    """Make SIGTERM raise KeyboardInterrupt in this (main) thread, as Ctrl-C does; the old handler, or
    None where signals cannot be set here."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        return None


# --- the lines benchmark ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchOptions:
    models: tuple[str, ...] = ("baseline", "acai")
    samples: int = 1 << 18  # training samples per run (the paper: 2^24)
    seeds: int = 1
    evaluations: int = 16  # evaluations per run (a run scores the median of the last three)
    out: str = "runs/bench-lines"
    overrides: tuple[str, ...] = ()  # extra config overrides for every run (e.g. train.device=cuda)
    jobs: int = 1  # runs trained at once (each with cores / jobs threads)


def run_config(model: str, seed: int, options: BenchOptions) -> Config:
    steps = max(1, options.samples // 64)
    every = max(1, steps // max(1, options.evaluations))
    overrides = variant_overrides(model) + [
        f"train.steps={steps}", "train.batch=64", f"train.seed={seed}", f"train.eval_every={every}",
        f"train.checkpoint_every={every}", f"train.sample_every={steps}", f"train.log_every={min(100, every)}",
    ] + list(options.overrides)
    return load_config("lines", overrides)


def run_name(model: str, seed: int, samples: int) -> str:
    return f"{model.replace('+', '-')}-seed{seed}-n{samples}"


def bench_lines(options: BenchOptions, log: Callable[[str], None] = print) -> dict:
    """Train every model x seed with the same budget (reusing finished runs and resuming interrupted
    ones under ``options.out``), then tabulate. Returns the results (also written as results.json
    and results.md in ``options.out``)."""
    out = Path(options.out)
    plan = []
    for model in options.models:
        variant_overrides(model)  # fail on a bad name before any training
        for seed in range(options.seeds):
            cfg = run_config(model, seed, options)
            plan.append((model, seed, VariantRun(f"{model} seed {seed}", cfg, out / run_name(model, seed, options.samples))))
    out.mkdir(parents=True, exist_ok=True)
    train_variants([run for _m, _s, run in plan], options.jobs, log)
    runs = []
    for model, seed, run in plan:
        evaluations = read_evaluations(run.run_dir)
        if not evaluations:
            raise RuntimeError(f"{run.run_dir}: no evaluations logged (train.eval_every is 0?)")
        score = run_score(evaluations)
        cfg = run.config
        runs.append({"model": model, "seed": seed, "run_dir": str(run.run_dir), "steps": cfg.train.steps,
                     "samples": cfg.train.steps * cfg.train.batch, **score,
                     "final": {k: evaluations[-1][k] for k in ("step", "lines_distance", "lines_smoothness")}})
    table = summarize(runs, options.models)
    results = {"benchmark": "lines", "samples": options.samples, "seeds": options.seeds,
               "protocol": {"pairs": PAIRS, "steps": STEPS, "score": f"median of the last {LAST_EVALUATIONS} of "
                            f"{options.evaluations} evaluations"},
               "overrides": list(options.overrides), "models": table, "runs": runs}
    _atomic_write(out / "results.json", dumps(results, indent=2))
    _atomic_write(out / "results.md", markdown_table(results))
    return results


def summarize(runs: list[dict], models) -> list[dict]:
    rows = []
    for model in models:
        mine = [r for r in runs if r["model"] == model]
        row = {"model": model, "runs": len(mine)}
        row["lines_undefined"] = statistics.fmean(r["lines_undefined"] for r in mine)
        for key in ("lines_distance", "lines_smoothness"):
            values = [r[key] for r in mine]
            row[key] = statistics.fmean(values)
            row[key + "_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


PAPER = {"baseline": (6.88, 0.44), "acai": (0.24, 0.10)}  # Table 1 at 2^24 samples (x1e-3, smoothness)


def markdown_table(results: dict) -> str:
    seeds = results["seeds"]
    lines = [f"Lines benchmark: {results['samples']} training samples per run ({results['samples'] / (1 << 24):.3g} of "
             f"the paper's 2^24), {seeds} seed{'s' if seeds != 1 else ''}, mean +- std over seeds; each run scored "
             f"by the {results['protocol']['score']}. Lower is better. Undefined: interpolations whose angle "
             "hardly moves (counted as smoothness 0; a collapsed model has many).", "",
             "| model | Mean Distance (x1e-3) | Smoothness | undefined | paper (2^24) |", "|---|---|---|---|---|"]
    for row in results["models"]:
        paper = PAPER.get(row["model"])
        lines.append(f"| {row['model']} | {1e3 * row['lines_distance']:.2f} +- {1e3 * row['lines_distance_std']:.2f} | "
                     f"{row['lines_smoothness']:.3f} +- {row['lines_smoothness_std']:.3f} | {row['lines_undefined']:.0f} / {PAIRS} | "
                     f"{f'{paper[0]:.2f} / {paper[1]:.2f}' if paper else '-'} |")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["BenchOptions", "VariantRun", "bench_lines", "markdown_table", "run_config", "run_name", "train_variants"]
