"""Writing an evaluation's report folder: all files or none, never over existing ones unless asked."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import NesinterpError
from ..jsonio import dumps


class EvalError(NesinterpError):
    """An evaluation that cannot be made or written; the message says why in one line."""


def report_dir(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Where a run's report goes: ``out_dir`` when given, else ``eval/`` in the run directory (beside the
    model file when a file was named)."""
    if out_dir is not None:
        return Path(out_dir)
    run_dir = Path(run_dir)
    return (run_dir if run_dir.is_dir() else run_dir.parent) / "eval"


def check_writable(out_dir: str | os.PathLike, names, force: bool) -> None:
    """Refuse (EvalError) when ``out_dir`` is not a folder or already holds one of ``names``, unless ``force``.
    Call it before the work, so a refusal costs nothing."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise EvalError(f"{out_dir}: exists and is not a folder")
    if not force:
        for name in names:
            if (out_dir / name).exists():
                raise EvalError(f"{out_dir / name} exists (use --force to replace it)")


def write_report_files(out_dir: str | os.PathLike, writers: dict[str, Callable[[Path], None]], force: bool) -> list[Path]:
    """Run each ``writers[name](path)`` into a temporary folder inside ``out_dir``, then move every file
    into place; on any error nothing is left behind. Returns the final paths."""
    out_dir = Path(out_dir)
    check_writable(out_dir, writers, force)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".eval-tmp-", dir=out_dir))
    try:
        for name, write in writers.items():
            write(tmp / name)
        check_writable(out_dir, writers, force)  # one may have appeared while we worked
        for name in writers:
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / name for name in writers]


def json_writer(data) -> Callable[[Path], None]:
    """A writer of ``data`` as strict JSON (see ``plain``)."""
    return lambda path: path.write_text(dumps(data, indent=2) + "\n")


def text_writer(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text)


def write_image_grid(images, path: Path, cell: float = 0.6) -> None:
    """Interpolations as one PNG: ``images`` (rows, columns, 1, H, W) in [-1, 1], a row per pair and a
    column per step, in grey."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = np.asarray(images, dtype=np.float32)
    rows, cols = images.shape[:2]
    fig = Figure(figsize=(cols * cell, rows * cell))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            axes[r, c].imshow(images[r, c, 0], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            axes[r, c].axis("off")
    fig.subplots_adjust(left=0, right=1, top=1, bottom=0, wspace=0.05, hspace=0.05)
    fig.savefig(path, dpi=80)
