"""The music21 corpus (shipped with music21, offline) as a source of Scores: query -> piece ids -> Scores.

Piece ids are corpus paths without extension (``bach/bwv66.6``, ``beethoven/opus18no1/movement1``);
a tune inside a multi-tune ABC book gets ``#<X number>`` (``airdsAirs/book1#5``), but an ABC file
whose tunes all share one title is one work written voice by voice and is read as one piece of
parts. Where a piece exists in several formats, MusicXML wins over Humdrum over ABC; ``.rntxt``
files (Roman-numeral analyses, not scores) are skipped.

Conversion rules
----------------
Time: quarter-note offsets -> seconds through the piece's MetronomeMarks when it has any, else at
``DEFAULT_QPM`` (96 quarter notes per minute, the playback tempo the corpus gives Bach's chorales);
repeats are not expanded, tied notes are merged, grace notes are skipped. Frames, octave folding
and repeated-note gaps are those of ``nesinterp.io.reduce``.
Voices by part (parts without pitched notes do not count):
  * 1 part: the general-MIDI skyline of ``nesinterp.io.reduce`` (top P1, inner P2, bass TR).
  * 2 parts (e.g. piano hands): top line of the first -> P1, its lowest chord note where it plays
    two or more pitches -> P2, bottom line of the second -> TR.
  * A single part with chord symbols (lead sheets, ABC tunes with chords) gets a second part from
    them: each symbol's bass (root, or the slash bass) in octave 2 (MIDI 36..47), held until the next
    symbol, so the melody goes to P1 and the chord roots to TR by the 2-part rule.
  * 3+ parts: the lowest part (lowest mean pitch, ties to the later part) -> TR (its bottom line),
    the first two other parts in score order -> P1 and P2 (their top lines). A 4-part chorale thus
    gives soprano -> P1, alto -> P2, bass -> TR; the tenor is dropped (the inner voice the ear misses
    least, and the NES has no fourth tonal voice).
Velocity (pulses): the part's latest dynamic mark scaled so that mf = 10 (p = 6, f = 13, ff = 15),
clipped to 1..15; 10 where the part has no dynamics. Timbre: P1 duty 2, P2 duty 1. The noise rests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from nesinterp.errors import NesinterpError
from nesinterp.score import Field, Score, Voice

from .reduce import (
    P1_DUTY,
    P2_DUTY,
    FrameNotes,
    ReduceError,
    Roll,
    bottom_line,
    check_length,
    skyline,
    tonal_voice,
    top_line,
)

DEFAULT_QPM = 96.0
DEFAULT_VELOCITY = 10
MF_SCALAR = 0.55  # music21's volumeScalar of mf, mapped to DEFAULT_VELOCITY
SOURCE_PREFIX = "music21:"
# Preferred format first; .rntxt (Roman-numeral analyses) is not a score and is left out.
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".abc", ".mid", ".midi", ".mus")


class CorpusError(NesinterpError):
    """A music21 corpus name or piece that cannot be found or read."""


@lru_cache(maxsize=1)
def corpus_root() -> Path:
    from music21 import common

    return Path(common.getCorpusFilePath())


def _collections() -> dict[str, str]:
    """Top-level corpus folders (composers and collections), by lower-case name."""
    return {
        d.name.lower(): d.name
        for d in corpus_root().iterdir()
        if d.is_dir() and not d.name.startswith(("_", "."))
    }


MAX_PARTS_AS_TUNES = 8


def _abc_numbers(path: Path) -> list[int]:
    """Reference numbers (X:) of the pieces in an ABC file; [] when the file is one piece, including a
    work written one voice per tune (all tunes share their title, as in the Josquin files)."""
    text = path.read_text(encoding="latin1")
    tunes = re.findall(r"^X:\s*(\d+)[^\n]*\n(?:[^\n]*\n)*?\s*T:\s*([^\n]*)", text, flags=re.MULTILINE)
    numbers = list(dict.fromkeys(int(x) for x, _ in tunes))
    titles = {t.strip().lower() for _, t in tunes}
    if len(numbers) <= 1 or (len(titles) == 1 and len(numbers) <= MAX_PARTS_AS_TUNES):
        return []
    return numbers


def _piece_ids(paths) -> list[str]:
    """Corpus files -> sorted, de-duplicated piece ids (multi-tune ABC files expanded per tune)."""
    root = corpus_root()
    best: dict[str, tuple[int, Path]] = {}
    for path in map(Path, paths):
        suffix = path.suffix.lower()
        if suffix not in SCORE_SUFFIXES:
            continue
        stem = path.relative_to(root).with_suffix("").as_posix()
        rank = SCORE_SUFFIXES.index(suffix)
        if stem not in best or rank < best[stem][0]:
            best[stem] = (rank, path)
    ids = []
    for stem, (_, path) in best.items():
        numbers = _abc_numbers(path) if path.suffix.lower() == ".abc" else []
        if numbers:
            ids.extend(f"{stem}#{n}" for n in numbers)
        else:
            ids.append(stem)
    return sorted(ids)


def _work_paths(stem: str) -> list[Path]:
    """Files of one work: exact corpus path first, else music21's own lookup (e.g. 'bwv66.6')."""
    root = corpus_root()
    exact = [root / f"{stem}{s}" for s in SCORE_SUFFIXES if (root / f"{stem}{s}").is_file()]
    if exact or stem.lower().endswith(SCORE_SUFFIXES):
        return exact or ([root / stem] if (root / stem).is_file() else [])
    from music21 import corpus
    from music21.exceptions21 import Music21Exception

    try:
        found = corpus.getWork(stem)
    except Music21Exception:
        return []
    return [Path(p) for p in (found if isinstance(found, list) else [found])]


