"""NES-MDB score pickles (exprsco, seprsco): a restricted reader that cannot run code, and a writer.

The files are Python 2 protocol-0 pickles of ``(rate, nsamps, array)``. A plain ``pickle.load`` would
run whatever a crafted file asks for, so the reader resolves only what numpy needs to rebuild a plain
numeric array (guarded versions of its array and dtype constructors) and refuses everything else
before it is called; an array's declared shape, type and data are checked before numpy allocates.
"""

from __future__ import annotations

import io
import pickle
import warnings

import numpy as np

from nesinterp.errors import NesinterpError
from nesinterp.score import FRAME_RATE, Score, ScoreError, frames_to_samples, samples_to_frames

MAX_PICKLE_BYTES = 64 << 20
"""Larger than any NES-MDB pickle by far (the longest song's exprsco is about 300 kB)."""


class ScorePickleError(NesinterpError):
    """A file that is not an NES-MDB score pickle, or one that asks for something it must not."""


def _refuse(what: str):
    raise ScorePickleError(f"refused: {what}")


def _plain_numeric(dt: np.dtype) -> bool:
    return dt.kind in "biuf" and not dt.hasobject and dt.fields is None and dt.subdtype is None and dt.itemsize <= 8


class _GuardedArray(np.ndarray):
    """What a score pickle's array is rebuilt as: its state is checked before numpy acts on it, so a
    damaged or crafted pickle cannot make numpy allocate (or fill) more than the file itself holds."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            _refuse("malformed array state")
        shape, dtype, _fortran, raw = state[-4:]
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and 0 <= n for n in shape):
            _refuse("malformed array shape")
        if not isinstance(dtype, _DtypeSpec):
            _refuse("an array whose type is not a plain numpy type code")
        dtype = dtype.resolve()
        nbytes = dtype.itemsize
        for n in shape:
            nbytes *= n
            if nbytes > MAX_PICKLE_BYTES:
                _refuse("an array larger than any score")
        if not isinstance(raw, (bytes, str)) or len(raw) != nbytes:
            _refuse("array data that does not match its shape")
        super().__setstate__((1, shape, dtype, bool(_fortran), raw))


_CANONICAL = {(np.dtype(c).kind, np.dtype(c).itemsize): np.dtype(c)
              for c in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")}


class _NdarrayName:
    """Stands for numpy.ndarray in a score pickle, which names it only as _reconstruct's argument.
    The real class is never handed out: called with a buffer and strides it reads arbitrary memory
    (found by fuzzing: a damaged pickle that called it segfaulted numpy)."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        _refuse("a direct call of numpy.ndarray")

    def __setstate__(self, state):
        _refuse("state set on numpy.ndarray")


_NDARRAY = _NdarrayName()


def _reconstruct(subtype, shape, dtype):
    """numpy's _reconstruct, for plain arrays only: an empty guarded array that BUILD then fills."""
    if subtype is not _NDARRAY:
        _refuse(f"an array of type {getattr(subtype, '__name__', subtype)!r}")
    return np.ndarray.__new__(_GuardedArray, (0,), np.uint8)


class _DtypeSpec:
    """What numpy.dtype(...) gives inside a score pickle: a plain type code and a byte order, never a
    real dtype. The pickle's BUILD then sets state on this object, not on a numpy dtype, whose C
    __setstate__ crashes on malformed tuples (found by fuzzing: a segfault inside numpy)."""

    __slots__ = ("dtype", "big_endian")

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        self.big_endian = False

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[1] not in ("<", ">", "|", "="):
            _refuse("malformed dtype state")
        self.big_endian = state[1] == ">"

    def resolve(self) -> np.dtype:
        if self.dtype.itemsize > 1:
            return self.dtype.newbyteorder(">" if self.big_endian else "<")
        return self.dtype


def _dtype(spec, align=False, copy=False):
    """numpy.dtype for plain numeric codes only ('u1', 'f8', ...): never objects or records."""
    if not isinstance(spec, (str, bytes)) or len(spec) > 8:
        _refuse("a dtype that is not a plain type code")
    try:
        dt = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec)
    except TypeError:
        _refuse(f"unknown dtype {spec!r}")
    canonical = _CANONICAL.get((dt.kind, dt.itemsize)) if _plain_numeric(dt) else None
    if canonical is None:
        _refuse(f"dtype {dt} is not plain numbers")
    return _DtypeSpec(canonical)


