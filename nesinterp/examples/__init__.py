"""Two short NES-style songs composed by this project, bundled as NES-MDB MIDI for the demo and tests.

They are written here as code so that their origin is plain: ``python -m nesinterp.examples`` rewrites
the bundled ``.mid`` files, and a test checks that the files equal what this code composes.
Both are in 4/4 at 120 bpm: a quarter note is 12 frames at 24 Hz, a sixteenth 3 frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nesinterp.score import Field, Score, Voice

FOLDER = Path(__file__).parent
SIXTEENTH = 3
BAR = 16 * SIXTEENTH


def _voice(frames: int) -> np.ndarray:
    return np.zeros((frames, 3), np.int64)


def _note(track: np.ndarray, start: int, length: int, note: int, velocity: int, timbre: int,
          decay: int = 0, gap: int = 1) -> None:
    """A note of ``length`` frames whose volume falls by ``decay`` per frame (NES-style envelope), with
    ``gap`` silent frames at its end so repeated notes are heard."""
    sounding = max(1, length - gap)
    env = np.maximum(1, velocity - decay * np.arange(sounding))
    track[start : start + sounding, Field.NOTE] = note
    track[start : start + sounding, Field.VELOCITY] = env
    track[start : start + length, Field.TIMBRE] = timbre


def _drums(track: np.ndarray, bars: int, pattern: str) -> None:
    """``pattern``: one character per sixteenth: k = kick, s = snare, h = hat, . = rest."""
    hits = {"k": (4, 12, 3, 5), "s": (10, 11, 2, 4), "h": (15, 6, 2, 2)}  # noise note, vol, decay, len
    for bar in range(bars):
        for i, ch in enumerate(pattern):
            if ch in hits:
                note, vol, decay, length = hits[ch]
                _note(track, bar * BAR + i * SIXTEENTH, length, note, vol, 0, decay, gap=0)


def _assemble(p1, p2, tr, no, name: str) -> Score:
    array = np.stack([p1, p2, tr, no], axis=1)
    array[:, Voice.TR, Field.VELOCITY] = 0
    array[:, Voice.TR, Field.TIMBRE] = 0
    return Score(array.astype(np.uint8), name, f"nesinterp.examples:{name}")


def compose_overworld() -> Score:
    """A bright C-major march: C Am F G twice, 50 % duty lead over a 25 % duty arpeggio."""
    chords = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)] * 2
    melody = [
        [76, 0, 79, 0, 76, 74, 72, 74], [72, 0, 76, 0, 72, 71, 69, 71],
        [69, 0, 72, 0, 77, 76, 74, 72], [74, 0, 71, 0, 67, 69, 71, 74],
        [76, 0, 79, 0, 84, 83, 81, 79], [76, 0, 72, 0, 69, 71, 72, 76],
        [77, 0, 81, 0, 79, 77, 76, 74], [72, 0, 72, 0, 0, 0, 0, 0],
    ]
    frames = len(chords) * BAR
    p1, p2, tr, no = (_voice(frames) for _ in range(4))
    for bar, (chord, line) in enumerate(zip(chords, melody)):
        t0 = bar * BAR
        for i, note in enumerate(line):
            if note:
                _note(p1, t0 + i * 2 * SIXTEENTH, 2 * SIXTEENTH, note, 12, 2, decay=1)
        for i in range(16):
            _note(p2, t0 + i * SIXTEENTH, SIXTEENTH, chord[i % 3] + 12 * (i % 2), 7, 1, decay=2, gap=0)
        root = chord[0] - 24
        for i, note in enumerate([root, root + 12, root + 7, root + 12]):
            _note(tr, t0 + i * 4 * SIXTEENTH, 4 * SIXTEENTH, note, 15, 0, gap=1)
    _drums(no, len(chords), "k.h.s.h.k.hks.h.")
    return _assemble(p1, p2, tr, no, "overworld")


def compose_dungeon() -> Score:
    """A dark A-minor piece: Am F Dm E twice, thin 12.5 % duty lead, 75 % duty counter-line, slow bass."""
    chords = [(57, 60, 64), (53, 57, 60), (50, 53, 57), (52, 56, 59)] * 2
    melody = [
        [69, 72, 76, 0, 74, 72, 71, 72], [72, 0, 69, 0, 65, 0, 69, 72],
        [74, 0, 77, 76, 74, 72, 71, 69], [68, 0, 71, 0, 76, 0, 0, 0],
        [81, 0, 79, 77, 76, 0, 72, 74], [77, 76, 74, 72, 69, 0, 72, 0],
        [74, 72, 71, 69, 65, 0, 69, 71], [69, 0, 0, 0, 0, 0, 0, 0],
    ]
    frames = len(chords) * BAR
    p1, p2, tr, no = (_voice(frames) for _ in range(4))
    for bar, (chord, line) in enumerate(zip(chords, melody)):
        t0 = bar * BAR
        for i, note in enumerate(line):
            if note:
                _note(p1, t0 + i * 2 * SIXTEENTH, 2 * SIXTEENTH, note, 11, 0, decay=1)
        for i, note in enumerate([chord[1], chord[2], chord[1], chord[0]]):
            _note(p2, t0 + i * 4 * SIXTEENTH, 4 * SIXTEENTH, note, 8, 3, decay=0, gap=2)
        _note(tr, t0, 8 * SIXTEENTH, chord[0] - 12, 15, 0, gap=1)
        _note(tr, t0 + 8 * SIXTEENTH, 8 * SIXTEENTH, chord[0] - 24, 15, 0, gap=1)
    _drums(no, len(chords), "k.....s...k...s.")
    return _assemble(p1, p2, tr, no, "dungeon")


EXAMPLES = {"overworld": compose_overworld, "dungeon": compose_dungeon}


def example_path(name: str) -> Path:
    """Path of a bundled example's NES-MDB MIDI file."""
    if name not in EXAMPLES:
        raise KeyError(f"no bundled example {name!r} (have {', '.join(EXAMPLES)})")
    return FOLDER / f"{name}.mid"


def write_examples(folder: Path = FOLDER) -> list[Path]:
    from nesinterp.io.nesmdb_midi import write_nesmdb_midi

    paths = []
    for name, compose in EXAMPLES.items():
        path = Path(folder) / f"{name}.mid"
        write_nesmdb_midi(compose(), path)
        paths.append(path)
    return paths

