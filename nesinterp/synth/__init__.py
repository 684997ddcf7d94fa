"""The NES audio processor (2A03 APU) in numpy: a Score's four voices rendered to audio samples.

Pulse (four duty cycles), triangle (32 steps) and noise (15-bit shift register, both modes) are driven
frame by frame at 24 Hz, mixed by the console's non-linear mixer and passed through its output filters.

How it works, and why it is fast: the work is per waveform edge, not per sample. Every voice is a step
function: a periodic step sequence read by a phase that, within one 24 Hz frame, grows linearly with
time. So every edge of a frame (every step whose level differs from the one before) is found in closed
form, time and size, without visiting the samples between edges (``channels``). The mixer is applied to
the step levels themselves: pulse = f(p1 + p2) and tnd = g(triangle, noise) change only where one of
their two voices has an edge, and each edge's change of the mixer output is computed from the other
voice's level at that instant (found in closed form as well). Each change of the mixed step function
goes into a buffer as a box-filtered step (the blip-buffer technique with a one-sample box kernel):
(1 - f) of it into the sample it falls in, f into the next, so each sample is the exact average of the
mixed step function over the time it spans. The console's output filters then run on the step buffer
in closed form: summing the steps and high-passing cancel, leaving three first-order decays, applied
as one small matrix product per 32-sample block (``output``). Noise shifting faster than 1.5 times per
sample (periods 4..32 clocks at 44.1 kHz) has more edges than samples; there each sample's average is
read from a table of the shift register's box averages at that rate (its start offset rounded to 1/32
of a sample: the frame's noise may be shifted by up to 1/64 sample), mixed per sample with the triangle.

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
each sample); ``render_mix`` the mixer's output (0 .. ~0.632 with all four at 15), averaged likewise;
``render_audio`` float32 in [-1, 1]: the filtered mixer output divided by ``output_bound(sample_rate)``,
the largest magnitude any score can reach after the filters. So no score can clip, and loudness is
comparable between scores (the scale is a constant, not the song's peak).

Modules: ``chip`` (the clock, note -> timer, the step sequences), ``channels`` (each voice's frames and
edges) and ``output`` (mixer, step buffer, output filters, ``render_audio``); everything public is here.
"""

from .channels import CHUNK_FRAMES, FAST_NOISE, frame_bounds
from .chip import (
    CPU_CLOCK, DEFAULT_SAMPLE_RATE, DUTY_HIGH_STEPS, MAX_TIMER, MIN_PULSE_TIMER, NOISE_LOOP_LENGTH, NOISE_PERIODS,
    PULSE_STEPS, TRIANGLE_SEQUENCE, TRIANGLE_STEPS, lfsr_states, noise_period, noise_sequence, note_frequency,
    pulse_frequency, pulse_sequence, pulse_timer, triangle_frequency, triangle_timer,
)
from .output import (
    FILTERS_HZ, MIXER_PEAK, OutputStage, filter_modes, linear_recurrence, mix, output_bound, output_filter,
    render_audio, render_channels, render_mix, step_response,
)

__all__ = [
    "CHUNK_FRAMES", "CPU_CLOCK", "DEFAULT_SAMPLE_RATE", "DUTY_HIGH_STEPS", "FAST_NOISE", "FILTERS_HZ", "MAX_TIMER",
    "MIN_PULSE_TIMER", "MIXER_PEAK", "NOISE_LOOP_LENGTH", "NOISE_PERIODS", "OutputStage", "PULSE_STEPS",
    "TRIANGLE_SEQUENCE", "TRIANGLE_STEPS", "filter_modes", "frame_bounds", "lfsr_states", "linear_recurrence", "mix",
    "noise_period", "noise_sequence", "note_frequency", "output_bound", "output_filter", "pulse_frequency",
    "pulse_sequence", "pulse_timer", "render_audio", "render_channels", "render_mix", "step_response",
    "triangle_frequency", "triangle_timer",
]
