"""Scoring trained models (``nesinterp eval``; ``nesinterp.bench`` scores its runs with it): one module per
kind of run - ``music`` (NES-MDB models on a held-out split), ``lines`` and ``mnist`` (the ACAI image
benchmarks). Each loads what it needs, calls the pure functions of ``nesinterp.metrics`` and writes a report folder.
"""

from __future__ import annotations

from pathlib import Path

from .lines import evaluate_lines, write_lines_report
from .mnist import evaluate_mnist
from .music import DEFAULT_WINDOWS, VOICES, evaluate_music, held_out_windows, write_music_report
from .report import EvalError, report_dir


def evaluate_run(run_dir, out_dir=None, data=None, split: str = "valid", pairs: int = 64, steps: int = 8,
                 seed: int = 0, device: str = "cpu", force: bool = False,
                 mode: str = "slerp", refine: int | None = None, windows: int | None = DEFAULT_WINDOWS,
                 progress=None) -> tuple[str, dict, Path]:
    """Score a run directory (or model files) with the benchmark of its kind and write the report folder
    (default RUN_DIR/eval). ``data``: the dataset (music: a prepared folder; mnist: the IDX folder),
    default the run config's data.path; ``mode``: the music interpolation path, slerp or lerp; ``refine``:
    music codes refined by this many steps (None: the model's own); ``windows``: music windows scored
    (None or 0: all); ``progress(done, total)``: called as music windows are coded. Returns
    (kind, report, out_dir)."""
    from ..checkpoint import CheckpointError, read_model_meta
    from ..config import ConfigError, config_from_dict
    from ..trained_model import TrainedModel, model_files

    run_dir = Path(run_dir)
    _weights, meta_path = model_files(run_dir)
    meta = read_model_meta(meta_path)
    try:
        cfg = config_from_dict(meta["config"])
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: model description is incomplete or invalid "
                              f"({exc if not isinstance(exc, KeyError) else f'no {exc} entry'})") from None
    out_dir = report_dir(run_dir, out_dir)
    if meta.get("task") == "music":
        model = TrainedModel.load(run_dir, device=device)
        dataset = data if data is not None else cfg.data.path
        report = write_music_report(model, dataset, out_dir, split=split, pairs=pairs, steps=steps, seed=seed,
                                    force=force, mode=mode, refine=refine, windows=windows, progress=progress)
        return "music", report, out_dir
    if cfg.data.kind == "lines":
        return "lines", write_lines_report(run_dir, out_dir, device=device, force=force), out_dir
    if cfg.data.kind == "mnist":
        return "mnist", evaluate_mnist(run_dir, data, out_dir, device=device, seed=seed, force=force), out_dir
    raise EvalError(f"{meta_path}: no evaluation for a {meta.get('task')} model of {cfg.data.kind} data")


__all__ = ["VOICES", "EvalError", "evaluate_lines", "evaluate_mnist", "evaluate_music", "evaluate_run",
           "held_out_windows", "write_lines_report", "write_music_report"]
