"""Score: a NES song at 24 frames per second, the one currency between every stage.

The array layout is exactly NES-MDB's exprsco: uint8 ``(frames, 4, 3)``; voices P1, P2, TR, NO on the
second axis and (note, velocity, timbre) on the last. A Score and an exprsco file are the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .errors import NesinterpError

FRAME_RATE = 24
"""Frames per second of every Score (NES-MDB's 24 Hz release)."""

SAMPLE_RATE = 44100
"""The timeline NES-MDB's MIDI and exprsco were made on: one MIDI tick = one 44.1 kHz sample."""


class Voice(IntEnum):
    """The four NES voices in a Score's second axis: pulse 1, pulse 2, triangle, noise."""

    P1 = 0
    P2 = 1
    TR = 2
    NO = 3


class Field(IntEnum):
    NOTE = 0
    VELOCITY = 1
    TIMBRE = 2


VOICE_NAMES = ("P1", "P2", "TR", "NO")

NOTE_RANGE = {
    Voice.P1: (33, 108),
    Voice.P2: (33, 108),
    Voice.TR: (21, 108),
    Voice.NO: (1, 16),
}
"""Inclusive note range of each voice while it sounds (0 = silent). Noise notes are 16 - period index."""

MAX_TIMBRE = {Voice.P1: 3, Voice.P2: 3, Voice.TR: 0, Voice.NO: 1}
"""Pulse timbre = duty cycle 0..3 (12.5/25/50/75 %); noise timbre = loop mode 0/1; triangle has none."""

MAX_VELOCITY = 15

DEFAULT_MAX_SECONDS = 3600.0
"""The longest song any reader accepts unless told otherwise (NES-MDB's longest is 1518 s). It bounds
what a file can make the tool allocate: 3600 s is 86400 frames, 1 MB as a Score, whatever a header
claims. Raise it with the environment variable NESINTERP_MAX_SECONDS or a reader's ``max_seconds``
(``nesinterp prep --max-seconds``)."""


def length_limit(max_seconds: float | None = None) -> float:
    """``max_seconds`` if given, else $NESINTERP_MAX_SECONDS, else DEFAULT_MAX_SECONDS."""
    if max_seconds is not None:
        return float(max_seconds)
    import os

    text = os.environ.get("NESINTERP_MAX_SECONDS", "").strip()
    if not text:
        return DEFAULT_MAX_SECONDS
    try:
        value = float(text)
    except ValueError:
        raise ScoreError(f"NESINTERP_MAX_SECONDS={text!r} is not a number of seconds") from None
    if not value > 0:
        raise ScoreError(f"NESINTERP_MAX_SECONDS={text!r} must be positive")
    return value


def too_long(seconds: float, limit: float) -> str:
    """The one-line reason for refusing a song over the length limit."""
    return (f"song is {seconds:.0f} s long, over the limit of {limit:g} s "
            "(raise it with --max-seconds or NESINTERP_MAX_SECONDS)")


# The conversions to and from other music libraries (``nesinterp.io.interop``), which build on Score
# and so cannot be imported here; ``nesinterp/__init__.py`` sets this when the package loads, before
# any Score exists, so Score's methods below are thin delegators with no import of their own.
CONVERSIONS = None


class ScoreError(NesinterpError):
    """A score array that breaks the exprsco layout or value ranges."""


def frames_to_samples(frames: int) -> int:
    """The smallest 44.1 kHz sample count whose 24 Hz downsampling has exactly ``frames`` frames.

    NES-MDB computes the frame count as ``int(nsamps / 44100 * 24)`` in floating point, so the inverse
    is found by search around the exact rational value rather than by a formula that rounds wrongly.
    """
    nsamps = -(-frames * SAMPLE_RATE // FRAME_RATE)  # ceil(frames * 1837.5)
    while nsamps > 0 and int((nsamps - 1) / SAMPLE_RATE * FRAME_RATE) >= frames:
        nsamps -= 1
    while int(nsamps / SAMPLE_RATE * FRAME_RATE) < frames:
        nsamps += 1
    return nsamps


def samples_to_frames(nsamps: int) -> int:
    """NES-MDB's own frame count for a song of ``nsamps`` 44.1 kHz samples."""
    return int(nsamps / SAMPLE_RATE * FRAME_RATE)


def note_events(scores) -> tuple[np.ndarray, np.ndarray]:
    """(onsets, re-attacks), both boolean (..., frames, 4), from scores (..., frames, 4, 3) or notes
    (..., frames, 4).

    An onset is a frame where a note starts: the voice sounds and either its note differs from the frame
    before (a new pitch, or a start after silence) or it is a **re-attack**: the same note with the volume
    rising where it was not rising the frame before, and the note did not start the frame before (a swell
over several frames, or the ramp of a note's attack, counts once). Notes
    alone (no velocity) have no re-attacks. The first frame of a window that sounds is an onset."""
    x = np.asarray(scores)
    notes = x[..., 0] if x.ndim >= 3 and x.shape[-1] == 3 else x
    before = np.concatenate([np.zeros_like(notes[..., :1, :]), notes[..., :-1, :]], axis=-2)
    sounding = notes > 0
    new = sounding & (notes != before)
    velocity = x[..., 1] if x.ndim >= 3 and x.shape[-1] == 3 else None
    if velocity is None:
        return new, np.zeros_like(new)
    v = velocity.astype(np.int16)
    rise = np.zeros_like(new)
    rise[..., 1:, :] = v[..., 1:, :] > v[..., :-1, :]
    # a rise continuing the frame before's rise, or the attack of a note that just started, is no re-attack
    rising_before = np.zeros_like(rise)
    rising_before[..., 1:, :] = rise[..., :-1, :] | new[..., :-1, :]
    reattack = sounding & ~new & rise & ~rising_before
    return new | reattack, reattack


def validate_array(array: np.ndarray) -> None:
    """Raise ScoreError unless ``array`` has the exprsco layout and value ranges."""
    if not isinstance(array, np.ndarray):
        raise ScoreError(f"score must be a numpy array, not {type(array).__name__}")
    if array.dtype != np.uint8:
        raise ScoreError(f"score dtype must be uint8, not {array.dtype}")
    if array.ndim != 3 or array.shape[1:] != (4, 3):
        raise ScoreError(f"score shape must be (frames, 4, 3), not {array.shape}")
    for voice in Voice:
        note, velocity, timbre = (array[:, voice, f] for f in Field)
        sounding = note != 0
        lo, hi = NOTE_RANGE[voice]
        bad = sounding & ((note < lo) | (note > hi))
        if bad.any():
            frame = int(np.argmax(bad))
            raise ScoreError(
                f"{VOICE_NAMES[voice]} note {note[frame]} at frame {frame} is outside {lo}..{hi}"
            )
        if voice == Voice.TR:
            bad = velocity != 0
            what = "triangle velocity must be 0"
        else:
            bad = np.where(sounding, (velocity < 1) | (velocity > MAX_VELOCITY), velocity != 0)
            what = f"velocity must be 1..{MAX_VELOCITY} while sounding and 0 while silent"
        if bad.any():
            frame = int(np.argmax(bad))
            raise ScoreError(
                f"{VOICE_NAMES[voice]} {what} (frame {frame}: note {note[frame]}, "
                f"velocity {velocity[frame]})"
            )
        bad = timbre > MAX_TIMBRE[voice]
        if bad.any():
            frame = int(np.argmax(bad))
            raise ScoreError(
                f"{VOICE_NAMES[voice]} timbre {timbre[frame]} at frame {frame} is outside "
                f"0..{MAX_TIMBRE[voice]}"
            )


@dataclass(frozen=True, eq=False)
class Score:
    """A song as uint8 ``(frames, 4, 3)`` at 24 Hz, with its name and where it came from.

    The array is validated on construction and made read-only, so a Score is a plain value that can be
    shared and sliced (slices are views, no copies).
    """

    array: np.ndarray
    name: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        validate_array(self.array)
        if self.array.flags.writeable:
            view = self.array.view()
            view.flags.writeable = False
            object.__setattr__(self, "array", view)

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def empty(cls, frames: int, name: str = "", source: str = "") -> Score:
        return cls(np.zeros((frames, 4, 3), np.uint8), name, source)

    @classmethod
    def from_notes(cls, notes: np.ndarray, name: str = "", source: str = "") -> Score:
        """A Score from a note-only ``(frames, 4)`` array (seprsco layout).

        Velocity and timbre are those NES-MDB uses when it renders seprsco: velocity 15 and timbre 0
        (duty 12.5 %, noise not looped) for every sounding pulse and noise note; the triangle has none.
        """
        notes = np.asarray(notes)
        if notes.ndim != 2 or notes.shape[1] != 4:
            raise ScoreError(f"note array shape must be (frames, 4), not {notes.shape}")
        if notes.dtype != np.uint8:
            raise ScoreError(f"note array dtype must be uint8, not {notes.dtype}")
        array = np.zeros((len(notes), 4, 3), np.uint8)
        array[:, :, Field.NOTE] = notes
        velocity = np.where(notes != 0, MAX_VELOCITY, 0).astype(np.uint8)
        velocity[:, Voice.TR] = 0
        array[:, :, Field.VELOCITY] = velocity
        return cls(array, name, source)

    # --- other music libraries (nesinterp.io.interop, which the package hands this module as CONVERSIONS)
    @classmethod
    def from_pretty_midi(cls, pm, name: str = "", source: str = "pretty_midi") -> Score:
        """A Score from a ``pretty_midi.PrettyMIDI`` (NES-MDB MIDI exactly; any other MIDI reduced to
        the four voices as ``nesinterp prep`` does)."""
        return CONVERSIONS.score_from_pretty_midi(pm, name, source)

    def to_pretty_midi(self):
        """This Score as a ``pretty_midi.PrettyMIDI`` in NES-MDB's MIDI layout (exact round trip)."""
        return CONVERSIONS.score_to_pretty_midi(self)

    @classmethod
    def from_music21(cls, stream, name: str = "", source: str = "music21") -> Score:
        """A Score from a music21 stream: one made by ``to_music21`` part by part (same notes and onsets),
        any other reduced to the four voices."""
        return CONVERSIONS.score_from_music21(stream, name, source)

    def to_music21(self, title: str | None = None):
        """This Score as a ``music21.stream.Score``: one part per voice (noise as a percussion part), one
        note per onset, 120 bpm (a quarter note is 12 frames)."""
        return CONVERSIONS.score_to_music21(self, title)

    def write_musicxml(self, path, title: str | None = None) -> None:
        """This Score as a MusicXML file for notation programs (see ``to_music21``)."""
        CONVERSIONS.write_musicxml(self, path, title)

    # --- views --------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return int(self.array.shape[0])

    def __len__(self) -> int:
        return self.frames

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / FRAME_RATE

    @property
    def notes(self) -> np.ndarray:
        """``(frames, 4)`` note numbers (seprsco layout), 0 = silent."""
        return self.array[:, :, Field.NOTE]

    @property
    def velocities(self) -> np.ndarray:
        return self.array[:, :, Field.VELOCITY]

    @property
    def timbres(self) -> np.ndarray:
        return self.array[:, :, Field.TIMBRE]

    def onsets(self) -> np.ndarray:
        """Boolean ``(frames, 4)``: where a note starts (a new pitch, a start after silence, or a
        re-attack of the same pitch); see ``note_events``."""
        return note_events(self.array)[0]

    def voice(self, voice: Voice | int) -> np.ndarray:
        """``(frames, 3)`` (note, velocity, timbre) of one voice."""
        return self.array[:, int(voice), :]

    @property
    def is_silent(self) -> bool:
        return not bool(self.notes.any())

    def __getitem__(self, frames: slice) -> Score:
        """Frames ``[start:stop]`` as a Score sharing this one's memory."""
        if not isinstance(frames, slice) or frames.step not in (None, 1):
            raise TypeError("a Score is sliced by a contiguous frame range, e.g. score[24:48]")
        return Score(self.array[frames], self.name, self.source)

    def slice_seconds(self, start: float = 0.0, end: float | None = None) -> Score:
        """The part of the song from ``start`` to ``end`` seconds (frame-rounded)."""
        first = max(0, int(round(start * FRAME_RATE)))
        last = self.frames if end is None else max(first, int(round(end * FRAME_RATE)))
        return self[first:last]

    def with_name(self, name: str, source: str | None = None) -> Score:
        return Score(self.array, name, self.source if source is None else source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Score):
            return NotImplemented
        return (
            self.name == other.name
            and self.source == other.source
            and np.array_equal(self.array, other.array)
        )

    def same_music(self, other: Score) -> bool:
        """True when both hold the same frames, whatever their names."""
        return self.array.shape == other.array.shape and np.array_equal(self.array, other.array)

    def __repr__(self) -> str:
        return f"Score(name={self.name!r}, frames={self.frames}, duration={self.duration:.2f}s)"
