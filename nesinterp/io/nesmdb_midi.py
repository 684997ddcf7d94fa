"""NES-MDB-format MIDI <-> Score, exactly as NES-MDB's own converter does it.

NES-MDB MIDI lives on the 44.1 kHz timeline (22050 ticks per beat at 120 bpm: one tick = one sample).
Reading rebuilds each voice's (note, velocity, timbre) as piecewise-constant segments of that timeline
and downsamples to 24 Hz the way exprsco was made: per frame and field, the value held longest among
the samples where the voice sounds, ties to the smaller value; a frame where the voice is silent
throughout has note 0, velocity 0 and the longest-held timbre. The work is per segment, never per
sample, so a 25-minute song costs no more than its number of events.
"""

from __future__ import annotations

import numpy as np

from nesinterp.errors import NesinterpError
from nesinterp.score import (
    FRAME_RATE, SAMPLE_RATE, Field, Score, Voice, frames_to_samples, length_limit, note_events, samples_to_frames,
    too_long,
)

from .midi_file import (
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    PROGRAM_CHANGE,
    META_SET_TEMPO,
    META_TIME_SIGNATURE,
    META_TRACK_NAME,
    MidiFile,
    MidiLimits,
    meta,
    midi_bytes,
    parse_midi,
    track_chunk,
)

TRACK_NAMES = ("p1", "p2", "tr", "no")
CHANNELS = (0, 1, 2, 9)
PROGRAMS = (80, 81, 38, 121)
CC_VELOCITY = 11
CC_TIMBRE = 12
TICKS_PER_BEAT = 22050
TEMPO = 500000


class NesMidiError(NesinterpError):
    """A MIDI file that claims the NES-MDB layout but breaks it."""


def is_nesmdb_midi(midi: MidiFile) -> bool:
    """NES-MDB MIDI names its voice tracks p1, p2, tr, no (each optional)."""
    names = [t.name for t in midi.tracks if t.name]
    return bool(names) and all(n in TRACK_NAMES for n in names)


def _song_samples(midi: MidiFile, to_samples) -> int:
    """Song length in samples: the 1/1 time signature NES-MDB puts at the end of every song."""
    sigs = sorted(midi.time_signatures)
    if len(sigs) >= 2:
        return int(to_samples(np.array([sigs[-1][0]]))[0])
    # Not written by NES-MDB's converter: end at the last event.
    return int(to_samples(np.array([midi.end_tick]))[0])


def _tick_converter(midi: MidiFile):
    tempos = {t for _, t in midi.tempos}
    native = (
        midi.seconds_per_tick_fixed is None
        and midi.ticks_per_beat == TICKS_PER_BEAT
        and tempos <= {TEMPO}
    )
    if native:
        return lambda ticks: np.asarray(ticks, dtype=np.int64)
    # Clipped so that an absurd tempo map gives a huge (and refused) length, not an integer overflow.
    return lambda ticks: np.rint(np.minimum(midi.tick_to_seconds(ticks) * SAMPLE_RATE, 2.0**62)).astype(np.int64)


def _forward_fill(values: np.ndarray, has: np.ndarray, initial: int = 0) -> np.ndarray:
    """At each position, the value of the last position at or before it where ``has`` is true."""
    idx = np.maximum.accumulate(np.where(has, np.arange(len(has)), -1))
    return np.where(idx >= 0, values[np.maximum(idx, 0)], initial)


def _voice_segments(track, voice: int, to_samples, nsamps: int):
    """Change points of one voice on the 44.1 kHz timeline: (sample, note, velocity, timbre) arrays,
    each row the state from that sample until the next row's sample.

    Within one sample NES-MDB applies note events before controllers (its converter collects them
    so), and a note-off ends only the note that sounds: at a note boundary the next note-on may be
    written before the previous note's off. Computed with forward fills over the events, no loop.
    """
    kinds, d1, d2 = track.kinds, track.data1, track.data2
    is_on = (kinds == NOTE_ON) & (d2 > 0)
    is_off = (kinds == NOTE_OFF) | ((kinds == NOTE_ON) & (d2 == 0))
    is_cc = (kinds == CONTROL_CHANGE) & ((d1 == CC_VELOCITY) | (d1 == CC_TIMBRE))
    keep = is_on | is_off | is_cc
    samples = to_samples(track.ticks[keep])
    order = np.lexsort((np.arange(len(samples)), is_cc[keep], samples))
    samples = samples[order]
    inside = samples < nsamps
    samples = samples[inside]
    on, off, cc = (m[keep][order][inside] for m in (is_on, is_off, is_cc))
    d1 = d1[keep][order][inside].astype(np.int64)
    d2 = d2[keep][order][inside].astype(np.int64)
    if len(samples) == 0:
        zero = np.zeros(1, np.int64)
        return zero, zero, zero, zero

    pos = np.arange(len(samples))
    last_on = np.maximum.accumulate(np.where(on, pos, -1))
    pitch = np.where(last_on >= 0, d1[np.maximum(last_on, 0)], 0)
    ends_note = off & (last_on >= 0) & (d1 == pitch)
    last_end = np.maximum.accumulate(np.where(ends_note, pos, -1))
    note = np.where(last_end > last_on, 0, pitch)

    vel_source = on | ends_note | (cc & (d1 == CC_VELOCITY))
    vel_value = np.where(on, 0 if voice == Voice.TR else d2, np.where(ends_note, 0, d2))
    velocity = _forward_fill(vel_value, vel_source)
    timbre = _forward_fill(d2, cc & (d1 == CC_TIMBRE))

    # The state after the last event of each sample holds until the next sample with events.
    last_of_sample = np.ones(len(samples), bool)
    last_of_sample[:-1] = samples[1:] != samples[:-1]
    seg = (samples[last_of_sample], note[last_of_sample], velocity[last_of_sample], timbre[last_of_sample])
    if seg[0][0] > 0:
        seg = tuple(np.concatenate([[0], a]) for a in seg)
    return seg


