"""The ACAI lines benchmark's scoring: score a lines autoencoder (``evaluate_lines``), a run's logged
evaluations (``run_score``) and its report (``write_lines_report``, behind ``nesinterp eval``). Training
several models to compare them is ``nesinterp.bench``.

Protocol (evaluation.md, section 1): 512 random test lines make 256 pairs; each pair's codes are joined
by a straight line and decoded at 16 evenly spaced points, endpoints included; the images are scored
with ``nesinterp.metrics.lines``. A run is scored by the median of its last evaluations, which training
writes to ``evaluations.jsonl`` every ``train.eval_every`` steps.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import torch

from ..images import lines_reference, render_lines
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
    from ..checkpoint import load_autoencoder
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


__all__ = ["LinesEvaluator", "evaluate_lines", "read_evaluations", "run_score", "write_lines_report"]
