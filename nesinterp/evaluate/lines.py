"""The ACAI lines benchmark: score a lines autoencoder (``evaluate_lines``), and train a set of models
with one budget and tabulate their scores (``bench_lines``, behind ``nesinterp bench lines``).

Protocol (evaluation.md, section 1): 512 random test lines make 256 pairs; each pair's codes are joined
by a straight line and decoded at 16 evenly spaced points, endpoints included; the images are scored
with ``nesinterp.metrics.lines``. A run is scored by the median of its last evaluations, which training
writes to ``evaluations.jsonl`` every ``train.eval_every`` steps.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from ..images import lines_reference, render_lines
from ..jsonio import dumps
from ..metrics.lines import lines_scores

PAIRS, STEPS = 256, 16
EVAL_SEED = 1234567  # the same test lines for every model and seed: scores compare like with like
LAST_EVALUATIONS = 3  # a run's score: the median of this many last evaluations


class LinesEvaluator:
    """Holds the reference set and the test lines on a device, to score a model many times cheaply."""

    def __init__(self, device="cpu", pairs: int = PAIRS, steps: int = STEPS, seed: int = EVAL_SEED,
                 mode: str = "official"):
        self.device = torch.device(device)
        self.steps = steps
        self.reference, self.reference_theta = lines_reference(device=self.device, mode=mode)
        gen = torch.Generator().manual_seed(seed)
        theta = torch.rand(2 * pairs, generator=gen, dtype=torch.float64) * (2 * math.pi)
        self.test_theta = theta
        self.test_images = render_lines(theta.to(self.device), mode=mode)

    @torch.no_grad()
    def interpolations(self, autoencoder) -> torch.Tensor:
        """Decoded paths (pairs, steps, 1, 32, 32) between the test pairs' codes (first half to second)."""
        was_training = autoencoder.training
        autoencoder.eval()
        try:
            a, b = self.test_images.chunk(2)
            return autoencoder.interpolate(a, b, self.steps).float()
        finally:
            autoencoder.train(was_training)

    def __call__(self, autoencoder) -> dict:
        scores = lines_scores(self.interpolations(autoencoder), self.reference, self.reference_theta)
        return {"lines_distance": scores["mean_distance"], "lines_smoothness": scores["smoothness"],
                "lines_undefined": scores["undefined"]}


def evaluate_lines(autoencoder, device="cpu") -> dict:
    """Mean Distance and Smoothness of one lines autoencoder under the benchmark's protocol."""
    return LinesEvaluator(device)(autoencoder)


def read_evaluations(run_dir: str | Path) -> list[dict]:
    """The evaluations a run logged, one per step (a step evaluated twice across a resume: the last)."""
    path = Path(run_dir) / "evaluations.jsonl"
    if not path.exists():
        return []
    by_step = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step)]


def run_score(evaluations: list[dict], last: int = LAST_EVALUATIONS) -> dict:
    """A run's score: the median of each metric over its ``last`` evaluations."""
    tail = evaluations[-last:]
    return {key: statistics.median(e[key] for e in tail)
            for key in ("lines_distance", "lines_smoothness", "lines_undefined")}


REPORT_FILES = ("report.json", "summary.md", "interpolation_grid.png")


def write_lines_report(run_dir: str | Path, out_dir: str | Path | None = None, device="cpu", force: bool = False) -> dict:
    """``nesinterp eval`` for a lines run: the model's scores now, the run's score (the median of its last
    logged evaluations) and their history, written as report.json, summary.md and interpolation_grid.png
    (8 of the test pairs, 16 steps each) into ``out_dir`` (default RUN_DIR/eval)."""
    from ..interpolate import load_autoencoder
    from .report import (
        EvalError, check_writable, json_writer, report_dir, text_writer, write_image_grid, write_report_files,
    )

    run_dir = Path(run_dir)
    out_dir = report_dir(run_dir, out_dir)
    check_writable(out_dir, REPORT_FILES, force)
    autoencoder, meta, cfg = load_autoencoder(run_dir, device, task="image")
    if cfg.data.kind != "lines":
        raise EvalError(f"{run_dir}: a {cfg.data.kind} run, not a lines run")
    evaluator = LinesEvaluator(device)
    paths = evaluator.interpolations(autoencoder)
    now = lines_scores(paths, evaluator.reference, evaluator.reference_theta)
    history = read_evaluations(run_dir)
    report = {
        "tool": "nesinterp eval", "benchmark": "lines", "run_dir": str(run_dir), "step": meta.get("step"),
        "config": cfg.name, "acai": cfg.acai.enabled, "regularizer": cfg.regularizer.kind,
        "protocol": {"pairs": PAIRS, "steps": STEPS, "test_seed": EVAL_SEED},
        "now": now,
        "run_score": run_score(history) if history else None,
        "evaluations": history,
    }
    score = report["run_score"]
    summary = [f"# Lines benchmark: {run_dir}", "",
               f"Model at step {report['step']} ({cfg.name}; ACAI {'on' if cfg.acai.enabled else 'off'}, regularizer "
               f"{cfg.regularizer.kind}). {PAIRS} pairs x {STEPS} steps; lower is better.", "",
               "| | Mean Distance (x1e-3) | Smoothness | undefined |", "|---|---|---|---|",
               f"| this model | {1e3 * now['mean_distance']:.3f} | {now['smoothness']:.3f} | {now['undefined']} |"]
    if score:
        summary.append(f"| run score (median of last {min(LAST_EVALUATIONS, len(history))} evaluations) | "
                       f"{1e3 * score['lines_distance']:.3f} | {score['lines_smoothness']:.3f} | "
                       f"{score['lines_undefined']:.0f} |")
    summary.append("| paper at 2^24 samples: ACAI | 0.24 | 0.10 | |")
    summary.append("| paper at 2^24 samples: baseline AE | 6.88 | 0.44 | |")
    write_report_files(out_dir, {
        "report.json": json_writer(report),
        "summary.md": text_writer("\n".join(summary) + "\n"),
        "interpolation_grid.png": lambda path: write_image_grid(paths[:8].cpu().numpy(), path),
    }, force)
    return report


