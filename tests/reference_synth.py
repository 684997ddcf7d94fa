"""The per-sample synthesizer nesinterp used before the edge renderer (issue #16), kept only as a test
reference: the old and new renderers must agree on real songs (tests/test_synth.py). Not part of the
package; not maintained beyond that role."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from nesinterp.score import FRAME_RATE, Field, Score
from nesinterp.synth.chip import (
    CPU_CLOCK, DEFAULT_SAMPLE_RATE, DUTY_HIGH_STEPS, NOISE_LOOP_LENGTH, PULSE_STEPS, TRIANGLE_SEQUENCE,
    TRIANGLE_START_PHASE, TRIANGLE_STEPS, noise_period, noise_sequence, pulse_timer, triangle_timer,
)
from nesinterp.synth.output import MIXER_PEAK, _sections, linear_recurrence

BLOCK_FRAMES = 16
"""Frames rendered per block (2/3 s): small enough for the per-sample buffers to stay in cache,
large enough that the per-block Python overhead is noise (measured fastest at 16..24)."""


# --- box-filter integrals ---------------------------------------------------------------------------
#
# A sample spanning phases [a, b) of a sequence with running integral F is (F(b) - F(a)) / (b - a).
# F(phi) = mean * phi + wobble(phi mod period), with ``wobble`` periodic, so the sample value is
# mean + (wobble(b) - wobble(a)) / rate: only the small, bounded wobble is ever evaluated, which keeps
# the subtraction accurate however long a note runs.

class _StepTable:
    """The wobble of a step sequence, tabulated at the step starts with its slope within each step
    (exact: the integral of a staircase is linear within a step)."""

    def __init__(self, sequence: np.ndarray):
        seq = sequence.astype(np.float64)
        self.period = len(seq)
        self.mean = float(seq.mean())
        centred = seq - self.mean
        # One spare entry so that r == period (a rounding edge) still reads a valid step.
        self.start = np.concatenate([[0.0], np.cumsum(centred)[:-1], [0.0]])
        self.slope = np.concatenate([centred, [0.0]])
        self.values = np.concatenate([seq, [seq[0]]])

    def wobble(self, r: np.ndarray, out: np.ndarray, temp: np.ndarray, index: np.ndarray) -> None:
        """``out = wobble(r)`` for phases r in [0, period]; r is overwritten (with the step fraction)."""
        np.floor(r, out=temp)
        np.copyto(index, temp, casting="unsafe")
        r -= temp
        np.take(self.start, index, out=out, mode="clip")
        np.take(self.slope, index, out=temp, mode="clip")
        temp *= r
        out += temp

    def wobble_frames(self, r: np.ndarray) -> np.ndarray:
        k = np.minimum(r.astype(np.int64), self.period)
        return self.start[k] + (r - k) * self.slope[k]

    def value_at(self, r: np.ndarray) -> np.ndarray:
        """The step the sequencer holds at phase r (for a halted channel)."""
        return self.values[np.minimum(r.astype(np.int64), self.period)]


@lru_cache(maxsize=None)
def _triangle_table() -> _StepTable:
    return _StepTable(TRIANGLE_SEQUENCE)


@lru_cache(maxsize=None)
def _noise_tables() -> tuple[_StepTable, _StepTable]:
    return _StepTable(noise_sequence(0)), _StepTable(noise_sequence(1))


def _duty_shape(duty) -> tuple:
    """The pulse's integral in closed form: high from step ``lo`` for ``width`` steps, so
    F(r) = clip(r - lo, 0, width) over one period and wobble(r) = clip(r - lo, 0, width) - mean r."""
    duty = np.asarray(duty, dtype=np.int64)
    lo = np.where(duty == 3, 0, PULSE_STEPS - np.take(DUTY_HIGH_STEPS, duty)).astype(np.float64)
    width = np.take(DUTY_HIGH_STEPS, duty).astype(np.float64)
    return lo, width, width / PULSE_STEPS


NOISE_PHASE_WRAP = float(np.lcm(NOISE_LOOP_LENGTH[0], NOISE_LOOP_LENGTH[1]))
"""The noise shift count is kept modulo this between blocks; both loops repeat in it."""


# --- frames -> samples ------------------------------------------------------------------------------

def frame_bounds(frames: int, sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """Sample index where each frame starts, plus the end: frame i covers [i sr / 24, (i+1) sr / 24).

    Integer arithmetic, so a song of F frames is exactly floor(F sr / 24) samples, F / 24 seconds to
    within one sample.
    """
    return np.arange(frames + 1, dtype=np.int64) * int(sample_rate) // FRAME_RATE


class _Block:
    """A block of frames laid out as a grid: one row per frame, one column per sample of the frame.

    Frames are floor(sr / 24) or that plus one samples long, so every row is ``width`` = the longer
    length, and rows of short frames carry one padding sample that is dropped at the end. On the grid
    every per-frame value (rate, phase, volume) broadcasts along its row: no per-sample copies of
    per-frame values. The buffers are allocated once per render and reused: at these sizes allocation
    costs as much as the arithmetic.
    """

    def __init__(self, rows: int, width: int):
        self.sample_number = np.arange(1, width + 1, dtype=np.float64)  # 1..width: end of each sample
        self.temp = np.empty((rows, width))
        self.wobble = np.empty((rows, width))
        self.index = np.empty((rows, width), np.intp)
        self.levels = np.empty((4, rows, width))

    def start(self, bounds: np.ndarray) -> None:
        self.counts = np.diff(bounds)
        self.rows = len(self.counts)
        width = len(self.sample_number)
        self.keep = None if np.all(self.counts == width) else (
            np.arange(width)[None, :] < self.counts[:, None])

    def grid(self, buffer: np.ndarray) -> np.ndarray:
        return buffer[: self.rows]

    def flat(self, grid: np.ndarray) -> np.ndarray:
        """The block's samples in time order (padding dropped)."""
        return grid.reshape(-1) if self.keep is None else grid[self.keep]

    def end_phases(self, rate, start_phase, period: float, out: np.ndarray) -> np.ndarray:
        """Phase at the end of every sample, reduced to [0, period): linear within each frame."""
        temp = self.grid(self.temp)
        np.multiply(rate[:, None], self.sample_number[None, :], out=out)
        out += start_phase[:, None]
        np.multiply(out, 1.0 / period, out=temp)
        np.floor(temp, out=temp)
        temp *= period
        out -= temp
        return out

    def box_average(self, out: np.ndarray, start_wobble: np.ndarray, add, scale) -> np.ndarray:
        """From each sample's end wobble (in ``self.wobble``), ``out = add + (wobble(b) - wobble(a)) *
        scale`` with a = the previous sample's end, or the frame's own start wobble in the first
        column (so a new note's restart, a new duty or mode take effect at the frame start)."""
        ends = self.grid(self.wobble)
        np.subtract(ends[:, 1:], ends[:, :-1], out=out[:, 1:])
        np.subtract(ends[:, 0], start_wobble, out=out[:, 0])
        out *= scale[:, None]
        out += add[:, None]
        return out


