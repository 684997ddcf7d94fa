"""The 2A03's non-linear mixer, the band-limited step buffer, and the console's output filters: the
voices' edges -> audio in [-1, 1] (``render_audio``; see ``nesinterp.synth``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..score import Score
from .channels import chunk_plans, frame_bounds, score_array
from .chip import DEFAULT_SAMPLE_RATE

FILTERS_HZ = (("highpass", 90.0), ("highpass", 440.0), ("lowpass", 14000.0))
"""The console's output stage: two first-order high-passes and a first-order low-pass."""

FILTER_BLOCK = 32
"""Samples per block of the output filter: one small matrix product per block (fastest at 32)."""


# --- mixer ------------------------------------------------------------------------------------------

def pulse_mix(p1, p2):
    """The pulse half of the mixer: 95.88 / (8128 / (p1 + p2) + 100), 0 for silence."""
    pulses = p1 + p2
    return 95.88 * pulses / (8128.0 + 100.0 * pulses)


def tnd_mix(triangle, noise):
    """The triangle-noise half (no DMC): 159.79 / (100 + 1 / (t / 8227 + n / 12241)), 0 for silence."""
    x = triangle * (1.0 / 8227.0) + noise * (1.0 / 12241.0)
    return 159.79 * x / (1.0 + 100.0 * x)


def mix(p1, p2, triangle, noise):
    """The 2A03's non-linear mixer on channel levels (0..15); 0 when all inputs are 0."""
    return pulse_mix(p1, p2) + tnd_mix(triangle, noise)


MIXER_PEAK = float(mix(15.0, 15.0, 15.0, 15.0))
"""The mixer's largest output: all four channels at level 15 (about 0.632)."""


# --- edges -> band-limited steps ----------------------------------------------------------------------

def _pair_changes(a, b, mixer, starts, before: float):
    """Times and sizes of the steps of ``mixer(a, b)`` over a chunk: each voice's edges (a looks at b
    just before, b at a just after, so simultaneous edges sum to the pair's change) and every frame
    boundary (where volume, duty, note and silence change), from the pair's output ``before`` the
    chunk. Returns (times, sizes, the pair's output at the end of each frame)."""
    f, t, old, new = a.edges()
    if b.fast.any():  # those frames are rendered per sample (``_dense_pair``)
        keep = ~b.fast[f]
        f, t, old, new = f[keep], t[keep], old[keep], new[keep]
    other = b.level_at(f, t, "left")
    times, sizes = [t], [mixer(new, other) - mixer(old, other)]
    f, t, old, new = b.edges()
    other = a.level_at(f, t, "right")
    times.append(t)
    sizes.append(mixer(other, new) - mixer(other, old))
    start = mixer(a.start_levels(), b.start_levels())
    end = mixer(a.end_levels(), b.end_levels())
    return times, sizes, start, end


def _dense_pair(a, b, mixer, starts, before_a, samples, start, end):
    """The pair's output per sample in the frames where ``b`` is fast noise: ``a`` box-averaged per
    sample (from its own steps), mixed with b's per-sample levels. Returns (positions, differences) for
    the samples after each such frame's first (the spare cells of short rows go to ``b.trash``); sets
    those frames' ``start`` and ``end`` outputs."""
    level_a = np.empty(samples + 2)
    np.cumsum(_steps(*_voice_changes(a, starts, before_a), samples + 1), out=level_a)
    level_a += before_a
    out = mixer(level_a[b.fast_at], b.fast_levels)
    start[b.fast] = out[:, 0]
    end[b.fast] = out[np.arange(len(out)), b.counts[b.fast] - 1]
    change = np.empty_like(out)
    change[:, 0] = 0.0  # a frame's first sample changes at the frame boundary (its own step)
    np.subtract(out[:, 1:], out[:, :-1], out=change[:, 1:])
    return b.fast_at, change


def _voice_changes(plan, starts, before):
    f, t, old, new = plan.edges()
    end = np.concatenate([[before], plan.end_levels()[:-1]])
    return [t, starts.astype(np.float64)], [new - old, plan.start_levels() - end]


