"""Every way into a Score: one function per format, and ``read_score`` that picks by file name.

Formats: NES-MDB exprsco/seprsco pickles, NES-MDB MIDI (read exactly), any other MIDI (reduced to the
four NES voices, see ``nesinterp.io.reduce``), and pieces of the music21 corpus (``music21:<name>``).
"""

from __future__ import annotations

from pathlib import Path

from nesinterp.errors import NesinterpError
from nesinterp.score import Score, ScoreError, length_limit, too_long

from .midi_file import MidiError, MidiLimits, parse_midi
from .nesmdb_midi import is_nesmdb_midi, score_from_nesmdb_midi
from .pickles import ScorePickleError, score_from_pickle_bytes, song_name

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
PICKLE_SUFFIXES = (".exprsco.pkl", ".seprsco.pkl", ".pkl")
MAX_FILE_BYTES = 64 << 20
MUSIC21_PREFIX = "music21:"


class ReadError(NesinterpError):
    """An input that cannot become a Score; the message says why in one line."""

    def __init__(self, message: str):
        # Messages may come from deep in pickle or numpy, some on several lines: one line here.
        super().__init__(" ".join(str(message).split()))


def kind_of(filename: str) -> str | None:
    """'midi', 'pickle', or None for names this tool does not read."""
    lower = filename.lower()
    if lower.endswith(MIDI_SUFFIXES):
        return "midi"
    if lower.endswith(PICKLE_SUFFIXES):
        return "pickle"
    return None


def score_from_midi_bytes(data: bytes, name: str = "", source: str = "", limits=MidiLimits(),
                          max_seconds: float | None = None) -> Score:
    """NES-MDB MIDI read exactly; any other MIDI reduced to the four voices."""
    midi = parse_midi(data, limits)
    if is_nesmdb_midi(midi):
        return score_from_nesmdb_midi(midi, name, source, max_seconds)
    from .reduce import score_from_general_midi

    return score_from_general_midi(midi, name, source, max_seconds)


def score_from_bytes(data: bytes, filename: str, source: str = "", max_seconds: float | None = None) -> Score:
    """A Score from a file's bytes, the format chosen by ``filename``. Raises ReadError.

    Songs longer than ``max_seconds`` (default: ``nesinterp.score.length_limit()``) are refused, for
    MIDI before anything is allocated for them."""
    kind = kind_of(filename)
    name = song_name(Path(filename).name)
    source = source or filename
    try:
        if kind == "midi":
            return score_from_midi_bytes(data, name, source, max_seconds=max_seconds)
        if kind == "pickle":
            score = score_from_pickle_bytes(data, name, source)  # the file size bounds its memory
            limit = length_limit(max_seconds)
            if score.duration > limit:
                raise ReadError(too_long(score.duration, limit))
            return score
    except (MidiError, ScorePickleError, ScoreError, ValueError) as exc:
        raise ReadError(str(exc)) from None
    raise ReadError("unknown file type (expected .mid, .midi, .exprsco.pkl or .seprsco.pkl)")


def read_score(path: str | Path, max_seconds: float | None = None) -> Score:
    """Read one file (or ``music21:<piece>``) into a Score.

    Args:
        path: NES-MDB MIDI or any MIDI (.mid), an exprsco/seprsco pickle (.exprsco.pkl, .seprsco.pkl), or
            ``music21:<piece>`` from music21's corpus.
        max_seconds: the longest song accepted (default 3600 s, or $NESINTERP_MAX_SECONDS).
    Returns:
        The Score, named after the file.
    Raises:
        ReadError: with a one-line reason naming the file.
    """
    text = str(path)
    if text.startswith(MUSIC21_PREFIX):
        from .music21 import read_music21

        try:
            return read_music21(text[len(MUSIC21_PREFIX):], max_seconds)
        except ValueError as exc:  # unknown piece, unusable content, over the length limit
            raise ReadError(str(exc)) from None
    path = Path(path)
    if kind_of(path.name) is None:
        raise ReadError("unknown file type (expected .mid, .midi, .exprsco.pkl or .seprsco.pkl)")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ReadError("is a folder, not a file") from None
    except FileNotFoundError:
        raise ReadError("no such file") from None
    except OSError as exc:
        raise ReadError(f"cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ReadError(f"larger than {MAX_FILE_BYTES >> 20} MiB; not a song file")
    return score_from_bytes(data, path.name, str(path), max_seconds)