def _reduce(phase, period: float):
    return phase - period * np.floor(phase * (1.0 / period))


class _ChannelState:
    """What carries from one block to the next: phases and the last note of each voice."""

    def __init__(self):
        self.pulse_phase = [0.0, 0.0]
        self.pulse_note = [0, 0]
        self.triangle_phase = TRIANGLE_START_PHASE
        self.noise_phase = 0.0


def _per_sample_scale(sounding, volume, rate):
    """volume / rate where sounding (the box average's divisor), else 0."""
    return np.where(sounding, volume / np.where(sounding, rate, 1.0), 0.0)


def _pulse_block(note, velocity, duty, state, voice, block: _Block, sample_rate, out):
    sounding = (note > 0) & (velocity > 0)
    previous = np.concatenate([[state.pulse_note[voice]], note[:-1]])
    state.pulse_note[voice] = int(note[-1]) if sounding[-1] else 0
    if not sounding.any():
        out.fill(0.0)
        return out
    rate = np.where(sounding, CPU_CLOCK / (pulse_timer(note) + 1) / sample_rate, 0.0)
    onset = sounding & (note != previous)
    # Phase at each frame start: the running phase, restarted at onsets (cumulative sums of each
    # frame's advance, minus the sum at the latest onset).
    advance = rate * block.counts
    total = np.concatenate([[0.0], np.cumsum(advance)])
    last_onset = np.maximum.accumulate(np.where(onset, np.arange(len(note)), -1))
    start_phase = np.where(last_onset >= 0, total[:-1] - total[np.maximum(last_onset, 0)],
                           state.pulse_phase[voice] + total[:-1])
    state.pulse_phase[voice] = float(_reduce(start_phase[-1] + advance[-1], PULSE_STEPS))
    start_phase = _reduce(start_phase, PULSE_STEPS)

    r = block.end_phases(rate, start_phase, PULSE_STEPS, out)
    lo, width, mean = _duty_shape(duty)
    temp, wobble = block.grid(block.temp), block.grid(block.wobble)
    np.multiply(r, mean[:, None], out=temp)
    np.subtract(r, lo[:, None], out=wobble)
    np.maximum(wobble, 0.0, out=wobble)  # clip(r - lo, 0, width), as two ufuncs: faster than np.clip
    np.minimum(wobble, width[:, None], out=wobble)
    wobble -= temp
    start_wobble = np.clip(start_phase - lo, 0.0, width) - mean * start_phase
    volume = np.where(sounding, velocity, 0).astype(np.float64)
    return block.box_average(out, start_wobble, mean * volume, _per_sample_scale(sounding, volume, rate))


