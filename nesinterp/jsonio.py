"""Strict JSON for every file the project writes: no NaN or Infinity (which strict parsers refuse),
numpy scalars and paths as plain values. An undefined number is written as null; where a reader needs
to know why, the writer puts a reason beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def plain(x):
    """``x`` with numpy scalars and arrays, tuples and paths made plain JSON types, and NaN/inf floats
    None."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Path):
        return str(x)
    return x


def rounded(x, digits: int = 4) -> float | None:
    """A number for JSON: rounded to ``digits``, None where it is not a finite number."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def dumps(data, **kwargs) -> str:
    """``data`` as strict JSON text (``json.dumps`` arguments pass through)."""
    return json.dumps(plain(data), allow_nan=False, **kwargs)