def music21_pieces(query: str) -> list[str]:
    """Piece ids a query covers: a composer or collection ('bach', 'essenFolksong'), a folder of one
    ('beethoven/opus18no1'), one work ('bach/bwv66.6', 'bwv66.6') or one ABC tune ('airdsAirs/book1#5').
    Raises CorpusError for names the corpus does not hold."""
    q = query.strip()
    if q.startswith(SOURCE_PREFIX):
        q = q[len(SOURCE_PREFIX):]
    q = q.strip().strip("/")
    if not q or ".." in q.split("/"):
        raise CorpusError(f"not a music21 corpus name: {query!r}")
    collections = _collections()
    stem, _, number = q.partition("#")
    if q.lower() in collections:
        from music21 import corpus

        ids = _piece_ids(corpus.getComposer(collections[q.lower()]))
    elif not number and (corpus_root() / q).is_dir():
        ids = _piece_ids(p for p in (corpus_root() / q).rglob("*") if p.is_file())
    else:
        ids = _piece_ids(_work_paths(stem))
        if number:
            wanted = {f"{i.partition('#')[0]}#{number}" for i in ids}
            ids = [i for i in ids if i in wanted]
    if not ids:
        raise CorpusError(
            f"music21 corpus has no {query!r} "
            "(try a composer such as 'bach' or a work such as 'bach/bwv66.6')"
        )
    return ids


def piece_group(piece: str) -> str:
    """The work a piece belongs to, so that splits never share a work: movements of one Bach cantata
    or passion ('bach/bwv66.6' -> 'bach/bwv66'), movements in one folder ('beethoven/opus18no1/
    movement1' -> 'beethoven/opus18no1'), sections of one Palestrina mass ('palestrina/Credo_47_a' ->
    'palestrina/mass47'). Anything else is its own group. Only the id is looked at."""
    piece = piece[len(SOURCE_PREFIX):] if piece.startswith(SOURCE_PREFIX) else piece
    parts = piece.split("/")
    if len(parts) > 2:
        return "/".join(parts[:-1])
    m = re.fullmatch(r"bach/(bwv\d+[a-z]?)[.\-].*", piece, flags=re.IGNORECASE)
    if m:
        return f"bach/{m.group(1).lower()}"
    if parts[0] == "palestrina" and len(parts) == 2:
        m = re.search(r"_(\d+)(?:_[a-z])?$", parts[1])
        if m:
            return f"palestrina/mass{int(m.group(1))}"
        return "palestrina/" + re.sub(r"_[a-z]$", "", parts[1])
    return piece