def frame_starts(frames: int) -> np.ndarray:
    """First 44.1 kHz sample of each 24 Hz frame, computed as NES-MDB does: int(i / 24 * 44100)."""
    return ((np.arange(frames + 1, dtype=np.float64) / FRAME_RATE) * SAMPLE_RATE).astype(np.int64)


def _weighted_modes(frame: np.ndarray, columns: list[np.ndarray], weight: np.ndarray, frames: int) -> list:
    """Per frame and column, the value with the largest total weight (ties -> smaller value); -1 where
    the frame has none.

    One dense (frames, distinct values of every column) table of weight sums and an argmax per row and
    column: the values are small integers, so no sort is needed (the first maximum of a row is the
    smallest value, as ties ask)."""
    if len(frame) == 0:
        return [np.full(frames, -1, np.int64) for _ in columns]
    has = np.bincount(frame, minlength=frames) > 0
    ranks, values, start = [], [], 0
    for value in columns:
        present = np.bincount(value, minlength=1) > 0
        ranks.append(start + np.cumsum(present)[value] - 1)  # value -> its column in the table
        values.append(np.flatnonzero(present))
        start += len(values[-1])
    key = (frame[:, None] * start + np.stack(ranks, axis=1)).ravel()
    table = np.bincount(key, weights=np.repeat(weight, len(columns)), minlength=frames * start).reshape(frames, start)
    table = table[has]
    out, start = [], 0
    for value in values:
        best = np.full(frames, -1, np.int64)
        best[has] = value[np.argmax(table[:, start: start + len(value)], axis=1)]
        out.append(best)
        start += len(value)
    return out


def downsample_segments(seg_samples, seg_note, seg_vel, seg_timbre, nsamps: int) -> np.ndarray:
    """(frames, 3) uint8 for one voice from its 44.1 kHz segments, NES-MDB's exprsco downsampling."""
    frames = samples_to_frames(nsamps)
    starts = frame_starts(frames)
    # Cut the segments at every frame boundary so each piece lies in exactly one frame.
    cuts = np.concatenate([seg_samples[seg_samples < starts[-1]], starts])
    cuts.sort(kind="stable")  # two sorted runs: a merge
    cuts = cuts[np.concatenate([[True], cuts[1:] != cuts[:-1]])]
    lengths = np.diff(cuts)
    pieces = cuts[:-1]
    which = np.searchsorted(seg_samples, pieces, side="right") - 1
    frame = np.searchsorted(starts, pieces, side="right") - 1
    note, vel, timbre = seg_note[which], seg_vel[which], seg_timbre[which]
    sounding = note != 0
    out = np.zeros((frames, 3), np.int64)
    fs, ls = frame[sounding], lengths[sounding]
    n, v, t_on = _weighted_modes(fs, [note[sounding], vel[sounding], timbre[sounding]], ls, frames)
    (t_all,) = _weighted_modes(frame, [timbre], lengths, frames)
    on = n >= 0
    out[:, Field.NOTE] = np.where(on, n, 0)
    out[:, Field.VELOCITY] = np.where(on, v, 0)
    out[:, Field.TIMBRE] = np.where(on, t_on, np.maximum(t_all, 0))
    return out.astype(np.uint8)


def score_from_nesmdb_midi(midi: MidiFile, name: str = "", source: str = "",
                           max_seconds: float | None = None) -> Score:
    to_samples = _tick_converter(midi)
    nsamps = _song_samples(midi, to_samples)
    limit = length_limit(max_seconds)
    if nsamps / SAMPLE_RATE > limit:  # before anything per frame is allocated
        raise NesMidiError(too_long(nsamps / SAMPLE_RATE, limit))
    frames = samples_to_frames(nsamps)
    array = np.zeros((frames, 4, 3), np.uint8)
    for track in midi.tracks:
        if track.name not in TRACK_NAMES:
            continue
        voice = TRACK_NAMES.index(track.name)
        segments = _voice_segments(track, voice, to_samples, nsamps)
        array[:, voice, :] = downsample_segments(*segments, nsamps)
    return Score(array, name, source)


