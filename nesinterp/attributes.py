"""Attribute vectors (MusicVAE's, Roberts et al. 2018): per musical attribute of a window, the mean code
of the windows in its top quarter minus that of its bottom quarter. ``amount`` times it added to a song's
codes moves the song along the attribute (1: by the top-minus-bottom-quarter difference). The codes are
the model's own (``TrainedModel.codes``, refined as blend's), so the vectors live where blends' codes do.
A model's vectors sit beside its model.json as attributes.json; ``benchmarks/experiments/attribute_sweeps.py``
measures how far a shift moves its attribute, and the others."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import atomic_write_text, model_files
from .errors import NesinterpError
from .jsonio import dumps
from .metrics.music import onsets
from .score import FRAME_RATE

FORMAT = "nesinterp-attributes"
VERSION = 1
FILE_NAME = "attributes.json"

ATTRIBUTES: dict[str, str] = {
    "density_p1": "P1 onsets per second (metrics.music.onsets: a new pitch, a start after silence, a re-attack)",
    "density_p2": "P2 onsets per second (as density_p1)",
    "density_tr": "TR (triangle) onsets per second (as density_p1; the triangle has no re-attacks)",
    "pitch": "mean MIDI note over the sounding frames of P1, P2 and TR together (NaN where none sounds)",
    "drums": "NO (noise) onsets per second",
    "loudness": "mean volume (0-15) over the sounding frames of P1, P2 and NO together (NaN where none sounds)",
    "reattacks": "re-attacks per second in P1, P2 and TR: onsets whose frame before sounds the same note",
}
"""The measured attributes of a window (frames, 4, 3), name -> what is measured."""

ALIASES: dict[str, tuple[str, ...]] = {"density": ("density_p1", "density_p2", "density_tr")}
"""Attributes that are the mean of others (measured, and given a vector, like the others)."""

NAMES: tuple[str, ...] = (*ATTRIBUTES, *ALIASES)
"""Every name ``measure_attributes`` returns and a shift may use."""


METHODS = {
    "quarters": "mean code of the top quarter of the windows by the attribute minus that of the bottom quarter "
                "(NaN windows left out); codes as TrainedModel.codes gives them",
    "joint": "codes regressed on every attribute at once; each vector moves its attribute by its top-minus-bottom-"
             "quarter gap with the others held still; codes as TrainedModel.codes gives them",
}


class AttributeVectorError(NesinterpError):
    """An attributes.json that cannot be used, or a shift that names no known attribute."""


def describe(name: str) -> str:
    """The one-line description of an attribute or alias."""
    return f"mean of {', '.join(ALIASES[name])}" if name in ALIASES else ATTRIBUTES[name]


def measure_attributes(windows: np.ndarray, fps: float = FRAME_RATE) -> dict[str, np.ndarray]:
    """Every attribute of NAMES per window: windows (..., frames, 4, 3) -> {name: float64 (...)},
    NaN where undefined (pitch and loudness of a window where no voice they read sounds)."""
    x = np.asarray(windows)
    if x.ndim < 3 or x.shape[-2:] != (4, 3) or x.shape[-3] == 0:
        raise ValueError(f"expected windows (..., frames, 4, 3) with frames > 0, not {x.shape}")
    seconds = x.shape[-3] / fps
    notes = x[..., 0].astype(np.int64)
    on = notes > 0
    starts = onsets(x)  # (..., frames, 4)
    before = np.concatenate([np.zeros_like(notes[..., :1, :]), notes[..., :-1, :]], axis=-2)
    reattack = starts & (before == notes)
    rate = starts.sum(axis=-2) / seconds  # (..., 4)
    out = {"density_p1": rate[..., 0], "density_p2": rate[..., 1], "density_tr": rate[..., 2], "drums": rate[..., 3]}

    def sounding_mean(values: np.ndarray, voices: list[int]) -> np.ndarray:
        mask = on[..., voices]
        count = mask.sum(axis=(-2, -1))
        total = (values[..., voices] * mask).sum(axis=(-2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    out["pitch"] = sounding_mean(notes.astype(np.float64), [0, 1, 2])
    out["loudness"] = sounding_mean(x[..., 1].astype(np.float64), [0, 1, 3])
    out["reattacks"] = reattack[..., :3].sum(axis=(-2, -1)) / seconds
    for alias, parts in ALIASES.items():
        out[alias] = np.mean([out[p] for p in parts], axis=0)
    return {name: np.asarray(out[name], dtype=np.float64) for name in NAMES}


@dataclass
class AttributeVectors:
    """One direction (latent_dim,) float32 per attribute, from ``windows`` windows, and ``stats`` per
    attribute: ``bottom_mean``/``top_mean`` (the attribute's mean over its bottom/top quarter), ``quarter``
    (windows per quarter), ``defined`` (windows where it is defined), ``norm`` (the vector's length)."""

    vectors: dict[str, np.ndarray]
    stats: dict = field(default_factory=dict)
    windows: int = 0
    latent_dim: int = 0
    method: str = "quarters"  # or "joint" (``attribute_vectors_from_codes``)

    def vector(self, name: str) -> np.ndarray:
        """The vector of ``name``; AttributeVectorError naming the known ones if there is none."""
        if name not in self.vectors:
            raise AttributeVectorError(f"no vector for attribute {name!r} (known: {', '.join(self.vectors)})")
        return self.vectors[name]

    def to_dict(self) -> dict:
        """Plain, strict-JSON data (floats rounded to 6 digits)."""
        return {"format": FORMAT, "version": VERSION, "windows": int(self.windows), "latent_dim": int(self.latent_dim),
                "method": self.method, "about": METHODS[self.method],
                "attributes": {name: describe(name) for name in self.vectors},
                "stats": {name: {k: _plain(v) for k, v in s.items()} for name, s in self.stats.items()},
                "vectors": {name: [round(float(v), 6) for v in vec] for name, vec in self.vectors.items()}}

    @classmethod
    def from_dict(cls, d: dict, where: str = "attribute vectors") -> AttributeVectors:
        """The inverse of ``to_dict``; AttributeVectorError (one line naming ``where``) when ``d`` is not one."""
        def fail(problem: str) -> AttributeVectorError:
            return AttributeVectorError(f"{where}: {problem}")

        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise fail(f"not a nesinterp attributes file (no \"format\": \"{FORMAT}\")")
        if not isinstance(d.get("version"), int) or d["version"] > VERSION:
            raise fail(f"attributes format version {d.get('version')!r} is not one this nesinterp reads ({VERSION})")
        dim, vectors, stats = d.get("latent_dim"), d.get("vectors"), d.get("stats", {})
        if not isinstance(dim, int) or dim < 1 or not isinstance(vectors, dict) or not isinstance(stats, dict):
            raise fail("latent_dim, vectors or stats missing or of the wrong type")
        out = {}
        for name, values in vectors.items():
            if name not in NAMES:
                raise fail(f"unknown attribute {name!r} (known: {', '.join(NAMES)})")
            if not isinstance(values, list) or not all(type(v) in (int, float) for v in values):
                raise fail(f"vector {name!r} is not a list of numbers")
            if len(values) != dim:
                raise fail(f"vector {name!r} has {len(values)} numbers, latent_dim is {dim}")
            out[name] = np.asarray(values, dtype=np.float32)
            if not np.isfinite(out[name]).all():
                raise fail(f"vector {name!r} holds a number that is not finite")
        method = d.get("method") if d.get("method") in METHODS else "quarters"  # files before "joint": a sentence
        return cls(out, {k: dict(v) for k, v in stats.items() if isinstance(v, dict)}, int(d.get("windows") or 0), dim,
                   method)

    def save(self, folder: str | Path) -> Path:
        """Write ``folder``/attributes.json (strict JSON, atomically); returns its path."""
        path = Path(folder) / FILE_NAME
        atomic_write_text(path, dumps(self.to_dict(), indent=1) + "\n")
        return path


def _plain(v):
    """A stats value for JSON: floats rounded to 6 digits (None where not finite), others as they are."""
    return (round(float(v), 6) if math.isfinite(v) else None) if isinstance(v, (float, np.floating)) else v


def attribute_vectors_from_codes(codes, attributes: dict[str, np.ndarray], method: str = "quarters") -> AttributeVectors:
    """AttributeVectors of codes (n, latent_dim) and each window's attributes {name: (n,)}: per
    attribute, the mean code of the top quarter of the windows where it is defined (a stable sort:
    ties go by window order) minus that of the bottom quarter. Needs at least 4 defined windows.

    ``method="joint"``: instead, the codes regressed on all attributes at once (least squares over the
    windows where all are defined, an alias standing in for its parts), and each vector the code change
    that moves its attribute by the same top-minus-bottom-quarter gap while the others stay still."""
    z = np.asarray(torch.as_tensor(codes).detach().float().cpu(), dtype=np.float64)
    if method not in ("quarters", "joint"):
        raise ValueError(f"method must be quarters or joint, not {method!r}")
    if z.ndim != 2:
        raise ValueError(f"expected codes (n, latent_dim), not {z.shape}")
    vectors, stats = {}, {}
    for name, values in attributes.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(z),):
            raise ValueError(f"attribute {name!r}: {values.shape} values for {len(z)} codes")
        defined = np.flatnonzero(np.isfinite(values))
        quarter = len(defined) // 4
        if quarter < 1:
            raise AttributeVectorError(f"attribute {name!r} is defined in {len(defined)} window(s); "
                                       "a vector needs at least 4")
        order = defined[np.argsort(values[defined], kind="stable")]
        bottom, top = order[:quarter], order[-quarter:]
        gap = values[top].mean() - values[bottom].mean()
        vec = (z[top].mean(axis=0) - z[bottom].mean(axis=0) if method == "quarters"
               else gap * _partial_direction(z, attributes, name)).astype(np.float32)
        vectors[name] = vec
        stats[name] = {"bottom_mean": float(values[bottom].mean()), "top_mean": float(values[top].mean()),
                       "quarter": int(quarter), "defined": int(len(defined)), "norm": float(np.linalg.norm(vec))}
    return AttributeVectors(vectors, stats, int(len(z)), int(z.shape[1]), method)


def _partial_direction(z: np.ndarray, attributes: dict[str, np.ndarray], name: str) -> np.ndarray:
    """d code / d attribute ``name`` with the other attributes held still: the coefficient row of the
    least-squares fit z ~ b + sum_a w_a * a over the windows where every regressor is defined; an alias
    replaces its parts among the regressors (they would say the same thing)."""
    base = [n for n in attributes if n not in ALIASES]
    names = [name] + [n for n in base if n not in ALIASES[name]] if name in ALIASES else base
    a = np.stack([np.asarray(attributes[n], np.float64) for n in names], axis=1)
    ok = np.isfinite(a).all(axis=1)
    design = np.concatenate([np.ones((int(ok.sum()), 1)), a[ok]], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, z[ok], rcond=None)
    return coefficients[1 + names.index(name)]


def compute_attribute_vectors(model, windows: np.ndarray, batch: int = 256, progress=None,
                              method: str = "quarters") -> AttributeVectors:
    """The vector of every attribute of NAMES from ``model``'s codes (``model.codes(...)[0]``: refined
    as the model refines them) of real uint8 ``windows`` (n, model.window, 4, 3), ``batch`` at a time;
    ``progress(done, total)`` after each batch."""
    windows = np.asarray(windows)
    codes = []
    for i in range(0, len(windows), batch):
        codes.append(model.codes(windows[i:i + batch])[0].detach().float().cpu())
        if progress is not None:
            progress(min(i + batch, len(windows)), len(windows))
    if not codes:
        raise AttributeVectorError("no windows to compute attribute vectors from")
    return attribute_vectors_from_codes(torch.cat(codes), measure_attributes(windows), method)


def attributes_path(model_source: str | Path) -> Path:
    """Where the attributes.json of ``model_source`` (a run directory, a model folder, or a
    model.safetensors/model.json path) sits: beside its model.json. CheckpointError if it is no model."""
    return model_files(Path(model_source))[1].parent / FILE_NAME


def load_attribute_vectors(model_source: str | Path) -> AttributeVectors | None:
    """The vectors in ``attributes_path(model_source)``, or None where there is no such file.
    AttributeVectorError (naming the file) when it is unreadable or malformed."""
    path = attributes_path(model_source)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AttributeVectorError(f"{path}: not readable JSON ({str(exc).splitlines()[0]})") from None
    return AttributeVectors.from_dict(data, str(path))


def vectors_for(model) -> AttributeVectors | None:
    """The attribute vectors of a TrainedModel (beside its model.json), or None; AttributeVectorError
    when their size is not the model's code size."""
    vectors = load_attribute_vectors(model.source)
    if vectors is not None and vectors.latent_dim != model.latent_dim:
        raise AttributeVectorError(f"{attributes_path(model.source)}: vectors of {vectors.latent_dim} numbers, the "
                                   f"model's codes have {model.latent_dim} (compute them again for this model)")
    return vectors


def shift_codes(codes: torch.Tensor, vector, amounts) -> torch.Tensor:
    """codes (n, d) + amount * vector (d,) for every amount (k,): (k, n, d), on codes' device and dtype.
    Amounts are in units of the vector (1: the top-minus-bottom-quarter difference)."""
    codes = torch.as_tensor(codes)
    vector = torch.as_tensor(vector, dtype=codes.dtype, device=codes.device)
    amounts = torch.as_tensor(amounts, dtype=codes.dtype, device=codes.device).reshape(-1)
    if codes.ndim != 2 or vector.shape != codes.shape[1:]:
        raise ValueError(f"expected codes (n, d) and a vector (d,), not {tuple(codes.shape)} and {tuple(vector.shape)}")
    return codes[None] + amounts[:, None, None] * vector[None, None]


def parse_shift(text: str) -> tuple[str, float]:
    """"density=+1.5" -> ("density", 1.5); AttributeVectorError for another form, an unknown name or
    an amount that is not a finite number."""
    name, sep, amount = str(text).partition("=")
    name, amount = name.strip(), amount.strip()
    if not sep or not name:
        raise AttributeVectorError(f"{text!r}: write NAME=AMOUNT, e.g. density=+1.5")
    if name not in NAMES:
        raise AttributeVectorError(f"{text!r}: unknown attribute {name!r} (known: {', '.join(NAMES)})")
    try:
        value = float(amount)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise AttributeVectorError(f"{text!r}: the amount {amount!r} is not a number (e.g. {name}=+1.5)")
    return name, value


__all__ = ["ALIASES", "ATTRIBUTES", "NAMES", "AttributeVectorError", "AttributeVectors", "attribute_vectors_from_codes",
           "attributes_path", "compute_attribute_vectors", "describe", "load_attribute_vectors", "measure_attributes",
           "parse_shift", "shift_codes", "vectors_for"]