def _steps(times, sizes, samples: int) -> np.ndarray:
    """The differences of the box-filtered step function with steps of ``sizes`` at ``times``: a step at
    m + f (0 <= f < 1) adds (1 - f) of itself to sample m and the rest to sample m + 1 (each sample the
    exact average of the steps over its span). Length samples + 1: the last entry spills into the next
    chunk (steps exactly at the chunk's end)."""
    times, sizes = np.concatenate(times), np.concatenate(sizes)
    m = times.astype(np.int64)
    part = sizes * (times - m)
    return np.bincount(np.concatenate([m, m + 1]), np.concatenate([sizes - part, part]),
                       minlength=samples + 2)[:samples + 1]


def mixed_steps(array: np.ndarray, sample_rate: int):
    """Yield, chunk by chunk, the sample-to-sample differences of the mixer output (box-averaged over
    each sample); their running sum is the mixer output per sample."""
    spill, ends = 0.0, [0.0, 0.0]
    for state, plans, starts, counts in chunk_plans(array, sample_rate):
        samples = int(starts[-1] + counts[-1])
        times, sizes, dense = [], [], None
        for pair, (a, b), mixer in ((0, plans[:2], pulse_mix), (1, plans[2:], tnd_mix)):
            t, d, start, end = _pair_changes(a, b, mixer, starts, ends[pair])
            if b.fast.any():
                dense = _dense_pair(a, b, mixer, starts, state.levels[2], samples, start, end)
            times += t + [starts.astype(np.float64)]
            sizes += d + [start - np.concatenate([[ends[pair]], end[:-1]])]
            ends[pair] = float(end[-1])
        steps = _steps(times, sizes, samples + 1)  # one spare entry past the spill: fast noise's trash
        if dense is not None:
            steps[dense[0]] += dense[1]
        steps[0] += spill
        spill = steps[samples]
        yield steps[:samples]


def voice_steps(array: np.ndarray, sample_rate: int):
    """Like ``mixed_steps``, for each voice's own level (0..15): ``(4, samples)`` per chunk."""
    spill = np.zeros(4)
    for state, plans, starts, counts in chunk_plans(array, sample_rate):
        samples = int(starts[-1] + counts[-1])
        steps = np.stack([_steps(*_voice_changes(p, starts, state.levels[v]), samples) for v, p in enumerate(plans)])
        noise = plans[3]
        if noise.fast.any():
            change = np.diff(noise.fast_levels, axis=1, prepend=noise.fast_levels[:, :1])
            keep = noise.fast_at < samples  # spare cells of short rows point past the chunk
            steps[3, noise.fast_at[keep]] += change[keep]
        steps[:, 0] += spill
        spill = steps[:, samples].copy()
        yield steps[:, :samples]


# --- output filters ---------------------------------------------------------------------------------

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


