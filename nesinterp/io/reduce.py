"""Any MIDI file -> the four NES voices (P1, P2, TR, NO) at 24 Hz, by fixed and documented rules.

The frame, skyline and octave-folding helpers here are shared with ``nesinterp.io.music21``.

Reduction rules
---------------
Notes. Note-ons are paired with note-offs (a note-on with velocity 0 is an off) per (track, channel,
pitch). A note-on of a pitch that is already sounding on the same track and channel ends the sounding
note and starts a new one (a key cannot sound twice); a note never closed ends at the end of its track.
Times go through the file's tempo map (``MidiFile.tick_to_seconds``); tick 0 is frame 0 (leading
silence is kept). Frames are 24 Hz: start = round(start * 24), end = max(start + 1, round(end * 24)),
rounding half up, so a note of zero length still lasts one frame. The song ends with the last note
(for drums: the last hit plus its length); trailing silence after it is dropped. Sustain pedal, pitch
bend, program changes and controllers are ignored: the pedal would blur the skyline's top line.

Melodic notes (every channel except the GM drum channel 10 = index 9) -> a (frames, 128) activity
roll, cut into segments wherever the set of sounding pitches changes or a note starts, and a skyline
per segment (a loop over segments, never over frames):
  * 3 or more pitches: the highest -> P1, the lowest -> TR (the bass), the second highest -> P2.
  * 2 pitches: the higher -> P1, the lower -> TR (melody and bass is the commonest two-line texture,
    and a triangle bass is the NES idiom); P2 rests (but see stability below).
  * 1 pitch: -> P1.
  Lines are kept stable where that is cheap: a note held without a new onset stays where it was
  (the inner note of a chord stays in P2 when the bass stops; a bass note that outlasts the melody
  stays in TR; with 4+ pitches P2 keeps its held note while it is still an inner voice); a held P1
  note under a new, higher note moves to P2 rather than to the triangle. So with 2 pitches the lower
  one is in TR unless it is such a held pulse note, and with 1 pitch it is in P1 unless it is held
  over in P2 or TR.
Each voice's pitches are then folded by octaves into its range (pulses 33..108, triangle 21..108).
Repeated notes stay audible: when a voice re-strikes the note it already plays, the frame before the
re-strike is silenced if the previous note lasted at least 2 frames.
Velocity: MIDI 1..127 -> max(1, round(v / 127 * 15)), held for the whole note, from the latest
onset of that pitch; the triangle has none (0). Timbre: P1 duty 2 (50 %, the commonest duty in
NES-MDB's train split), P2 duty 1 (25 %, P2's next commonest, so the two pulses stay distinct),
written on every frame as NES-MDB does.

Drums (channel index 9) -> NO through ``DRUM_MAP``: GM drum note -> (noise note 1..16 where 16 is the
highest, length in frames, loop mode, priority). Kicks are low noise and short, snares mid, closed
hats the highest and 1 frame, open hats, rides and crashes high and long, toms spread low to mid by
pitch, metallic hand percussion (cowbell, agogo, claves, wood blocks, triangles, bells) uses loop mode 1
(the short LFSR's tonal ring). Unlisted notes use ``DEFAULT_DRUM``. A hit's volume starts at its
velocity (scaled as above) and falls linearly to 1 over its length. One noise channel: the latest
hit cuts any earlier one; among hits on the same frame the highest priority wins (kick and snare,
then toms, claps and crashes, then rides and hand percussion, then hats and shakers).

Limits: no note at all -> ReduceError("no notes"); a song longer than ``max_seconds`` ->
ReduceError naming the limit, raised from the note times before any per-frame memory is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nesinterp.errors import NesinterpError
from nesinterp.score import (
    FRAME_RATE, MAX_VELOCITY, NOTE_RANGE, Field, Score, Voice, length_limit, too_long,
)

from .drum_map import DEFAULT_DRUM, DRUM_MAP
from .midi_file import NOTE_OFF, NOTE_ON, MidiFile

DRUM_CHANNEL = 9  # GM channel 10
P1_DUTY = 2  # 50 %
P2_DUTY = 1  # 25 %

_DRUM_TABLE = np.array([DRUM_MAP.get(n, DEFAULT_DRUM) for n in range(128)], dtype=np.int64)


class ReduceError(NesinterpError):
    """A MIDI file (or corpus piece) that cannot be reduced to a Score; the message says why."""


# --- time and pitch helpers (shared with nesinterp.io.music21) -------------------------------------------

def round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def frames_from_seconds(start_s: np.ndarray, end_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and (exclusive) end frames of notes; every note lasts at least one frame."""
    start = round_half_up(np.asarray(start_s, dtype=np.float64) * FRAME_RATE)
    end = np.maximum(start + 1, round_half_up(np.asarray(end_s, dtype=np.float64) * FRAME_RATE))
    return start, end


