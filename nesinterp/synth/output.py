"""The 2A03's non-linear mixer and the console's output filters: channel levels -> audio in [-1, 1]
(``render_audio``; see ``nesinterp.synth``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..score import Score
from .channels import channel_blocks, frame_bounds, score_array
from .chip import DEFAULT_SAMPLE_RATE

FILTERS_HZ = (("highpass", 90.0), ("highpass", 440.0), ("lowpass", 14000.0))
"""The console's output stage: two first-order high-passes and a first-order low-pass."""


# --- mixer and output stage -------------------------------------------------------------------------

def mix(p1, p2, triangle, noise):
    """The 2A03's non-linear mixer on channel levels (0..15); 0 when all inputs are 0.

    pulse = 95.88 / (8128 / (p1 + p2) + 100); tnd = 159.79 / (100 + 1 / (t / 8227 + n / 12241)),
    written without the divisions by zero.
    """
    pulses = p1 + p2
    pulse_out = 95.88 * pulses / (8128.0 + 100.0 * pulses)
    x = triangle * (1.0 / 8227.0) + noise * (1.0 / 12241.0)
    return pulse_out + 159.79 * x / (1.0 + 100.0 * x)


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


MIXER_PEAK = float(mix(15.0, 15.0, 15.0, 15.0))
"""The mixer's largest output: all four channels at level 15 (about 0.632)."""


def _sections(sample_rate: int) -> list[tuple[float, float, float]]:
    """The console's output stage as first-order sections y[n] = p y[n-1] + b0 x[n] + b1 x[n-1]."""
    dt = 1.0 / sample_rate
    sections = []
    for kind, cutoff in FILTERS_HZ:
        rc = 1.0 / (2.0 * np.pi * cutoff)
        if kind == "highpass":  # y[n] = k (y[n-1] + x[n] - x[n-1])
            k = rc / (rc + dt)
            sections.append((k, k, -k))
        else:  # y[n] = y[n-1] + k (x[n] - y[n-1])
            k = dt / (rc + dt)
            sections.append((1.0 - k, k, 0.0))
    return sections


@lru_cache(maxsize=None)
def output_filter(sample_rate: int = DEFAULT_SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of the console's output stage as one IIR filter (the product of its sections), for
    use with any lfilter-style tool."""
    b_all, a_all = np.array([1.0]), np.array([1.0])
    for p, b0, b1 in _sections(sample_rate):
        b_all = np.convolve(b_all, [b0, b1] if b1 else [b0])
        a_all = np.convolve(a_all, [1.0, -p])
    return b_all, a_all


def linear_recurrence(u: np.ndarray, p: float, y0: float = 0.0) -> np.ndarray:
    """y[n] = p y[n-1] + u[n] with y[-1] = y0, exactly (to rounding), without a loop per sample.

    The signal is cut into blocks short enough that p^-L stays far from overflow; within a block
    y[i] = p^i (sum_{k<=i} u[k] p^-k) + p^(i+1) y_in is one cumulative sum, and only the block carries
    (a few dozen per second of audio) go through a Python loop.
    """
    n = len(u)
    if n == 0:
        return np.zeros(0)
    if p == 0.0:
        return np.array(u, dtype=np.float64)
    length = int(max(1, min(n, 250.0 / -np.log10(p))))
    blocks = -(-n // length)
    padded = np.zeros(blocks * length)
    padded[:n] = u
    padded = padded.reshape(blocks, length)
    i = np.arange(length)
    grow = p ** -i.astype(np.float64)
    local = np.cumsum(padded * grow, axis=1) * (p ** i.astype(np.float64))
    carries = np.empty(blocks)
    carry, p_length = float(y0), p ** length
    ends = local[:, -1].tolist()
    for j in range(blocks):
        carries[j] = carry
        carry = ends[j] + p_length * carry
    y = local + carries[:, None] * (p ** (i + 1.0))
    return y.reshape(-1)[:n]


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
