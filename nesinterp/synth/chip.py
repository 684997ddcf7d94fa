"""The 2A03's numbers: its clock, how a note becomes a timer period, and the step sequences its pulse,
triangle and noise channels play (see ``nesinterp.synth`` for how they are rendered)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CPU_CLOCK = 21477272 / 12
"""NTSC 2A03 CPU clock in Hz (1789772.67)."""

DEFAULT_SAMPLE_RATE = 44100

PULSE_STEPS = 16
TRIANGLE_STEPS = 32

DUTY_HIGH_STEPS = (2, 4, 8, 12)
"""Steps of 16 the pulse is high for duty index 0..3 (12.5, 25, 50, 75 %)."""

NOISE_PERIODS = np.array([4, 8, 16, 32, 64, 96, 128, 160, 202, 254, 380, 508, 762, 1016, 2034, 4068])
"""NTSC noise timer periods, CPU clocks per shift, by period index 0..15. Note n uses index 16 - n."""

NOISE_LOOP_LENGTH = {0: 32767, 1: 93}
"""Shifts before the 15-bit register repeats, starting from 1: mode 0 (bit 1 tap), mode 1 (bit 6 tap)."""

MAX_TIMER = 0x7FF
"""The timers are 11 bits."""

MIN_PULSE_TIMER = 8
"""Below this the sweep unit mutes the pulse (ultrasonic); never reached by notes 33..108."""


# --- pitch -> timer, as the NES does it -------------------------------------------------------------

def note_frequency(note) -> np.ndarray:
    """Equal-tempered frequency of MIDI note numbers (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def pulse_timer(note) -> np.ndarray:
    """The pulse timer period t for MIDI notes: round(clock / (16 f) - 1), clamped to 11 bits."""
    t = np.rint(CPU_CLOCK / (16.0 * note_frequency(note)) - 1.0)
    return np.clip(t, MIN_PULSE_TIMER, MAX_TIMER).astype(np.int64)


def triangle_timer(note) -> np.ndarray:
    """The triangle timer period t for MIDI notes: round(clock / (32 f) - 1), clamped to 11 bits."""
    t = np.rint(CPU_CLOCK / (32.0 * note_frequency(note)) - 1.0)
    return np.clip(t, 0, MAX_TIMER).astype(np.int64)


def pulse_frequency(note) -> np.ndarray:
    """The frequency the NES actually plays for a pulse note: clock / (16 (t + 1))."""
    return CPU_CLOCK / (16.0 * (pulse_timer(note) + 1))


def triangle_frequency(note) -> np.ndarray:
    """The frequency the NES actually plays for a triangle note: clock / (32 (t + 1))."""
    return CPU_CLOCK / (32.0 * (triangle_timer(note) + 1))


def noise_period(note) -> np.ndarray:
    """CPU clocks per shift for noise notes 1..16 (period index 16 - note)."""
    index = np.clip(16 - np.asarray(note, dtype=np.int64), 0, 15)
    return NOISE_PERIODS[index]


# --- the step sequences -----------------------------------------------------------------------------

def pulse_sequence(duty: int) -> np.ndarray:
    """One period of the pulse in sequencer steps (16), 1 = high, in the order the chip plays them
    after a restart: duties 0..2 start low and end high, duty 3 is duty 1 inverted (high first)."""
    high = DUTY_HIGH_STEPS[duty]
    seq = np.zeros(PULSE_STEPS, np.uint8)
    if duty == 3:
        seq[: PULSE_STEPS - 4] = 1
    else:
        seq[PULSE_STEPS - high:] = 1
    return seq


TRIANGLE_SEQUENCE = np.concatenate([np.arange(15, -1, -1), np.arange(16)]).astype(np.uint8)
"""The triangle's 32 steps: 15..0 then 0..15."""

TRIANGLE_START_PHASE = 16.0
"""First step of the song: a 0 of the sequence, so the triangle starts from silence."""


@lru_cache(maxsize=None)
def lfsr_states(mode: int, count: int) -> np.ndarray:
    """``count`` successive states of the noise shift register from 1 (state before shift 0 first).

    Feedback = bit 0 XOR bit 1 (mode 0) or bit 0 XOR bit 6 (mode 1), shifted right into bit 14.
    A one-off loop over at most 32767 shifts, cached: this builds a table, not the audio path.
    """
    tap = 6 if mode else 1
    states = np.empty(count, np.uint16)
    s = 1
    for i in range(count):
        states[i] = s
        s = (s >> 1) | ((((s >> 0) ^ (s >> tap)) & 1) << 14)
    states.flags.writeable = False
    return states


def noise_sequence(mode: int) -> np.ndarray:
    """One loop of the noise output, 1 where the channel sounds (register bit 0 clear)."""
    return (1 - (lfsr_states(mode, NOISE_LOOP_LENGTH[mode]) & 1)).astype(np.uint8)
