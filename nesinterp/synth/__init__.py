"""The NES audio processor (2A03 APU) in numpy: a Score's four voices rendered to audio samples.

Pulse (four duty cycles), triangle (32 steps) and noise (15-bit shift register, both modes) are driven
frame by frame at 24 Hz, mixed by the console's non-linear mixer and passed through its output filters.

How it works, and why it is fast: every channel is a periodic step sequence read by a phase
accumulator (phase in sequencer steps). Within one 24 Hz frame a channel's rate is constant, so the
phase of every sample is a linear function of the sample index: a block of frames is a grid (one row
per frame, one column per sample) on which per-frame values broadcast, with no Python loop per frame
or per sample. Each output sample is the exact average of the step
sequence over the time that sample spans (a box filter): with ``F`` the running integral of the
sequence, a sample spanning phases ``[a, b)`` is ``(F(b) - F(a)) / (b - a)``. That removes most of the
aliasing a naive "read the step at the sample instant" renderer makes (the noise channel shifts up to
ten times per 44.1 kHz sample), for a few array operations per sample. The non-linear mixer is then
applied to these per-sample averages (exact for constant levels, a close approximation at edges).

Phase at note boundaries (the chip's own behaviour, so no click the chip would not make):

- Pulse: the sequencer restarts at step 0 (low for duties 0..2; duty 3, the inverted 25 % pattern,
  starts high) at every note onset, i.e. at every frame whose note differs from the previous frame's
  and is not 0 -- the chip restarts it whenever a new note writes the timer-high/length register.
  Within a note the phase runs on, also across volume and duty changes.
- Triangle: never restarts. While the triangle is silent its sequencer halts and holds its current
  step (the chip's linear counter stops it), so a note ends without a jump; the output filters remove
  the held level. It starts the song at the step whose value is 0, so a song starts from silence.
- Noise: the shift register runs on across notes; it starts at 1. Each mode reads its own sequence
  (the 32767-step one for mode 0, the 93-step loop for mode 1) at the shared shift count.

Units: ``render_channels`` gives each channel's level in the chip's 4-bit units (0..15, averaged over
each sample); ``mix`` gives the mixer's output (0 .. ~0.632 with all four at 15); ``render_audio`` gives
float32 in [-1, 1]: the filtered mixer output divided by ``output_bound(sample_rate)``, the largest
magnitude any score can reach after the filters. So no score can clip, and loudness is comparable
between scores (the scale is a constant, not the song's peak).

Modules: ``chip`` (the clock, note -> timer, the step sequences), ``channels`` (the four voices' levels
per sample) and ``output`` (mixer, output filters, ``render_audio``); everything public is here too.
"""

from .channels import BLOCK_FRAMES, frame_bounds, render_channels
from .chip import (
    CPU_CLOCK, DEFAULT_SAMPLE_RATE, DUTY_HIGH_STEPS, MAX_TIMER, MIN_PULSE_TIMER, NOISE_LOOP_LENGTH, NOISE_PERIODS,
    PULSE_STEPS, TRIANGLE_SEQUENCE, TRIANGLE_STEPS, lfsr_states, noise_period, noise_sequence, note_frequency,
    pulse_frequency, pulse_sequence, pulse_timer, triangle_frequency, triangle_timer,
)
from .output import (
    FILTERS_HZ, MIXER_PEAK, filter_chain, linear_recurrence, mix, output_bound, output_filter, render_audio,
)

__all__ = [
    "BLOCK_FRAMES", "CPU_CLOCK", "DEFAULT_SAMPLE_RATE", "DUTY_HIGH_STEPS", "FILTERS_HZ", "MAX_TIMER", "MIN_PULSE_TIMER",
    "MIXER_PEAK", "NOISE_LOOP_LENGTH", "NOISE_PERIODS", "PULSE_STEPS", "TRIANGLE_SEQUENCE", "TRIANGLE_STEPS",
    "filter_chain", "frame_bounds", "lfsr_states", "linear_recurrence", "mix", "noise_period", "noise_sequence",
    "note_frequency", "output_bound", "output_filter", "pulse_frequency", "pulse_sequence", "pulse_timer",
    "render_audio", "render_channels", "triangle_frequency", "triangle_timer",
]
