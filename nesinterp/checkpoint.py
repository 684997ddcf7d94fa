"""Run directories, checkpoints and model files: safetensors for every tensor, JSON for everything else,
no pickle.

A model is ``model.safetensors`` + ``model.json`` (the config and facts needed to rebuild it). Training
state for ``--resume`` (critic, discriminator, optimizer moments, random generator states, step) sits
beside it in ``train_state.safetensors`` + ``train_state.json``. A checkpoint is a folder written under
a temporary name and renamed into place, then named in ``latest``; a killed run resumes from the last
complete one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, config_from_dict
from .errors import NesinterpError
from .jsonio import dumps

MODEL_FORMAT = "nesinterp-model"
MODEL_VERSION = 1
KEEP_CHECKPOINTS = 2


class CheckpointError(NesinterpError):
    """A file or folder that is not a usable nesinterp model or checkpoint."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}


def load_tensors(path: Path, device="cpu") -> dict[str, torch.Tensor]:
    """safetensors only: a torch pickle (which could run code) is refused with a clear message."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    # safetensors: an 8-byte header length, then the JSON header; the length's first byte may be 0x80,
    # which alone would look like a pickle's protocol marker
    safetensors = head[8:9] == b"{"
    if not safetensors and (head[:2] == b"PK" or head[:1] == b"\x80"):
        raise CheckpointError(f"{path}: a torch pickle checkpoint, refused (loading it could run code); "
                              "nesinterp models are safetensors")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None


def optimizer_to_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer's state into tensors (for safetensors) and plain values (for JSON)."""
    state = optimizer.state_dict()
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value
            else:
                plain["state"].setdefault(str(index), {})[key] = value
    return tensors, plain


def optimizer_from_tensors(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict, plain: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, entry in plain.get("state", {}).items():
        state.setdefault(int(index), {}).update(entry)
    optimizer.load_state_dict({"state": state, "param_groups": plain["param_groups"]})


def write_checkpoint(run_dir: Path, step: int, model_tensors: dict, model_meta: dict,
                     state_tensors: dict, state_meta: dict) -> Path:
    """Write checkpoints/step-NNNNNNNN atomically, point ``latest`` at it, refresh the top-level model
    files, and drop checkpoints older than the last KEEP_CHECKPOINTS."""
    folder = run_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    tmp = folder / f".step-{step:08d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(_contiguous(model_tensors), str(tmp / "model.safetensors"))
    (tmp / "model.json").write_text(dumps(model_meta, indent=2))
    save_file(_contiguous(state_tensors), str(tmp / "train_state.safetensors"))
    (tmp / "train_state.json").write_text(dumps(state_meta, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_text(run_dir / "latest", final.name + "\n")
    # The model at the top of the run dir is what `blend --model RUN_DIR` uses.
    atomic_write_bytes(run_dir / "model.safetensors", (final / "model.safetensors").read_bytes())
    atomic_write_text(run_dir / "model.json", dumps(model_meta, indent=2))
    for old in sorted(p for p in folder.glob("step-*") if p.is_dir())[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint named in ``latest``, else the newest complete step folder, else None."""
    folder = run_dir / "checkpoints"
    named = run_dir / "latest"
    if named.exists():
        candidate = folder / named.read_text().strip()
        if (candidate / "train_state.json").exists():
            return candidate
    complete = sorted(p for p in folder.glob("step-*") if (p / "train_state.json").exists())
    return complete[-1] if complete else None


def read_model_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable model description ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path}: not a nesinterp model description")
    if meta.get("version", 0) > MODEL_VERSION:
        raise CheckpointError(f"{path}: model format {meta['version']} is newer than this nesinterp")
    return meta


def model_files(path: Path) -> tuple[Path, Path]:
    """(model.safetensors, model.json) from a run directory, either file, or a folder holding both."""
    if path.is_dir():
        weights, meta = path / "model.safetensors", path / "model.json"
        if not weights.exists() or not meta.exists():
            raise CheckpointError(f"{path}: no model.safetensors and model.json here (train one with "
                                  "`nesinterp train`, or pass a run directory)")
        return weights, meta
    if not path.exists():
        raise CheckpointError(f"{path}: no such model file or run directory")
    if path.suffix == ".json":
        return path.with_suffix(".safetensors"), path
    return path, path.with_suffix(".json")


def export_model(run_dir: str | Path, out_dir: str | Path, half: bool = True) -> Path:
    """Copy a run's model into ``out_dir`` as a small, self-contained model (float16 weights by default:
    half the size, and the decoded notes are the argmax of logits, which float16 barely moves)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    weights_path, meta_path = model_files(run_dir)
    meta = read_model_meta(meta_path)
    tensors = load_tensors(weights_path)
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out_dir / "model.safetensors"))
    (out_dir / "model.json").write_text(dumps(meta, indent=2))
    return out_dir


def load_autoencoder(path: str | Path, device: str = "cpu", task: str | None = None) -> tuple:
    """The trained autoencoder (eval mode, float32) of a run directory or model file, with its model.json
    description and config. ``task`` ("music", "image"): refuse a model of another kind."""
    from .models import Autoencoder

    path = Path(path)
    weights_path, meta_path = model_files(path)
    if not meta_path.exists():
        raise CheckpointError(f"{weights_path}: no {meta_path.name} beside it describing the model")
    meta = read_model_meta(meta_path)
    if task is not None and meta.get("task") != task:
        raise CheckpointError(f"{meta_path}: a {meta.get('task')} model, not a{'n' if task[0] in 'aeiou' else ''} "
                              f"{task} model")
    try:
        cfg = config_from_dict(meta["config"])
        autoencoder = Autoencoder(cfg.model, int(meta["channels"]), int(meta["window"]))
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: model description is incomplete or invalid ({exc})") from None
    tensors = load_tensors(weights_path)
    expected = autoencoder.state_dict()
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise CheckpointError(f"{weights_path}: not weights of this model (missing {missing[0]})")
    for key, value in expected.items():
        if tensors[key].shape != value.shape:
            raise CheckpointError(f"{weights_path}: incompatible shapes: {key} is {tuple(tensors[key].shape)} "
                                  f"in the file, {tuple(value.shape)} in the model its model.json describes")
    autoencoder.load_state_dict({k: tensors[k].to(torch.float32) for k in expected})
    return autoencoder.to(device).eval(), meta, cfg