def _resolve(piece: str) -> tuple[str, Path, int | None]:
    """Canonical id, file and ABC tune number of one piece."""
    ids = music21_pieces(piece)
    if len(ids) != 1:
        raise CorpusError(f"{piece!r} names {len(ids)} pieces, not one (list them with music21_pieces)")
    canonical = ids[0]
    stem, _, number = canonical.partition("#")
    paths = [p for p in _work_paths(stem) if p.suffix.lower() in SCORE_SUFFIXES]
    path = min(paths, key=lambda p: SCORE_SUFFIXES.index(p.suffix.lower()))
    return canonical, path, int(number) if number else None


def _seconds_of(score) -> Callable[[np.ndarray], np.ndarray]:
    """Quarter-note offset -> seconds, through the MetronomeMarks when the piece has any."""
    from music21 import tempo

    marks = list(score.recurse().getElementsByClass(tempo.TempoIndication))
    starts, qpms = [0.0], [DEFAULT_QPM]
    if marks:
        bounds = score.metronomeMarkBoundaries()
        starts = [float(b[0]) for b in bounds]
        qpms = [b[2].getQuarterBPM() or DEFAULT_QPM for b in bounds]
        if not starts or starts[0] > 0:
            starts, qpms = [0.0] + starts, [DEFAULT_QPM] + qpms
    starts_ql = np.array(starts, dtype=np.float64)
    per_quarter = 60.0 / np.array(qpms, dtype=np.float64)
    starts_s = np.concatenate([[0.0], np.cumsum(np.diff(starts_ql) * per_quarter[:-1])])

    def seconds(ql: np.ndarray) -> np.ndarray:
        ql = np.asarray(ql, dtype=np.float64)
        i = np.clip(np.searchsorted(starts_ql, ql, side="right") - 1, 0, None)
        return starts_s[i] + (ql - starts_ql[i]) * per_quarter[i]

    return seconds


def _part_notes(part) -> tuple[np.ndarray, ...] | None:
    """(onset ql, end ql, MIDI pitch, NES volume) of a part's pitched notes (chords give all their
    pitches), or None when it has none."""
    from music21 import dynamics, harmony, note

    flat = part.stripTies(inPlace=False).flatten()
    onsets, ends, pitches = [], [], []
    for n in flat.notes:
        if isinstance(n, harmony.Harmony) or n.duration.isGrace:
            continue
        midi = [p.midi for p in getattr(n, "pitches", ()) if not isinstance(n, note.Unpitched)]
        offset, length = float(n.offset), float(n.quarterLength)
        for m in midi:
            onsets.append(offset)
            ends.append(offset + length)
            pitches.append(m)
    if not pitches:
        return None
    onsets_a = np.array(onsets)
    marks = [(float(d.offset), d.volumeScalar) for d in flat.getElementsByClass(dynamics.Dynamic)]
    marks = [(o, v) for o, v in marks if v is not None]
    if marks:
        mark_at = np.array([o for o, _ in marks])
        level = np.array([v for _, v in marks]) / MF_SCALAR * DEFAULT_VELOCITY
        i = np.searchsorted(mark_at, onsets_a, side="right") - 1
        velocity = np.where(i >= 0, np.rint(level[np.maximum(i, 0)]), DEFAULT_VELOCITY)
    else:
        velocity = np.full(onsets_a.size, DEFAULT_VELOCITY)
    velocity = np.clip(velocity, 1, 15).astype(np.uint8)
    return onsets_a, np.array(ends), np.clip(np.array(pitches, dtype=np.int64), 0, 127), velocity


def _chord_symbol_bass(parsed, end_s: float, seconds) -> tuple[np.ndarray, ...] | None:
    """Notes of a bass line (root or slash bass in octave 2) from chord symbols, each held until the
    next symbol or the end of the piece; None when the piece has no chord symbols."""
    from music21 import harmony

    symbols = {}
    for cs in parsed.flatten().getElementsByClass(harmony.ChordSymbol):
        bass = None if isinstance(cs, harmony.NoChord) or not cs.pitches else cs.bass()
        symbols[float(cs.offset)] = None if bass is None else bass.midi  # the last at an offset wins
    if not any(v is not None for v in symbols.values()):
        return None
    at = np.array(sorted(symbols), dtype=np.float64)
    start_s = seconds(at)
    end = np.append(start_s[1:], end_s)
    pitch = np.array([symbols[o] if symbols[o] is not None else -1 for o in at], dtype=np.int64)
    keep = (pitch >= 0) & (end > start_s)
    pitch = 36 + (pitch[keep] - 36) % 12
    return start_s[keep], end[keep], pitch, np.full(pitch.size, DEFAULT_VELOCITY, np.uint8)


