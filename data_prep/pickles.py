"""NES-MDB score pickles (exprsco, seprsco): a restricted reader that cannot run code, and a writer.

The files are Python 2 protocol-0 pickles of ``(rate, nsamps, array)``. A plain ``pickle.load`` would
run whatever a crafted file asks for, so the reader resolves only the three globals numpy needs to
rebuild an array and refuses everything else before it is called.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from nesinterp.score import FRAME_RATE, Score, ScoreError, frames_to_samples, samples_to_frames

MAX_PICKLE_BYTES = 64 << 20
"""Larger than any NES-MDB pickle by far (the longest song's exprsco is about 300 kB)."""

try:
    from numpy._core.multiarray import _reconstruct as _np_reconstruct  # numpy >= 2
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct

class ScorePickleError(ValueError):
    """A file that is not an NES-MDB score pickle, or one that asks for something it must not."""


def _latin1_bytes(text, encoding="latin1"):
    """Python 3 writes bytes in protocol 0-2 as _codecs.encode(text, 'latin1'); only that is honoured."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise ScorePickleError("refused: _codecs.encode used for something other than latin-1 bytes")
    return text.encode("latin1")


# Everything a score pickle may name. Files written by Python 2 numpy say numpy.core; numpy 2 says _core.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


class _ScoreUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ScorePickleError(
                f"refused: the pickle asks for {module}.{name}, which a score pickle never holds"
            ) from None


def _dtype_is_safe(array: object) -> bool:
    return isinstance(array, np.ndarray) and array.dtype.kind in "biuf" and not array.dtype.hasobject


def load_score_tuple(data: bytes) -> tuple[float, int, np.ndarray]:
    """Parse the bytes of an exprsco/seprsco pickle into ``(rate, nsamps, array)`` safely."""
    if len(data) > MAX_PICKLE_BYTES:
        raise ScorePickleError(f"{len(data)} bytes is too large for a score pickle")
    if not data:
        raise ScorePickleError("empty file")
    try:
        obj = _ScoreUnpickler(io.BytesIO(data), encoding="latin1").load()
    except ScorePickleError:
        raise
    except (pickle.UnpicklingError, EOFError) as exc:
        raise ScorePickleError(f"not a valid pickle ({exc})") from None
    except Exception as exc:  # numpy or pickle rejecting malformed content
        raise ScorePickleError(f"corrupt score pickle ({type(exc).__name__}: {exc})") from None
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise ScorePickleError(f"expected a (rate, nsamps, array) tuple, found {type(obj).__name__}")
    rate, nsamps, array = obj
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        raise ScorePickleError(f"rate must be a number, found {type(rate).__name__}")
    if not isinstance(nsamps, int) or isinstance(nsamps, bool) or nsamps < 0:
        raise ScorePickleError(f"nsamps must be a non-negative integer, found {nsamps!r}")
    if not _dtype_is_safe(array):
        raise ScorePickleError("the third element must be a numeric numpy array")
    return float(rate), nsamps, array


def score_from_pickle_bytes(data: bytes, name: str = "", source: str = "") -> Score:
    """A Score from exprsco ``(N, 4, 3)`` or seprsco ``(N, 4)`` pickle bytes."""
    rate, _nsamps, array = load_score_tuple(data)
    if abs(rate - FRAME_RATE) > 1e-6:
        raise ScorePickleError(f"rate is {rate:g} Hz; only NES-MDB's 24 Hz scores are supported")
    if array.dtype != np.uint8:
        raise ScorePickleError(f"array dtype is {array.dtype}, expected uint8")
    try:
        if array.ndim == 3:
            return Score(np.ascontiguousarray(array), name, source)
        if array.ndim == 2:
            return Score.from_notes(np.ascontiguousarray(array), name, source)
    except ScoreError as exc:
        raise ScorePickleError(str(exc)) from None
    raise ScorePickleError(f"array shape {array.shape} is neither exprsco (N, 4, 3) nor seprsco (N, 4)")


def read_score_pickle(path, name: str | None = None) -> Score:
    from pathlib import Path

    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(MAX_PICKLE_BYTES + 1)
    return score_from_pickle_bytes(data, name if name is not None else song_name(path.name), str(path))


def song_name(filename: str) -> str:
    """``202_LawnMower_00_01Title.exprsco.pkl`` -> ``202_LawnMower_00_01Title``."""
    for suffix in (".exprsco.pkl", ".seprsco.pkl", ".pkl", ".midi", ".mid"):
        if filename.lower().endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def score_to_pickle_bytes(score: Score, kind: str = "exprsco") -> bytes:
    """Protocol-0 ``(24.0, nsamps, array)`` as NES-MDB writes it; Python 2 and 3 can read it."""
    if kind == "exprsco":
        array = np.ascontiguousarray(score.array)
    elif kind == "seprsco":
        array = np.ascontiguousarray(score.notes)
    else:
        raise ValueError(f"kind must be 'exprsco' or 'seprsco', not {kind!r}")
    nsamps = frames_to_samples(score.frames)
    assert samples_to_frames(nsamps) == score.frames
    return pickle.dumps((float(FRAME_RATE), nsamps, array), protocol=0)


def write_score_pickle(score: Score, path, kind: str | None = None) -> None:
    from pathlib import Path

    path = Path(path)
    if kind is None:
        kind = "seprsco" if path.name.endswith(".seprsco.pkl") else "exprsco"
    path.write_bytes(score_to_pickle_bytes(score, kind))