def _triangle_block(note, state, block: _Block, sample_rate, out):
    table = _triangle_table()
    sounding = note > 0
    if not sounding.any():  # halted the whole block: holds its step
        out.fill(float(table.value_at(np.array([state.triangle_phase]))[0]))
        return out
    rate = np.where(sounding, CPU_CLOCK / (triangle_timer(note) + 1) / sample_rate, 0.0)
    total = np.concatenate([[0.0], np.cumsum(rate * block.counts)]) + state.triangle_phase
    start_phase = _reduce(total[:-1], TRIANGLE_STEPS)
    state.triangle_phase = float(_reduce(total[-1], TRIANGLE_STEPS))
    return _table_block(table, sounding, rate, start_phase, np.ones(len(note)), block, out, hold=True)


def _table_block(table: _StepTable, sounding, rate, start_phase, volume, block: _Block, out,
                 hold: bool):
    r = block.end_phases(rate, start_phase, table.period, out)
    table.wobble(r, block.grid(block.wobble), block.grid(block.temp), block.grid(block.index))
    held = table.value_at(start_phase) * volume if hold else 0.0
    add = np.where(sounding, table.mean * volume, held)
    return block.box_average(out, table.wobble_frames(start_phase), add,
                             _per_sample_scale(sounding, volume, rate))


def _noise_block(note, velocity, mode, state, block: _Block, sample_rate, out):
    sounding = (note > 0) & (velocity > 0)
    rate = np.where(sounding, CPU_CLOCK / noise_period(note) / sample_rate, 0.0)
    total = np.concatenate([[0.0], np.cumsum(rate * block.counts)]) + state.noise_phase
    state.noise_phase = float(_reduce(total[-1], NOISE_PHASE_WRAP))
    if not sounding.any():
        out.fill(0.0)
        return out
    volume = np.where(sounding, velocity, 0).astype(np.float64)
    long_table, short_table = _noise_tables()
    looped = sounding & (mode == 1)
    main = short_table if looped.all() else long_table
    _table_block(main, sounding, rate, _reduce(total[:-1], main.period), volume, block, out, False)
    if looped.any() and main is long_table:
        # Mode 1 is rare (about 1 % of noise frames): render its frames again in mode 1.
        short = _table_block(short_table, sounding, rate, _reduce(total[:-1], short_table.period),
                             volume, block, np.empty_like(out), False)
        out[looped] = short[looped]
    return out


def channel_blocks(array: np.ndarray, sample_rate: int, block_frames: int = BLOCK_FRAMES):
    """Yield ``(_Block, levels)`` for consecutive blocks of frames: levels is the ``(4, frames, width)``
    grid of channel levels (0..15) of P1, P2, TR, NO; ``block.flat`` puts a row in time order.

    The arrays yielded are reused for the next block: copy what you keep.
    """
    bounds = frame_bounds(len(array), sample_rate)
    if len(array) == 0:
        return
    block = _Block(min(block_frames, len(array)), int(np.diff(bounds).max()))
    state = _ChannelState()
    note = array[:, :, Field.NOTE].astype(np.int64)
    velocity = array[:, :, Field.VELOCITY].astype(np.int64)
    timbre = array[:, :, Field.TIMBRE].astype(np.int64)
    for first in range(0, len(array), block_frames):
        last = min(first + block_frames, len(array))
        block.start(bounds[first:last + 1])
        rows = slice(first, last)
        levels = block.levels[:, : block.rows]
        for voice in (0, 1):
            _pulse_block(note[rows, voice], velocity[rows, voice], timbre[rows, voice], state, voice,
                         block, sample_rate, levels[voice])
        _triangle_block(note[rows, 2], state, block, sample_rate, levels[2])
        _noise_block(note[rows, 3], velocity[rows, 3], timbre[rows, 3], state, block, sample_rate,
                     levels[3])
        yield block, levels