def read_music21(piece: str, max_seconds: float | None = None) -> Score:
    """One corpus piece as a Score (rules in the module docstring). Raises CorpusError / ReduceError."""
    from music21 import converter
    from music21.exceptions21 import Music21Exception

    canonical, path, number = _resolve(piece)
    try:
        # forceSource/storePickle: parse the file itself and leave no pickle in music21's scratch dir.
        parsed = converter.parse(path, forceSource=True, storePickle=False, number=number)
    except Music21Exception as exc:
        raise CorpusError(f"music21 cannot parse {canonical}: {exc}") from None
    name = canonical.replace("/", "_").replace("#", "_")
    return score_from_music21(parsed, name, SOURCE_PREFIX + canonical, max_seconds)


def score_from_music21(
    parsed, name: str = "", source: str = "", max_seconds: float | None = None
) -> Score:
    """A parsed music21 stream (Score, Part, or Opus) as a Score, by the rules in the module docstring.
    Raises CorpusError / ReduceError."""
    from music21 import stream

    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise CorpusError(f"{source or name or 'opus'} holds no score")
        titles = {(sc.metadata.title if sc.metadata else None) for sc in scores}
        # One work written one voice per tune (same title throughout) becomes one score of parts.
        parsed = parsed.mergeScores() if len(scores) > 1 and len(titles) == 1 else scores[0]
    parts = list(parsed.parts) if isinstance(parsed, stream.Score) else []
    parts = parts or [parsed]
    seconds = _seconds_of(parsed)

    timed = []
    for part in parts:
        notes = _part_notes(part)
        if notes is not None:
            onset, end, pitch, velocity = notes
            timed.append((seconds(onset), seconds(end), pitch, velocity))
    if not timed:
        raise ReduceError("no notes")
    if len(timed) == 1:
        bass = _chord_symbol_bass(parsed, max(float(t[1].max()) for t in timed), seconds)
        if bass is not None:
            timed.append(bass)
    last = max(float(t[1].max()) for t in timed)
    check_length(last, None, max_seconds)  # before any per-frame allocation
    voiced = [FrameNotes.from_seconds(*t) for t in timed]
    frames = max(int(n.end.max()) for n in voiced)
    check_length(last, frames, max_seconds)

    array = np.zeros((frames, 4, 3), np.uint8)
    if len(voiced) == 1:
        roll = Roll.from_notes(voiced[0], frames)
        lines = skyline(roll)
        plan = [(Voice.P1, roll, lines[:, 0]), (Voice.P2, roll, lines[:, 1]), (Voice.TR, roll, lines[:, 2])]
    else:
        means = [float(n.pitch.mean()) for n in voiced]
        bass = len(voiced) - 1 - int(np.argmin(means[::-1]))  # lowest mean pitch, ties to the later part
        upper = [i for i in range(len(voiced)) if i != bass][: 1 if len(voiced) == 2 else 2]
        plan = []
        for voice, i in zip((Voice.P1, Voice.P2), upper):
            roll = Roll.from_notes(voiced[i], frames)
            plan.append((voice, roll, top_line(roll)))
        if len(upper) == 1:
            # Two parts (typically piano hands): P2 takes the lowest note of the upper part's chords.
            roll, top = plan[0][1], plan[0][2]
            inner = bottom_line(roll)
            plan.append((Voice.P2, roll, np.where(inner == top, -1, inner)))
        roll = Roll.from_notes(voiced[bass], frames)
        plan.append((Voice.TR, roll, bottom_line(roll)))
    duty = {Voice.P1: P1_DUTY, Voice.P2: P2_DUTY, Voice.TR: 0}
    array[:, Voice.P1, Field.TIMBRE], array[:, Voice.P2, Field.TIMBRE] = P1_DUTY, P2_DUTY
    for voice, roll, line in plan:
        array[:, voice] = tonal_voice(line, roll, voice, duty[voice])
    return Score(array, name, source)
