"""The 2A03's four voices as step functions: per 24 Hz frame each voice's rate, phase and level, and
every level change (edge) inside a frame, found in closed form (see ``nesinterp.synth``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..score import FRAME_RATE, Field, Score
from .chip import (
    CPU_CLOCK, NOISE_LOOP_LENGTH, NOISE_PERIODS, PULSE_STEPS, TRIANGLE_SEQUENCE, TRIANGLE_START_PHASE,
    noise_period, noise_sequence, pulse_sequence, pulse_timer, triangle_timer,
)

CHUNK_FRAMES = 96
"""Frames rendered per chunk (4 s): per-sample buffers stay in cache, per-chunk overhead is noise."""

FAST_NOISE = 1.5
"""Noise that shifts more often than this per output sample is rendered per sample (each sample's box
average read from ``fast_noise_table``), not per edge: there its edges outnumber samples. Measured: a
lower threshold is no faster (0.6 and 1.0 tried on the valid split's noisiest songs)."""

NOISE_OFFSETS = 32
"""Start offsets per sample tabulated for fast noise (``fast_noise_table``)."""

SIMULTANEOUS = 1e-7
"""Edges of two voices closer than this (in sequencer steps) count as simultaneous (see ``Plan.level_at``)."""

NOISE_PHASE_WRAP = float(np.lcm(NOISE_LOOP_LENGTH[0], NOISE_LOOP_LENGTH[1]))
"""The noise shift count is kept modulo this between chunks; both loops repeat in it."""


def frame_bounds(frames: int, sample_rate: int) -> np.ndarray:
    """Sample index where each frame starts, plus the end: frame i covers [i sr / 24, (i+1) sr / 24).

    Integer arithmetic, so a song of F frames is exactly floor(F sr / 24) samples, F / 24 seconds to
    within one sample.
    """
    return np.arange(frames + 1, dtype=np.int64) * int(sample_rate) // FRAME_RATE


class Sequences:
    """The step sequences of one kind of voice, one per variant (pulse duty, noise mode), each tiled
    (unrolled) over more steps than one frame advances plus a period, so that a frame starting in the
    first period reads its steps and edges without a modulo. Edges are the steps whose value differs
    from the step before: a voice's level changes only there."""

    def __init__(self, sequences):
        self.sequences = [np.asarray(s, np.float64) for s in sequences]
        self.period = np.array([len(s) for s in self.sequences], np.int64)
        self.span = -1
        self.unroll(1024)

    def unroll(self, span: int) -> None:
        """Tile the sequences over at least ``span`` steps beyond their first period (grows only)."""
        if span <= self.span:
            return
        self.span = span = max(span, 2 * self.span)
        tiles = [np.tile(s, -(-(span + 2 * len(s)) // len(s))) for s in self.sequences]
        self.width = max(len(t) for t in tiles)
        self.values = np.zeros((len(tiles), self.width))
        self.edges = []
        for v, tiled in enumerate(tiles):
            self.values[v, :len(tiled)] = tiled
            before = np.roll(tiled, 1)
            step = np.flatnonzero(tiled != before)
            self.edges.append((step, before[step], tiled[step]))
        self.values = self.values.reshape(-1)  # variant v, step k at v * width + k


@lru_cache(maxsize=None)
def pulse_sequences() -> Sequences:
    return Sequences([pulse_sequence(d) for d in range(4)])


@lru_cache(maxsize=None)
def triangle_sequences() -> Sequences:
    return Sequences([TRIANGLE_SEQUENCE])


@lru_cache(maxsize=None)
def noise_sequences() -> Sequences:
    return Sequences([noise_sequence(0), noise_sequence(1)])


@lru_cache(maxsize=None)
def noise_running_sum(mode: int) -> tuple[np.ndarray, np.ndarray]:
    """The noise output tiled over more than a loop plus the most shifts of one frame, and its running
    sum from phase 0 (``sums[k]`` = the integral over [0, k)): the box average of fast noise."""
    seq = noise_sequence(mode).astype(np.float64)
    need = len(seq) + int(CPU_CLOCK / NOISE_PERIODS.min() / FRAME_RATE) + 1024
    tiled = np.tile(seq, -(-need // len(seq)))
    return tiled, np.concatenate([[0.0], np.cumsum(tiled)])


class Plan:
    """One voice over a chunk of frames: per frame whether it sounds, its rate (steps per sample), its
    phase at the frame start (in [0, period)), its volume and variant, and the level it holds while
    silent (the halted triangle's step; 0 for the others). Fast noise frames carry per-sample levels."""

    def __init__(self, seqs: Sequences, sounding, rate, phase, volume, variant, held, starts, counts):
        self.seqs = seqs
        self.sounding = sounding & (rate > 0)
        self.rate = np.where(self.sounding, rate, 0.0)
        self.phase = phase
        self.variant = variant
        self.starts, self.counts = starts, counts  # chunk-relative first sample and length of each frame
        self.first_step = np.floor(phase).astype(np.int64)
        self.last_step = np.floor(phase + self.rate * counts).astype(np.int64)
        self.fast = np.zeros(len(rate), bool)
        # For lookups at any time of a frame: level = gain * values[variant, step] + hold.
        self.gain = np.where(self.sounding, volume, 0).astype(np.float64)
        self.hold = np.where(self.sounding, 0.0, held)
        if self.sounding.any():
            seqs.unroll(int((self.last_step - self.first_step)[self.sounding].max()) + 1)
        self.offset = phase - self.rate * starts  # phase at chunk sample t: offset + rate t

    def _level(self, step, frames=slice(None)) -> np.ndarray:
        # (The width is read now: another voice of the same kind may have unrolled the tables since.)
        return self.gain[frames] * self.seqs.values[self.variant[frames] * self.seqs.width + step] + self.hold[frames]

    def start_levels(self) -> np.ndarray:
        level = self._level(self.first_step)
        if self.fast.any():
            level[self.fast] = self.fast_levels[:, 0]
        return level

    def end_levels(self) -> np.ndarray:
        level = self._level(self.last_step)
        if self.fast.any():
            level[self.fast] = self.fast_levels[:, -1]  # a short row repeats its last level
        return level

    def level_at(self, frames: np.ndarray, times: np.ndarray, side: str) -> np.ndarray:
        """The level at ``times`` (chunk samples) inside ``frames`` (none of them fast noise): just before
        an edge of this voice at the same time (``side="left"``) or just after it (``"right"``). One voice
        of a pair looks left and the other right, so that two simultaneous edges (unison pulses) add up
        to the pair's change."""
        phase = self.offset[frames] + self.rate[frames] * times
        if side == "left":
            phase -= SIMULTANEOUS
            step = np.ceil(phase, out=phase).astype(np.int64)
            step -= 1
        else:
            phase += SIMULTANEOUS
            step = np.floor(phase, out=phase).astype(np.int64)
        np.maximum(step, self.first_step[frames], out=step)  # never outside the frame
        np.minimum(step, self.last_step[frames], out=step)
        return self._level(step, frames)

    def edges(self):
        """Every level change inside the frames (fast noise frames excepted): ``(frame, time, level
        before, level after)``, time in chunk samples, strictly after the frame's start and at most at
        its end (changes at a frame start are the frame boundary's, see ``start_levels``)."""
        parts = []
        edge_frames = self.sounding & ~self.fast
        for v in np.unique(self.variant[edge_frames]):
            frames = np.flatnonzero(edge_frames & (self.variant == v))
            steps, before, after = self.seqs.edges[v]
            first = np.searchsorted(steps, self.first_step[frames], side="right")
            n = np.searchsorted(steps, self.last_step[frames], side="right") - first
            ends = np.cumsum(n)
            e = np.arange(int(ends[-1])) + np.repeat(first - ends + n, n)
            rate = self.rate[frames]
            times = np.repeat(self.starts[frames] - self.phase[frames] / rate, n) + steps[e] * np.repeat(1.0 / rate, n)
            np.minimum(times, np.repeat(self.starts[frames] + self.counts[frames], n), out=times)
            gain = np.repeat(self.gain[frames], n)
            parts.append((np.repeat(frames, n), times, gain * before[e], gain * after[e]))
        if not parts:
            empty = np.zeros(0)
            return np.zeros(0, np.int64), empty, empty, empty
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate(column) for column in zip(*parts))

    def use_fast_noise(self, sample_rate: int, clocks: np.ndarray) -> None:
        """Render the frames whose noise shifts faster than FAST_NOISE per sample sample by sample, from
        ``fast_noise_table``: ``fast_levels`` and ``fast_at`` are grids, one row per fast frame, one
        column per sample (chunk positions in ``fast_at``); a row shorter than the grid repeats its last
        level in the spare column, whose position is ``trash`` (one past the chunk's spill sample)."""
        self.fast = self.sounding & (self.rate > FAST_NOISE)
        if not self.fast.any():
            return
        fast = np.flatnonzero(self.fast)
        counts = self.counts[fast]
        width = int(counts.max())
        j = np.arange(width)
        levels = np.empty((len(fast), width))
        for mode, period in set(zip(self.variant[fast].tolist(), clocks[fast].tolist())):
            rows = (self.variant[fast] == mode) & (clocks[fast] == period)
            table, rate = fast_noise_table(mode, period, sample_rate)
            # The table row whose start offset is nearest the frame's phase (a shift of at most
            # 1 / (2 NOISE_OFFSETS) sample), then the frame's samples in a row.
            start = np.rint(self.phase[fast[rows]] / rate * NOISE_OFFSETS).astype(np.int64)
            first = (start % NOISE_OFFSETS) * table.shape[1] + start // NOISE_OFFSETS
            levels[rows] = np.take(table.reshape(-1), first[:, None] + j[None, :])
        levels *= self.gain[fast, None]
        short = j[None, :] >= counts[:, None]
        self.trash = int(self.starts[-1] + self.counts[-1]) + 1
        self.fast_at = np.where(short, self.trash, self.starts[fast, None] + j[None, :])
        if short.any():
            levels[short] = levels[np.arange(len(fast)), counts - 1][np.nonzero(short)[0]]
        self.fast_levels = levels


@lru_cache(maxsize=64)
def fast_noise_table(mode: int, clocks: int, sample_rate: int) -> tuple[np.ndarray, float]:
    """Unit noise of ``mode`` shifting every ``clocks`` CPU clocks, box-averaged per sample: row q starts
    q / NOISE_OFFSETS of a sample after shift 0, and runs a loop plus a frame. Returns (the table,
    shifts per sample). Cached: a render uses a few of them many times."""
    rate = CPU_CLOCK / clocks / sample_rate
    samples = int(np.ceil(NOISE_LOOP_LENGTH[mode] / rate)) + int(sample_rate) // FRAME_RATE + 4
    tiled, sums = noise_running_sum(mode)
    phase = rate * (np.arange(samples + 1)[None, :] + np.arange(NOISE_OFFSETS)[:, None] / NOISE_OFFSETS)
    step = phase.astype(np.int64)
    running = sums[step] + (phase - step) * tiled[step]
    table = np.diff(running, axis=1) / rate
    table.flags.writeable = False
    return table, rate


class ChannelState:
    """What carries from one chunk to the next: phases, the last pulse notes, and each voice's level
    at the end of the chunk (the level the next chunk's first frame boundary starts from)."""

    def __init__(self):
        self.pulse_phase = [0.0, 0.0]
        self.pulse_note = [0, 0]
        self.triangle_phase = TRIANGLE_START_PHASE
        self.noise_phase = 0.0
        self.levels = np.zeros(4)


def _reduce(phase, period):
    return phase - period * np.floor(phase / period)


def _pulse_plan(note, velocity, duty, state: ChannelState, voice, sample_rate, starts, counts) -> Plan:
    sounding = (note > 0) & (velocity > 0)
    previous = np.concatenate([[state.pulse_note[voice]], note[:-1]])
    state.pulse_note[voice] = int(note[-1]) if sounding[-1] else 0
    rate = np.where(sounding, CPU_CLOCK / (pulse_timer(note) + 1) / sample_rate, 0.0)
    onset = sounding & (note != previous)
    # Phase at each frame start: the running phase, restarted at onsets (the chip restarts the
    # sequencer whenever a new note writes the timer-high register); it runs on across volume and duty.
    advance = rate * counts
    total = np.concatenate([[0.0], np.cumsum(advance)])
    last_onset = np.maximum.accumulate(np.where(onset, np.arange(len(note)), -1))
    start = np.where(last_onset >= 0, total[:-1] - total[np.maximum(last_onset, 0)],
                     state.pulse_phase[voice] + total[:-1])
    state.pulse_phase[voice] = float(_reduce(start[-1] + advance[-1], PULSE_STEPS))
    return Plan(pulse_sequences(), sounding, rate, _reduce(start, PULSE_STEPS), velocity, duty,
                np.zeros(len(note)), starts, counts)


def _triangle_plan(note, state: ChannelState, sample_rate, starts, counts) -> Plan:
    # Never restarts; halted (holding its step) while silent, so a note ends without a jump.
    seqs = triangle_sequences()
    sounding = note > 0
    rate = np.where(sounding, CPU_CLOCK / (triangle_timer(note) + 1) / sample_rate, 0.0)
    total = np.concatenate([[0.0], np.cumsum(rate * counts)]) + state.triangle_phase
    phase = _reduce(total[:-1], 32.0)
    state.triangle_phase = float(_reduce(total[-1], 32.0))
    held = TRIANGLE_SEQUENCE[np.floor(phase).astype(np.int64) % 32].astype(np.float64)
    return Plan(seqs, sounding, rate, phase, np.ones(len(note)), np.zeros(len(note), np.int64), held,
                starts, counts)


def _noise_plan(note, velocity, mode, state: ChannelState, sample_rate, starts, counts) -> Plan:
    # The shift register runs on across notes (halted while silent); each mode reads its own loop at
    # the shared shift count.
    seqs = noise_sequences()
    sounding = (note > 0) & (velocity > 0)
    rate = np.where(sounding, CPU_CLOCK / noise_period(note) / sample_rate, 0.0)
    total = np.concatenate([[0.0], np.cumsum(rate * counts)]) + state.noise_phase
    state.noise_phase = float(_reduce(total[-1], NOISE_PHASE_WRAP))
    mode = np.minimum(mode, 1)
    plan = Plan(seqs, sounding, rate, _reduce(total[:-1], seqs.period[mode].astype(np.float64)), velocity,
                mode, np.zeros(len(note)), starts, counts)
    plan.use_fast_noise(sample_rate, noise_period(note))
    return plan


def chunk_plans(array: np.ndarray, sample_rate: int, chunk_frames: int | None = None):
    """Yield ``(state, plans, starts, counts)`` for consecutive chunks of frames: the four voices'
    ``Plan`` (P1, P2, TR, NO); ``state.levels`` holds the levels at the end of the chunk before."""
    chunk_frames = chunk_frames or CHUNK_FRAMES
    bounds = frame_bounds(len(array), sample_rate)
    state = ChannelState()
    note = array[:, :, Field.NOTE].astype(np.int64)
    velocity = array[:, :, Field.VELOCITY].astype(np.int64)
    timbre = array[:, :, Field.TIMBRE].astype(np.int64)
    for first in range(0, len(array), chunk_frames):
        rows = slice(first, min(first + chunk_frames, len(array)))
        starts = bounds[rows] - bounds[first]
        counts = np.diff(bounds[first:rows.stop + 1])
        plans = [_pulse_plan(note[rows, v], velocity[rows, v], timbre[rows, v], state, v, sample_rate, starts,
                             counts) for v in (0, 1)]
        plans.append(_triangle_plan(note[rows, 2], state, sample_rate, starts, counts))
        plans.append(_noise_plan(note[rows, 3], velocity[rows, 3], timbre[rows, 3], state, sample_rate, starts,
                                 counts))
        yield state, plans, starts, counts
        state.levels = np.array([p.end_levels()[-1] for p in plans])


def score_array(score) -> np.ndarray:
    return score.array if isinstance(score, Score) else Score(np.asarray(score)).array