def score_array(score) -> np.ndarray:
    return score.array if isinstance(score, Score) else Score(np.asarray(score)).array


def render_channels(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """Each voice's channel level before the mixer: float64 ``(4, samples)`` in 4-bit units (0..15),
    box-averaged over each sample. Rows P1, P2, TR, NO."""
    array = score_array(score)
    blocks = [np.stack([block.flat(row) for row in levels])
              for block, levels in channel_blocks(array, int(sample_rate))]
    if not blocks:
        return np.zeros((4, 0))
    return np.concatenate(blocks, axis=1)


# --- mixer and output stage: the per-sample method. The mixer formula, MIXER_PEAK, the filter sections
# and the exact first-order recurrence are the package's: the chip's specification and a tested
# primitive, not the rendering method under test.


def _mix_in_place(levels: np.ndarray) -> np.ndarray:
    """``mix`` of the four rows of ``levels``, computed in their own memory; returns row 0."""
    pulses, temp, triangle, noise = levels
    pulses += temp  # p1 + p2; P2's row is scratch from here on
    np.multiply(pulses, 100.0, out=temp)
    temp += 8128.0
    pulses /= temp
    pulses *= 95.88
    triangle *= 1.0 / 8227.0
    noise *= 1.0 / 12241.0
    triangle += noise  # x
    np.multiply(triangle, 100.0, out=temp)
    temp += 1.0
    triangle /= temp
    triangle *= 159.79
    pulses += triangle
    return pulses


def filter_chain(x: np.ndarray, sample_rate: int, state=None) -> tuple[np.ndarray, list]:
    """The output stage applied to ``x``; ``state`` (from the previous call) continues a stream.
    Returns (y, new_state). A state of None is the filters at rest (silence before)."""
    sections = _sections(sample_rate)
    state = state or [(0.0, 0.0)] * len(sections)
    new_state = []
    y = np.asarray(x, dtype=np.float64)
    for (p, b0, b1), (x_prev, y_prev) in zip(sections, state):
        u = b0 * y
        if b1:
            u[0] += b1 * x_prev
            u[1:] += b1 * y[:-1]
        last_x = float(y[-1]) if len(y) else x_prev
        y = linear_recurrence(u, p, y_prev)
        new_state.append((last_x, float(y[-1]) if len(y) else y_prev))
    return y, new_state


@lru_cache(maxsize=None)
def output_bound(sample_rate: int = DEFAULT_SAMPLE_RATE) -> float:
    """The largest magnitude the filtered mixer output can reach for any score.

    The mixer output x lies in [0, MIXER_PEAK]; the filter's output y = sum h[k] x[n-k] is then at
    most MIXER_PEAK times the sum of the positive taps of the impulse response h, and at least minus
    MIXER_PEAK times the sum of the negative ones.
    """
    impulse = np.zeros(int(sample_rate) * 2)
    impulse[0] = 1.0
    h, _ = filter_chain(impulse, sample_rate)
    return MIXER_PEAK * max(h[h > 0].sum(), -h[h < 0].sum())


def render_audio(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """A Score as mono float32 audio in [-1, 1] at ``sample_rate``, floor(frames sr / 24) samples.

    The 2A03's channels, non-linear mixer and output filters, divided by the constant
    ``output_bound(sample_rate)`` so that no score can exceed full scale and loudness stays comparable
    between scores. Silence (all notes 0) is exactly 0. Deterministic: the same Score gives the same
    samples.
    """
    sample_rate = int(sample_rate)
    if sample_rate < 1000:
        raise ValueError(f"sample rate {sample_rate} Hz is too low (at least 1000)")
    array = score_array(score)
    bounds = frame_bounds(len(array), sample_rate)
    out = np.empty(int(bounds[-1]), np.float32)
    scale = 1.0 / output_bound(sample_rate)
    state = None  # the filters at rest: silence before the song
    position = 0
    for block, levels in channel_blocks(array, sample_rate):
        filtered, state = filter_chain(block.flat(_mix_in_place(levels)), sample_rate, state)
        filtered *= scale
        out[position:position + len(filtered)] = filtered
        position += len(filtered)
    # The bound is exact up to rounding; never let a last-bit excess reach the caller.
    np.clip(out, -1.0, 1.0, out=out)
    return out