# --- the benchmark: several models, one budget ------------------------------------------------------

@dataclass(frozen=True)
class BenchOptions:
    models: tuple[str, ...] = ("baseline", "acai")
    samples: int = 1 << 18  # training samples per run (the paper: 2^24)
    seeds: int = 1
    evaluations: int = 16  # evaluations per run (a run scores the median of the last three)
    out: str = "runs/bench-lines"
    overrides: tuple[str, ...] = ()  # extra config overrides for every run (e.g. train.device=cuda)
    jobs: int = 1  # runs trained at once (each with cores / jobs threads)


def run_config(model: str, seed: int, options: BenchOptions):
    from ..config import load_config, variant_overrides

    steps = max(1, options.samples // 64)
    every = max(1, steps // max(1, options.evaluations))
    overrides = variant_overrides(model) + [
        f"train.steps={steps}", "train.batch=64", f"train.seed={seed}", f"train.eval_every={every}",
        f"train.checkpoint_every={every}", f"train.sample_every={steps}", f"train.log_every={min(100, every)}",
    ] + list(options.overrides)
    return load_config("lines", overrides)


def run_name(model: str, seed: int, samples: int) -> str:
    return f"{model.replace('+', '-')}-seed{seed}-n{samples}"


def bench_lines(options: BenchOptions, log=print) -> dict:
    """Train every model x seed with the same budget (reusing finished runs and resuming interrupted
    ones under ``options.out``), then tabulate. Returns the results (also written as results.json
    and results.md in ``options.out``)."""
    from ..config import variant_overrides
    from ..train import ensure_trained, is_trained

    out = Path(options.out)
    plan = []
    for model in options.models:
        variant_overrides(model)  # fail on a bad name before any training
        for seed in range(options.seeds):
            cfg = run_config(model, seed, options)
            plan.append((model, seed, cfg, out / run_name(model, seed, options.samples)))
    todo = [(m, s, c, d) for m, s, c, d in plan if not is_trained(d, c.train.steps)]
    for model, seed, cfg, run_dir in plan:
        log(f"{model} seed {seed}: {'to train' if (model, seed, cfg, run_dir) in todo else 'done'} ({run_dir})")
    if todo:
        out.mkdir(parents=True, exist_ok=True)
        threads = max(1, (os.cpu_count() or 1) // options.jobs) if options.jobs > 1 else 0
        if options.jobs > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(options.jobs, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(ensure_trained, c.to_dict(), str(d), threads): (m, s) for m, s, c, d in todo}
                for future, (m, s) in futures.items():
                    future.result()
                    log(f"{m} seed {s}: trained")
        else:
            for m, s, c, d in todo:
                ensure_trained(c.to_dict(), str(d))
                log(f"{m} seed {s}: trained")
    runs = []
    for model, seed, cfg, run_dir in plan:
        evaluations = read_evaluations(run_dir)
        if not evaluations:
            raise RuntimeError(f"{run_dir}: no evaluations logged (train.eval_every is 0?)")
        score = run_score(evaluations)
        runs.append({"model": model, "seed": seed, "run_dir": str(run_dir), "steps": cfg.train.steps,
                     "samples": cfg.train.steps * cfg.train.batch, **score,
                     "final": {k: evaluations[-1][k] for k in ("step", "lines_distance", "lines_smoothness")}})
    table = summarize(runs, options.models)
    results = {"benchmark": "lines", "samples": options.samples, "seeds": options.seeds,
               "protocol": {"pairs": PAIRS, "steps": STEPS, "score": f"median of the last {LAST_EVALUATIONS} of "
                            f"{options.evaluations} evaluations"},
               "overrides": list(options.overrides), "models": table, "runs": runs}
    out.mkdir(parents=True, exist_ok=True)
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


__all__ = ["BenchOptions", "LinesEvaluator", "bench_lines", "evaluate_lines", "markdown_table", "read_evaluations",
           "run_score", "write_lines_report"]