@lru_cache(maxsize=None)
def filter_modes(sample_rate: int = DEFAULT_SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Poles and residues of the output stage applied to a running sum: the filters' two high-passes
    cancel the sum's pole at 1, leaving g (1 - z^-1) / prod(1 - p_i z^-1) = sum r_i / (1 - p_i z^-1), so
    the filtered output of step differences is three independent first-order decays."""
    sections = _sections(sample_rate)
    poles = np.array([p for p, _, _ in sections])
    gain = float(np.prod([b0 for _, b0, _ in sections]))
    residues = np.array([gain * (1.0 - 1.0 / p) / np.prod([1.0 - q / p for q in poles if q != p]) for p in poles])
    return poles, residues


def step_response(sample_rate: int, length: int) -> np.ndarray:
    """The output stage's response to a unit step at sample 0 (the running sum of its impulse response)."""
    poles, residues = filter_modes(sample_rate)
    return (residues[None, :] * poles[None, :] ** np.arange(length, dtype=np.float64)[:, None]).sum(axis=1)


def linear_recurrence(u: np.ndarray, p: float, y0: float = 0.0) -> np.ndarray:
    """y[n] = p y[n-1] + u[n] with y[-1] = y0, exactly (to rounding), without a loop per sample.

    The signal is cut into blocks short enough that p^-L stays far from overflow; within a block
    y[i] = p^i (sum_{k<=i} u[k] p^-k) + p^(i+1) y_in is one cumulative sum, and only the block carries
    go through a Python loop.
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
    grow, shrink, after = _powers(p, length)
    local = np.cumsum(padded * grow, axis=1)
    local *= shrink
    carries = np.empty(blocks)
    carry, p_length = float(y0), p ** length
    ends = local[:, -1].tolist()
    for j in range(blocks):
        carries[j] = carry
        carry = ends[j] + p_length * carry
    local += carries[:, None] * after
    return local.reshape(-1)[:n]


@lru_cache(maxsize=64)
def _powers(p: float, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p^-i, p^i and p^(i+1) for i < length (cached: a render calls for the same few many times)."""
    i = np.arange(length, dtype=np.float64)
    return p ** -i, p ** i, p ** (i + 1.0)


BLAS_ROWS = 255
"""Rows per matrix product: OpenBLAS spreads a product of more than 262144 multiply-adds over its
threads, which for these small products only spin against each other (the whole valid split took
40 s instead of 16 s on a busy 2-core machine); 255 x 32 x 32 stays on one thread."""


def _single_thread_pieces(rows: int):
    return (slice(i, i + BLAS_ROWS) for i in range(0, rows, BLAS_ROWS))


def _block_recurrence(ends: np.ndarray, decay: float, start: float) -> np.ndarray:
    """c[b] = decay c[b-1] + ends[b] with c[-1] = start. A fast decay (the low-pass: 1e-15 per block)
    is a few terms of its series; a slow one goes through ``linear_recurrence``."""
    terms = int(np.ceil(-17.0 / np.log10(decay))) if 0.0 < decay < 1.0 else 0
    if not 0 < terms <= 6:
        return linear_recurrence(ends, decay, start)
    out = ends.copy()
    out[:terms] += start * decay ** np.arange(1.0, min(terms, len(out)) + 1.0)
    for lag in range(1, terms):
        out[lag:] += decay ** lag * ends[:-lag]
    return out


class OutputStage:
    """The console's output filters applied to a stream of step differences (``process`` chunk by
    chunk, then ``flush``): exactly ``lfilter(b, a, running_sum)``, to rounding, in blocks of
    FILTER_BLOCK samples. Within a block the response is one matrix product with the impulse response's
    Toeplitz matrix; between blocks only the three decays' states carry, themselves a short
    recurrence over blocks. No loop per sample."""

    def __init__(self, sample_rate: int, block: int = FILTER_BLOCK, scale: float = 1.0):
        poles, residues = filter_modes(sample_rate)
        self.block = block
        j = np.arange(block, dtype=np.float64)
        h = step_response(sample_rate, block)
        lag = j[None, :] - j[:, None]
        toeplitz = np.where(lag >= 0, h[np.clip(lag, 0, block - 1).astype(np.int64)], 0.0) * scale
        to_state = residues[None, :] * poles[None, :] ** (block - 1 - j)[:, None]  # (block, 3)
        self.toeplitz, self.to_state = toeplitz, to_state
        self.from_state = poles[:, None] ** (j + 1.0)[None, :] * scale  # (3, block)
        self.decay = poles ** block
        self.state = np.zeros(3)
        self.pending = np.zeros(0)

    def process(self, steps: np.ndarray) -> np.ndarray:
        """The filtered output for ``steps``, as far as whole blocks go (the rest waits for more)."""
        pieces = list(self.pieces(steps))
        return pieces[0] if len(pieces) == 1 else np.concatenate([np.zeros(0)] + pieces)

    def pieces(self, steps: np.ndarray):
        """Like ``process``, in pieces that never copy ``steps`` whole (the block left over from the last
        call is completed on its own)."""
        if len(self.pending):
            take = min(self.block - len(self.pending), len(steps))
            head, steps = np.concatenate([self.pending, steps[:take]]), steps[take:]
            if len(head) < self.block:
                self.pending = head
                return
            yield self._blocks(head.reshape(1, -1))
        full = len(steps) // self.block * self.block
        self.pending = steps[full:].copy()
        if full:
            yield self._blocks(steps[:full].reshape(-1, self.block))

    def _blocks(self, blocks: np.ndarray) -> np.ndarray:
        out = np.empty((len(blocks), self.block))
        ends = np.empty((len(blocks), 3))
        for rows in _single_thread_pieces(len(blocks)):
            np.matmul(blocks[rows], self.toeplitz, out=out[rows])
            np.matmul(blocks[rows], self.to_state, out=ends[rows])
        states = np.empty((len(blocks) + 1, 3))
        states[0] = self.state
        for mode in range(3):
            states[1:, mode] = _block_recurrence(ends[:, mode], float(self.decay[mode]), float(self.state[mode]))
        self.state = states[-1].copy()
        for rows in _single_thread_pieces(len(blocks)):
            out[rows] += states[:-1][rows] @ self.from_state
        return out.reshape(-1)

    def flush(self) -> np.ndarray:
        n = len(self.pending)
        if not n:
            return np.zeros(0)
        return self.process(np.zeros(self.block - n))[:n]


@lru_cache(maxsize=None)
def output_bound(sample_rate: int = DEFAULT_SAMPLE_RATE) -> float:
    """The largest magnitude the filtered mixer output can reach for any score.

    The mixer output x lies in [0, MIXER_PEAK]; the filter's output y = sum h[k] x[n-k] is then at
    most MIXER_PEAK times the sum of the positive taps of the impulse response h, and at least minus
    MIXER_PEAK times the sum of the negative ones.
    """
    h = np.diff(step_response(sample_rate, int(sample_rate) * 2), prepend=0.0)
    return MIXER_PEAK * max(h[h > 0].sum(), -h[h < 0].sum())


# --- whole scores -----------------------------------------------------------------------------------

def _check_rate(sample_rate) -> int:
    sample_rate = int(sample_rate)
    if sample_rate < 1000:
        raise ValueError(f"sample rate {sample_rate} Hz is too low (at least 1000)")
    return sample_rate


def render_audio(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """A Score as mono float32 audio in [-1, 1] at ``sample_rate``, floor(frames sr / 24) samples.

    The 2A03's voices as steps, non-linear mixer, output filters, divided by the constant
    ``output_bound(sample_rate)`` (and a millionth more) so that no score can exceed full scale and loudness stays comparable
    between scores. Silence (all notes 0) is exactly 0. Deterministic: the same Score gives the same
    samples.
    """
    sample_rate = _check_rate(sample_rate)
    array = score_array(score)
    out = np.empty(int(frame_bounds(len(array), sample_rate)[-1]), np.float32)
    # The bound is exact up to rounding: a millionth of headroom keeps a last-bit excess from ever
    # reaching full scale, so no clipping pass is needed.
    stage = OutputStage(sample_rate, scale=(1.0 - 1e-6) / output_bound(sample_rate))
    position = 0
    for steps in mixed_steps(array, sample_rate):
        for filtered in stage.pieces(steps):
            out[position:position + len(filtered)] = filtered
            position += len(filtered)
    tail = stage.flush()
    out[position:position + len(tail)] = tail
    return out


def render_mix(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """The mixer's output before the output filters, float64 per sample (each sample the exact average
    of the mixed step function over its span): ``render_audio`` is this through ``output_filter``."""
    sample_rate = _check_rate(sample_rate)
    chunks = list(mixed_steps(score_array(score), sample_rate))
    return np.cumsum(np.concatenate(chunks)) if chunks else np.zeros(0)


def render_channels(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """Each voice's channel level before the mixer: float64 ``(4, samples)`` in 4-bit units (0..15),
    box-averaged over each sample. Rows P1, P2, TR, NO."""
    sample_rate = _check_rate(sample_rate)
    chunks = list(voice_steps(score_array(score), sample_rate))
    return np.cumsum(np.concatenate(chunks, axis=1), axis=1) if chunks else np.zeros((4, 0))