def check_length(last_second: float, frames: int | None, max_seconds: float | None) -> None:
    """ReduceError when a song ending at ``last_second`` (``frames`` frames) is over ``max_seconds``.

    Called on note times before anything per frame is allocated, so a hostile tempo map costs nothing;
    the seconds test comes first so that absurd times never reach an integer conversion.
    """
    max_seconds = length_limit(max_seconds)
    over = not np.isfinite(last_second) or last_second > max_seconds + 1.0
    if over or (frames is not None and frames > max_seconds * FRAME_RATE):
        raise ReduceError(too_long(last_second, max_seconds))


def midi_velocity_to_nes(velocity: np.ndarray) -> np.ndarray:
    """MIDI velocity 1..127 -> NES volume 1..15."""
    v = round_half_up(np.asarray(velocity, dtype=np.float64) / 127 * MAX_VELOCITY)
    return np.clip(v, 1, MAX_VELOCITY).astype(np.uint8)


def fold_into_range(pitch: np.ndarray, voice: Voice) -> np.ndarray:
    """Move pitches by whole octaves into ``voice``'s range (its range spans more than an octave)."""
    lo, hi = NOTE_RANGE[voice]
    pitch = np.asarray(pitch, dtype=np.int64)
    up = np.maximum(0, -((pitch - lo) // 12))  # octaves needed to reach lo
    pitch = pitch + 12 * up
    down = np.maximum(0, -((hi - pitch) // 12))
    return pitch - 12 * down


# --- notes, rolls and lines --------------------------------------------------------------------------

@dataclass(frozen=True)
class FrameNotes:
    """Notes on the 24 Hz grid: start/end frames (end exclusive), MIDI pitch 0..127, NES volume 1..15."""

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray

    def __len__(self) -> int:
        return int(self.start.size)

    @classmethod
    def from_seconds(cls, start_s, end_s, pitch, velocity) -> FrameNotes:
        start, end = frames_from_seconds(start_s, end_s)
        return cls(start, end, np.asarray(pitch, np.int64), np.asarray(velocity, np.uint8))

    def select(self, mask: np.ndarray) -> FrameNotes:
        return FrameNotes(self.start[mask], self.end[mask], self.pitch[mask], self.velocity[mask])


@dataclass(frozen=True)
class Roll:
    """Per (frame, pitch): sounding, a note starts, and the index of the latest-started sounding note."""

    active: np.ndarray  # (frames, 128) bool
    onset: np.ndarray  # (frames, 128) bool
    latest: np.ndarray  # (frames, 128) int32 into ``velocity``; -1 before any note of that pitch
    velocity: np.ndarray  # per note, sorted by start

    @property
    def frames(self) -> int:
        return int(self.active.shape[0])

    @classmethod
    def from_notes(cls, notes: FrameNotes, frames: int) -> Roll:
        order = np.argsort(notes.start, kind="stable")  # index grows with start: max index = latest
        start = np.minimum(notes.start[order], frames)
        end = np.minimum(notes.end[order], frames)
        pitch = notes.pitch[order]
        keep = start < frames
        start, end, pitch = start[keep], end[keep], pitch[keep]
        index = np.flatnonzero(keep).astype(np.int32)
        count = np.zeros((frames + 1, 128), np.int32)
        np.add.at(count, (start, pitch), 1)
        np.add.at(count, (end, pitch), -1)
        np.cumsum(count, axis=0, out=count)
        active = count[:-1] > 0
        del count
        onset = np.zeros((frames, 128), bool)
        onset[start, pitch] = True
        latest = np.full((frames, 128), -1, np.int32)
        np.maximum.at(latest, (start, pitch), index)
        np.maximum.accumulate(latest, axis=0, out=latest)
        return cls(active, onset, latest, notes.velocity[order])

    def velocity_of(self, line: np.ndarray) -> np.ndarray:
        """NES volume of the note each frame of ``line`` plays (0 where the line rests)."""
        frames = np.arange(self.frames)
        sounding = line >= 0
        idx = self.latest[frames, np.where(sounding, line, 0)]
        return np.where(sounding & (idx >= 0), self.velocity[np.maximum(idx, 0)], 0).astype(np.uint8)

    def onsets_of(self, line: np.ndarray) -> np.ndarray:
        """Frames where ``line`` starts a note: its pitch changes or its pitch is struck again."""
        sounding = line >= 0
        struck = self.onset[np.arange(self.frames), np.where(sounding, line, 0)]
        changed = line != np.concatenate([[-1], line[:-1]])
        return sounding & (struck | changed)


def top_line(roll: Roll) -> np.ndarray:
    """Highest sounding pitch per frame, -1 where nothing sounds."""
    top = 127 - np.argmax(roll.active[:, ::-1], axis=1)
    return np.where(roll.active.any(axis=1), top, -1)


def bottom_line(roll: Roll) -> np.ndarray:
    """Lowest sounding pitch per frame, -1 where nothing sounds."""
    return np.where(roll.active.any(axis=1), np.argmax(roll.active, axis=1), -1)


def skyline(roll: Roll) -> np.ndarray:
    """(frames, 3) pitch lines for P1, P2, TR (-1 = rest) by the rules in the module docstring."""
    active, onset = roll.active, roll.onset
    frames = roll.frames
    change = np.ones(frames, bool)
    change[1:] = (active[1:] != active[:-1]).any(axis=1) | onset[1:].any(axis=1)
    starts = np.flatnonzero(change)
    rows, struck = active[starts], onset[starts]
    lines = np.full((starts.size, 3), -1, np.int16)
    p1 = p2 = tr = -1
    for i in range(starts.size):
        pitches = np.flatnonzero(rows[i]).tolist()
        row_struck = struck[i]
        n = len(pitches)
        prev_p1, prev_p2, prev_tr = p1, p2, tr
        p1 = p2 = tr = -1
        if n == 1:
            p = pitches[0]
            held = not row_struck[p]
            if held and p == prev_tr:
                tr = p
            elif held and p == prev_p2:
                p2 = p
            else:
                p1 = p
        elif n == 2:
            lo, p1 = pitches
            if not row_struck[lo] and lo in (prev_p1, prev_p2):
                p2 = lo  # a held pulse note under a new top note (or after the bass stopped) stays a pulse
            else:
                tr = lo
        elif n >= 3:
            p1, tr = pitches[-1], pitches[0]
            if tr < prev_p2 < p1 and rows[i, prev_p2] and not row_struck[prev_p2]:
                p2 = prev_p2
            else:
                p2 = pitches[-2]
        lines[i] = (p1, p2, tr)
    return np.repeat(lines, np.diff(np.append(starts, frames)), axis=0)


def tonal_voice(line: np.ndarray, roll: Roll, voice: Voice, timbre: int = 0) -> np.ndarray:
    """(frames, 3) uint8 note/velocity/timbre of a pulse or triangle playing ``line`` from ``roll``."""
    frames = line.size
    sounding = line >= 0
    onset = roll.onsets_of(line)
    notes = np.where(sounding, fold_into_range(np.where(sounding, line, 0), voice), 0)
    # A re-strike of the note already playing is inaudible on the NES: silence the frame before it
    # when the previous note is long enough (>= 2 frames) to spare one.
    idx = np.arange(frames)
    last_onset = np.maximum.accumulate(np.where(onset, idx, -1))
    prev_note = np.concatenate([[0], notes[:-1]])
    restrike = np.flatnonzero(onset & sounding & (notes == prev_note))
    restrike = restrike[last_onset[restrike - 1] < restrike - 1]
    notes[restrike - 1] = 0
    out = np.zeros((frames, 3), np.uint8)
    out[:, Field.NOTE] = notes
    if voice != Voice.TR:
        out[:, Field.VELOCITY] = np.where(notes > 0, roll.velocity_of(line), 0)
    out[:, Field.TIMBRE] = timbre
    return out


def noise_voice(start: np.ndarray, gm_note: np.ndarray, velocity: np.ndarray, frames: int) -> np.ndarray:
    """(frames, 3) uint8 noise voice from drum hits (start frame, GM drum note, NES volume 1..15)."""
    out = np.zeros((frames, 3), np.uint8)
    keep = start < frames
    start, gm_note, velocity = start[keep], gm_note[keep], velocity[keep].astype(np.int64)
    if not start.size:
        return out
    table = _DRUM_TABLE[gm_note]
    order = np.lexsort((table[:, 3], start))  # by start, then priority: the winner comes last
    start, table, velocity = start[order], table[order], velocity[order]
    latest = np.full(frames, -1, np.int64)
    np.maximum.at(latest, start, np.arange(start.size))
    np.maximum.accumulate(latest, out=latest)
    hit = np.maximum(latest, 0)
    age = np.arange(frames) - start[hit]
    length = table[hit, 1]
    on = (latest >= 0) & (age < length)
    v0 = velocity[hit]
    decay = np.where(length > 1, age / np.maximum(length - 1, 1), 0.0)
    vol = np.clip(round_half_up(v0 + (1 - v0) * decay), 1, MAX_VELOCITY)
    out[:, Field.NOTE] = np.where(on, table[hit, 0], 0)
    out[:, Field.VELOCITY] = np.where(on, vol, 0)
    out[:, Field.TIMBRE] = np.where(on, table[hit, 2], 0)
    return out


# --- MIDI ---------------------------------------------------------------------------------------------

def _track_notes(track) -> tuple[np.ndarray, ...]:
    """(start tick, end tick, channel, pitch, velocity) of every note in one track."""
    is_note = (track.kinds == NOTE_ON) | (track.kinds == NOTE_OFF)
    idx = np.flatnonzero(is_note)
    ticks, channels = track.ticks[idx], track.channels[idx].astype(np.int64)
    pitch, velocity = track.data1[idx].astype(np.int64), track.data2[idx]
    is_on = (track.kinds[idx] == NOTE_ON) & (velocity > 0)
    key = channels * 128 + pitch
    order = np.argsort(key, kind="stable")  # events stay in file order within a key
    key, ticks, is_on = key[order], ticks[order], is_on[order]
    # Each note-on ends at the next event of its key: its note-off, or a re-strike of the same key.
    same_next = np.append(key[1:] == key[:-1], False)
    end = np.where(same_next, np.append(ticks[1:], 0), track.end_tick)
    return ticks[is_on], end[is_on], channels[order][is_on], pitch[order][is_on], velocity[order][is_on]


def midi_notes(midi: MidiFile) -> tuple[np.ndarray, ...]:
    """(start s, end s, channel, pitch, MIDI velocity) of every note of every track."""
    parts = [_track_notes(t) for t in midi.tracks]
    start, end, channel, pitch, velocity = (np.concatenate([p[i] for p in parts]) for i in range(5))
    return (
        midi.tick_to_seconds(start),
        midi.tick_to_seconds(end),
        channel,
        pitch,
        velocity,
    )


def score_from_general_midi(
    midi: MidiFile, name: str = "", source: str = "", max_seconds: float | None = None
) -> Score:
    """Reduce any MIDI file to a Score by the rules in this module's docstring. Raises ReduceError."""
    start_s, end_s, channel, pitch, velocity = midi_notes(midi)
    if not start_s.size:
        raise ReduceError("no notes")
    drum = channel == DRUM_CHANNEL
    hit_frames = _DRUM_TABLE[pitch[drum], 1]
    # The song ends with its last note; a drum hit lasts its mapped length, whatever its note-off says.
    last = max(
        float(end_s[~drum].max()) if (~drum).any() else 0.0,
        float((start_s[drum] + hit_frames / FRAME_RATE).max()) if drum.any() else 0.0,
    )
    check_length(last, None, max_seconds)
    notes = FrameNotes.from_seconds(start_s, end_s, pitch, midi_velocity_to_nes(velocity))
    melodic = notes.select(~drum)
    frames = max(
        int(melodic.end.max()) if len(melodic) else 0,
        int((notes.start[drum] + hit_frames).max()) if drum.any() else 0,
    )
    check_length(last, frames, max_seconds)

    array = np.zeros((frames, 4, 3), np.uint8)
    if len(melodic):
        roll = Roll.from_notes(melodic, frames)
        lines = skyline(roll)
        array[:, Voice.P1] = tonal_voice(lines[:, 0], roll, Voice.P1, P1_DUTY)
        array[:, Voice.P2] = tonal_voice(lines[:, 1], roll, Voice.P2, P2_DUTY)
        array[:, Voice.TR] = tonal_voice(lines[:, 2], roll, Voice.TR)
    else:
        array[:, Voice.P1, Field.TIMBRE] = P1_DUTY
        array[:, Voice.P2, Field.TIMBRE] = P2_DUTY
    if drum.any():
        array[:, Voice.NO] = noise_voice(notes.start[drum], pitch[drum], notes.velocity[drum], frames)
    return Score(array, name, source)
