"""The run directory: made for a new run or checked for a resumed one (``prepare_run_dir``), locked
while a process trains it (``RunLock``), described in model.json (``model_description``), and asked
whether it is trained (``is_trained``). Checkpoints themselves are ``nesinterp.checkpoint``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import __version__
from ..checkpoint import MODEL_FORMAT, MODEL_VERSION, latest_checkpoint
from ..config import Config, load_config
from ..decoding import Decoding
from ..errors import TrainError

# What a resumed run may change: when it stops and how it reports, not what it learns.
RESUMABLE_CHANGES = {"train.steps", "train.log_every", "train.checkpoint_every", "train.checkpoint_minutes",
                     "train.sample_every", "train.eval_every", "train.threads", "train.device"}


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


RUN_FILES = {"config.yaml", "metrics.jsonl", "evaluations.jsonl", "latest", "model.json", "model.safetensors",
             "loss_curves.png", "checkpoints", "samples", "tensorboard", "eval", ".lock"}
"""What a run directory holds (the training writes these, ``nesinterp eval`` writes eval/): ``--force``
and a restart remove only these, and refuse a folder holding anything else."""


def clear_run_dir(run_dir: Path) -> None:
    """Remove a run's files from ``run_dir`` (its lock aside), refusing a folder that holds others."""
    import shutil

    foreign = sorted(p.name for p in run_dir.iterdir() if p.name not in RUN_FILES)
    if foreign:
        raise TrainError(f"{run_dir}: holds {foreign[0]}, which is not a training run's; choose another --run-dir")
    for entry in run_dir.iterdir():
        if entry.name == ".lock":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def prepare_run_dir(cfg: Config, run_dir: Path, resume: bool, main: bool = True, force: bool = False) -> bool:
    """Make ``run_dir`` ready for the run; True when training continues from a checkpoint. Call it
    holding the run's lock. Only the ``main`` process writes.

    - ``force``: start the run over: its files are removed first (``clear_run_dir``).
    - A new run into a folder that holds a run with no checkpoint yet (a start that failed, or was
      stopped before the first checkpoint) starts that run over: nothing of it could be continued.
      A folder holding a checkpoint is refused: ``resume`` continues it, ``force`` starts it over.
    - ``resume``: from the latest checkpoint, with a config that differs from the saved one only in
      RESUMABLE_CHANGES (then saved); a run with no checkpoint yet starts from step 0 with its config."""
    checkpoint = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if resume:
        saved_path = run_dir / "config.yaml"
        if saved_path.exists():
            changed = _changed_keys(load_config(saved_path).to_dict(), cfg.to_dict())
            fixed = [k for k in changed if k not in RESUMABLE_CHANGES]
            if fixed and checkpoint is not None:
                raise TrainError(f"{run_dir}: {fixed[0]} differs from the run's config.yaml; a resumed "
                                 f"run may change only {', '.join(sorted(RESUMABLE_CHANGES))}")
            if changed and main:
                saved_path.write_text(cfg.to_yaml())
        if checkpoint is not None and not force:
            return True
    if not main:
        return False  # rank 0 owns the run directory
    if run_dir.is_dir() and any(p.name != ".lock" for p in run_dir.iterdir()):
        if checkpoint is not None and not force:
            raise TrainError(f"{run_dir}: holds a run (checkpoint {checkpoint.name}); use --resume to continue "
                             "it, --force to start it over, or --run-dir for a new run")
        clear_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(cfg.to_yaml())
    return False


class RunLock:
    """``run_dir/.lock`` holding the training process's pid, so two processes never train (and write
    checkpoints into) the same run at once. A lock whose process has ended is stale and taken over."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and holder != os.getpid() and _alive(holder):
                    raise TrainError(f"{run_dir}: being trained by another process (pid {holder}); wait for it "
                                     "or stop it first") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            return
        raise TrainError(f"{run_dir}: could not take the run's lock {self.path}")

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._holder() == os.getpid():
            self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def model_description(cfg: Config, task, latent_dim: int, step: int) -> dict:
    """model.json: the config and the facts needed to rebuild and use the model without its dataset."""
    rep = getattr(task, "rep", None)
    meta = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "tool_version": __version__,
        "task": task.kind,
        "config": cfg.to_dict(),
        "channels": task.channels,
        "window": task.window,
        "latent_dim": latent_dim,
        "representation": rep.to_dict() if rep else None,
        "step": step,
        "data": task.dataset_info,
    }
    # the thresholds chosen at this checkpoint, for the encoder's codes: one "decoding" section
    return Decoding.of(rep).written(meta) if rep else meta


def is_trained(run_dir: str | Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a model trained to at least ``steps``."""
    meta = Path(run_dir) / "model.json"
    try:
        return json.loads(meta.read_text()).get("step", -1) >= steps
    except (OSError, ValueError):
        return False