def read_nesmdb_midi_bytes(data: bytes, name: str = "", source: str = "", limits=MidiLimits(),
                           max_seconds: float | None = None) -> Score:
    midi = parse_midi(data, limits)
    if not is_nesmdb_midi(midi):
        raise NesMidiError("not NES-MDB MIDI (no p1/p2/tr/no tracks)")
    return score_from_nesmdb_midi(midi, name, source, max_seconds)


# --- writing ----------------------------------------------------------------------------------------

def _voice_events(score: Score, voice: int, starts: np.ndarray, nsamps: int,
                  reattacks: np.ndarray | None = None) -> list[tuple[int, int, bytes]]:
    """(sample, sort key, bytes) of one voice, with NES-MDB's rules: a note boundary wherever the note
    changes (and at ``reattacks``, frames where the same note starts again), CC 11 where velocity changes
    under a held note, CC 12 wherever timbre changes."""
    channel = CHANNELS[voice]
    note = score.notes[:, voice].astype(np.int64)
    vel = score.velocities[:, voice].astype(np.int64)
    timbre = score.timbres[:, voice].astype(np.int64)
    if voice == Voice.TR:
        vel = np.ones_like(vel)  # MIDI cannot hold velocity 0
    prev_note = np.concatenate([[0], note[:-1]])
    prev_vel = np.concatenate([[0 if voice != Voice.TR else 1], vel[:-1]])
    prev_timbre = np.concatenate([[0], timbre[:-1]])
    changed = note != prev_note
    if reattacks is not None:
        changed = changed | reattacks
    events: list[tuple[int, int, bytes]] = []
    on_status, cc_status = 0x90 | channel, 0xB0 | channel

    def add(frames_mask, make):
        for i in np.flatnonzero(frames_mask).tolist():
            events.append(make(i))

    # pretty_midi's order within a tick: controllers (by number, value), then note_on (by note, velocity).
    add(changed & (prev_note != 0), lambda i: (int(starts[i]), 10 * 65536 + int(prev_note[i]) * 256,
                                                bytes((on_status, int(prev_note[i]), 0))))
    add(changed & (note != 0), lambda i: (int(starts[i]), 10 * 65536 + int(note[i]) * 256 + int(vel[i]),
                                           bytes((on_status, int(note[i]), int(vel[i])))))
    add(~changed & (vel != prev_vel), lambda i: (int(starts[i]), 8 * 65536 + CC_VELOCITY * 256 + int(vel[i]),
                                                  bytes((cc_status, CC_VELOCITY, int(vel[i])))))
    add(timbre != prev_timbre, lambda i: (int(starts[i]), 8 * 65536 + CC_TIMBRE * 256 + int(timbre[i]),
                                          bytes((cc_status, CC_TIMBRE, int(timbre[i])))))
    if len(note) and note[-1] != 0:
        events.append((nsamps, 10 * 65536 + int(note[-1]) * 256, bytes((on_status, int(note[-1]), 0))))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def nesmdb_midi_bytes(score: Score, retrigger: bool = False) -> bytes:
    """A Score as NES-MDB MIDI: the exact track layout, channels, programs and timeline of the dataset.
    ``retrigger``: also end and restart the note at each re-attack (the same pitch starting again with
    a rising volume, ``Score.onsets``), where NES-MDB only raises CC 11, so that any synth plays the new
    attack; it reads back to the same Score."""
    reattacks = note_events(score.array)[1] if retrigger else None
    nsamps = frames_to_samples(score.frames)
    starts = frame_starts(score.frames)
    conductor = [
        (0, meta(META_SET_TEMPO, TEMPO.to_bytes(3, "big"))),
        (0, meta(META_TIME_SIGNATURE, bytes((4, 2, 24, 8)))),
        (nsamps, meta(META_TIME_SIGNATURE, bytes((1, 0, 24, 8)))),
    ]
    chunks = [track_chunk(conductor)]
    for voice in Voice:
        header = [
            (0, meta(META_TRACK_NAME, TRACK_NAMES[voice].encode())),
            (0, bytes((0xC0 | CHANNELS[voice], PROGRAMS[voice]))),
        ]
        again = reattacks[:, voice] if reattacks is not None else None
        body = [(s, ev) for s, _, ev in _voice_events(score, voice, starts, nsamps, again)]
        chunks.append(track_chunk(header + body))
    return midi_bytes(chunks, TICKS_PER_BEAT)


def write_nesmdb_midi(score: Score, path, retrigger: bool = False) -> None:
    """Write ``score`` to ``path`` as NES-MDB MIDI (tracks p1, p2, tr, no; volume and timbre as control
    changes), which ``read_score`` reads back exactly.

    Args:
        score: the Score.
        path: the .mid file to write (replaced if it exists).
        retrigger: restart notes at re-attacks too (see ``nesmdb_midi_bytes``).
    """
    from pathlib import Path

    Path(path).write_bytes(nesmdb_midi_bytes(score, retrigger))


__all__ = [
    "NesMidiError",
    "is_nesmdb_midi",
    "nesmdb_midi_bytes",
    "read_nesmdb_midi_bytes",
    "score_from_nesmdb_midi",
    "write_nesmdb_midi",
    "PROGRAM_CHANGE",
]