def _latin1_bytes(text, encoding="latin1"):
    """Python 3 writes bytes in protocol 0-2 as _codecs.encode(text, 'latin1'); only that is honoured."""
    if not isinstance(text, str) or not isinstance(encoding, str) or encoding.replace("-", "").lower() != "latin1":
        _refuse("_codecs.encode used for something other than latin-1 bytes")
    return text.encode("latin1")


# Everything a score pickle may name. Files written by Python 2 numpy say numpy.core; numpy 2 says _core.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


# Opcodes a score pickle (protocol 0-2: a tuple of a float, an int and a numpy array) can need.
_ALLOWED_OPCODES = frozenset({
    "PROTO", "STOP", "MARK", "TUPLE", "EMPTY_TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "NONE", "NEWTRUE",
    "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "FLOAT", "BINFLOAT", "STRING",
    "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINBYTES",
    "SHORT_BINBYTES", "GLOBAL", "REDUCE", "BUILD", "PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET",
    "LONG_BINGET", "MEMOIZE", "FRAME",
})
MAX_MEMO_INDEX = 1000
MAX_OPCODES = 100_000


def _scan_opcodes(data: bytes) -> None:
    """Refuse, before unpickling, opcodes a score pickle never uses and memo indices beyond any real
    file's: CPython's unpickler sizes its memo table by the largest index it is given, so a single
    damaged PUT can make it allocate gigabytes (no find_class check can stop that)."""
    import pickletools

    try:
        for count, (op, arg, _pos) in enumerate(pickletools.genops(data)):
            if op.name not in _ALLOWED_OPCODES:
                _refuse(f"pickle opcode {op.name}, which a score pickle never holds")
            if op.name.endswith(("PUT", "GET")) and isinstance(arg, int) and not 0 <= arg <= MAX_MEMO_INDEX:
                _refuse(f"pickle memo index {arg}, beyond any score pickle's")
            if count > MAX_OPCODES:
                _refuse("more pickle opcodes than any score pickle has")
    except ScorePickleError:
        raise
    except Exception as exc:  # genops meeting malformed bytes
        raise ScorePickleError(f"not a valid pickle ({exc})") from None


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


def _describe_start(data: bytes) -> str:
    """The first bytes of a file as a person would recognise them, and what the file then seems to be."""
    if data[:4] == b"MThd":
        return "'MThd' (it is a MIDI file: name it .mid)"
    if data[:2] == b"\x1f\x8b":
        return "bytes 1f 8b (it is gzip-compressed: unpack it first)"
    try:
        text = data[:24].decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return repr(text.strip()[:20])
    return "bytes " + data[:8].hex(" ")


def load_score_tuple(data: bytes) -> tuple[float, int, np.ndarray]:
    """Parse the bytes of an exprsco/seprsco pickle into ``(rate, nsamps, array)`` safely."""
    if len(data) > MAX_PICKLE_BYTES:
        raise ScorePickleError(f"{len(data)} bytes is too large for a score pickle")
    if not data:
        raise ScorePickleError("empty file")
    if data[:1] not in (b"(", b"\x80"):  # MARK (NES-MDB's protocol 0) or PROTO (protocol 2 and later)
        raise ScorePickleError(f"refused: not a score pickle: it starts with {_describe_start(data)}, where an exprsco/"
                               "seprsco pickle starts with '(' (protocol 0) or byte 0x80")
    _scan_opcodes(data)
    try:
        with warnings.catch_warnings():
            # numpy warns on some malformed array states; in a score pickle that means a corrupt file
            warnings.simplefilter("error")
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
    return float(rate), nsamps, array.view(np.ndarray)


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
    """Write ``score`` as an NES-MDB score pickle (protocol 0, as the released files).

    Args:
        score: the Score.
        path: the file to write (replaced if it exists).
        kind: "exprsco" (notes, velocity, timbre) or "seprsco" (notes only); default from the name.
    """
    from pathlib import Path

    path = Path(path)
    if kind is None:
        kind = "seprsco" if path.name.endswith(".seprsco.pkl") else "exprsco"
    path.write_bytes(score_to_pickle_bytes(score, kind))
