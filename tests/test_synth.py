"""The NES synthesizer measured, not snapshotted: pitch, duty, noise loops, silence, range, speed-free."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from nesinterp import synth
from nesinterp.score import NOTE_RANGE, Score, Voice

from .strategies import scores

RATE = 44100


def held(voice: int, note: int, frames: int, velocity: int = 15, timbre: int = 0,
         lead_in: int = 0, tail: int = 0) -> Score:
    """One voice holding one note for ``frames`` frames, with optional silence before and after."""
    a = np.zeros((lead_in + frames + tail, 4, 3), np.uint8)
    a[lead_in:lead_in + frames, voice] = (note, 0 if voice == Voice.TR else velocity, timbre)
    return Score(a)


def measured_fundamental(audio: np.ndarray, rate: int, expected: float) -> float:
    """Frequency of the spectral peak within a semitone of ``expected``: Hann window, 4x zero padding,
    quadratic interpolation of the log magnitude around the peak bin."""
    x = audio.astype(np.float64)
    x = (x - x.mean()) * np.hanning(len(x))
    n = 4 * len(x)
    spectrum = np.log(np.abs(np.fft.rfft(x, n)) + 1e-300)
    bin_hz = rate / n
    lo, hi = int(expected / 2 ** (1 / 12) / bin_hz), int(expected * 2 ** (1 / 12) / bin_hz) + 1
    k = lo + int(np.argmax(spectrum[lo:hi]))
    assert lo < k < hi - 1, "no peak near the expected fundamental (only a window edge)"
    # The peak must be a real partial, far above the spectrum's floor.
    assert spectrum[k] > np.median(spectrum) + np.log(100)
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * bin_hz


def cents(f: float, ref: float) -> float:
    return 1200 * np.log2(f / ref)


# --- pitch ----------------------------------------------------------------------------------------

def test_timer_periods_are_the_nes_formula():
    # A4: pulse t = round(1789772.67 / (16 * 440) - 1) = 253, triangle t = round(.../(32 * 440) - 1) = 126
    assert synth.pulse_timer(69) == 253 and synth.triangle_timer(69) == 126
    assert synth.pulse_frequency(69) == pytest.approx(1789772.67 / (16 * 254), rel=1e-6)
    assert synth.triangle_frequency(69) == pytest.approx(1789772.67 / (32 * 127), rel=1e-6)
    # The whole range fits the 11-bit timers without clamping.
    for voice, timer in ((Voice.P1, synth.pulse_timer), (Voice.TR, synth.triangle_timer)):
        lo, hi = NOTE_RANGE[voice]
        t = timer(np.arange(lo, hi + 1))
        assert t.min() > synth.MIN_PULSE_TIMER and t.max() < synth.MAX_TIMER
        assert np.all(np.diff(t) <= 0)
    # The NES's own tuning error at the top of the pulse range is large; we must keep it, not fix it.
    assert cents(float(synth.pulse_frequency(108)), float(synth.note_frequency(108))) < -15


PULSE_NOTES = [33, 40, 47, 57, 69, 81, 93, 100, 108]
TRIANGLE_NOTES = [21, 28, 35, 45, 57, 69, 81, 93, 108]


@pytest.mark.parametrize("voice,note", [(Voice.P1, n) for n in PULSE_NOTES]
                         + [(Voice.P2, 60)] + [(Voice.TR, n) for n in TRIANGLE_NOTES])
def test_fundamental_within_10_cents_of_the_nes_timer_frequency(voice, note):
    # 2 s held note through the whole chain (mixer, output filters); 2.5 s so the filters settle.
    audio = synth.render_audio(held(voice, note, 60), RATE)[RATE // 2:]
    nes = float(synth.triangle_frequency(note) if voice == Voice.TR else synth.pulse_frequency(note))
    f0 = measured_fundamental(audio, RATE, nes)
    assert abs(cents(f0, nes)) < 10, f"{f0:.3f} Hz vs NES {nes:.3f} Hz"


@pytest.mark.parametrize("duty", [0, 1, 2, 3])
def test_duty_changes_timbre_not_pitch(duty):
    audio = synth.render_audio(held(Voice.P1, 45, 48, timbre=duty), RATE)[RATE // 2:]
    nes = float(synth.pulse_frequency(45))
    assert abs(cents(measured_fundamental(audio, RATE, nes), nes)) < 10


# --- waveform shape -------------------------------------------------------------------------------

@pytest.mark.parametrize("duty,share", [(0, 0.125), (1, 0.25), (2, 0.5), (3, 0.75)])
def test_pulse_duty_cycle_is_the_share_of_high_samples(duty, share):
    level = synth.render_channels(held(Voice.P1, 69, 24, velocity=15, timbre=duty), RATE)[0]
    assert level.max() == pytest.approx(15) and level.min() == pytest.approx(0, abs=1e-9)
    assert np.mean(level > 7.5) == pytest.approx(share, abs=0.01)
    # And in the WAV itself: after the console's high-passes the high part of each cycle is the part
    # above zero (a 880 Hz note, where the filters barely bend the edges).
    audio = synth.render_audio(held(Voice.P1, 81, 48, timbre=duty), RATE)[RATE // 2:]
    assert np.mean(audio > 0) == pytest.approx(share, abs=0.03)


@pytest.mark.parametrize("duty", [0, 1, 2, 3])
def test_pulse_matches_an_oversampled_reference_across_frames_and_blocks(duty):
    """A note held over many frames and synthesis chunks is one continuous pulse wave: the box-filtered
    samples equal a brute-force 64x oversampled rendering with a phase that never jumps."""
    rate, frames, note = 8000, synth.CHUNK_FRAMES * 2 + 10, 64
    level = synth.render_channels(held(Voice.P1, note, frames, velocity=15, timbre=duty), rate)[0]
    steps_per_sample = synth.CPU_CLOCK / (synth.pulse_timer(note) + 1) / rate
    sub = (np.arange(len(level) * 64) + 0.5) / 64 * steps_per_sample
    reference = synth.pulse_sequence(duty)[(sub % 16).astype(int)].reshape(-1, 64).mean(1) * 15
    assert np.max(np.abs(level - reference)) < 0.3  # 64x oversampling resolves edges to 1/64 sample


def test_pulse_restarts_at_note_onsets_and_triangle_never_does():
    a = np.zeros((30, 4, 3), np.uint8)
    a[:10, Voice.P1] = (60, 15, 2)
    a[10:20, Voice.P1] = (67, 15, 2)
    a[20:, Voice.P1] = (0, 0, 2)
    a[:10, Voice.TR, 0] = 60
    a[10:20, Voice.TR, 0] = 67
    levels = synth.render_channels(Score(a), RATE)
    bounds = synth.frame_bounds(30, RATE)
    # Pulse: each onset starts the sequence at step 0, which is low for duties 0..2.
    for frame in (0, 10):
        assert levels[0, bounds[frame]] == pytest.approx(0.0, abs=1e-9)
    # Triangle: a staircase of 1-level steps everywhere, across the note change too (a restart would
    # jump by up to 15), and it holds its last value through the silence instead of dropping to 0.
    assert np.max(np.abs(np.diff(levels[2]))) <= 1 + 1e-9
    tail = levels[2, bounds[20]:]
    assert np.all(tail == tail[0])


# --- noise ----------------------------------------------------------------------------------------

def reference_lfsr(mode: int, count: int) -> list[int]:
    """The shift register written bit by bit, independently of the synth: 1 where the output sounds."""
    register = [1] + [0] * 14  # register[i] = bit i; starts at 1
    out = []
    tap = 6 if mode else 1
    for _ in range(count):
        out.append(1 - register[0])
        feedback = register[0] ^ register[tap]
        register = register[1:] + [feedback]  # shift right, feedback into bit 14
    return out


@pytest.mark.parametrize("mode,loop", [(0, 32767), (1, 93)])
def test_noise_shift_register_loops(mode, loop):
    states = synth.lfsr_states(mode, loop + 1)
    assert states[loop] == states[0] == 1
    assert len(np.unique(states[:loop])) == loop  # no shorter repeat
    sequence = synth.noise_sequence(mode)
    assert len(sequence) == loop
    check = min(loop, 2000)
    assert sequence[:check].tolist() == reference_lfsr(mode, check)


def _correlation(x: np.ndarray, lag: int) -> float:
    a, b = x[:-lag] - x.mean(), x[lag:] - x.mean()
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


@pytest.mark.parametrize("mode,note,loop", [(1, 1, 93), (0, 8, 32767)])
def test_rendered_noise_repeats_every_loop_of_shifts(mode, note, loop):
    seconds_per_loop = loop * float(synth.noise_period(note)) / synth.CPU_CLOCK
    # A sample rate near 8 kHz at which the loop is (almost) a whole number of samples, so that the
    # repetition shows as a lag of the sampled signal.
    rate = min(range(8000, 8400), key=lambda r: abs(seconds_per_loop * r - round(seconds_per_loop * r)))
    frames = int(np.ceil(2.2 * seconds_per_loop * 24))
    level = synth.render_channels(held(Voice.NO, note, frames, timbre=mode), rate)[3]
    lag = seconds_per_loop * rate
    assert _correlation(level, round(lag)) > 0.95
    # Elsewhere the noise is uncorrelated with itself: the repetition is the loop, not an artefact.
    for other in (lag * 0.5, lag * 0.77, lag - 40):
        assert abs(_correlation(level, int(other))) < 0.3


# --- silence, range, determinism ------------------------------------------------------------------

def test_silence_is_exactly_zero_and_notes_fade_to_it():
    assert not np.any(synth.render_audio(Score.empty(48), RATE))
    a = np.zeros((72, 4, 3), np.uint8)
    a[24:48] = [(45, 15, 2), (52, 12, 3), (33, 0, 0), (10, 15, 0)]
    audio = synth.render_audio(Score(a), RATE)
    bounds = synth.frame_bounds(72, RATE)
    assert not np.any(audio[: bounds[24]])  # exactly 0 before the first note
    assert np.abs(audio[bounds[24]:bounds[48]]).max() > 0.05
    # After the notes end, only the output filters' decay of the last levels remains (< 1 ms time
    # constants): inaudible within 50 ms.
    assert np.abs(audio[bounds[48] + RATE // 20:]).max() < 1e-4


@pytest.mark.parametrize("notes,duty", [((33, 33, 21, 16), 3), ((108, 108, 108, 1), 2),
                                        ((60, 61, 40, 12), 0)])
def test_full_volume_on_all_four_voices_is_finite_and_never_clips(notes, duty):
    a = np.zeros((48, 4, 3), np.uint8)
    a[:, :, 0] = notes
    a[:, [0, 1, 3], 1] = 15
    a[:, [0, 1], 2] = duty
    for rate in (RATE, 8000):
        audio = synth.render_audio(Score(a), rate)
        assert audio.dtype == np.float32 and np.all(np.isfinite(audio))
        assert np.abs(audio).max() < 1.0
        assert np.abs(audio).max() > 0.2  # and it is loud


def test_output_bound_is_what_the_filters_can_reach():
    # A square wave between 0 and the mixer's peak, slow enough to let the filters ring fully, comes
    # close to the bound: the bound is tight, so WAVs are not needlessly quiet.
    b, a = synth.output_filter(RATE)
    from scipy.signal import lfilter

    square = np.where((np.arange(RATE) // 2000) % 2 == 1, synth.MIXER_PEAK, 0.0)
    peak = np.abs(lfilter(b, a, square)).max()
    assert 0.9 * synth.output_bound(RATE) < peak <= synth.output_bound(RATE)
    assert synth.MIXER_PEAK == pytest.approx(0.6318, abs=1e-4)
    assert synth.mix(0.0, 0.0, 0.0, 0.0) == 0.0
    assert synth.mix(15.0, 0.0, 0.0, 0.0) == pytest.approx(95.88 / (8128 / 15 + 100))
    assert synth.mix(0.0, 0.0, 15.0, 0.0) == pytest.approx(159.79 / (100 + 1 / (15 / 8227)))


def test_audio_is_the_filtered_mix_of_the_four_channels():
    """The block filter equals the textbook chain (scipy's lfilter of the output stage) on the mixer's
    output, and the mixer's output is the non-linear mix of the four channels wherever they hold still."""
    from scipy.signal import lfilter

    a = np.zeros((60, 4, 3), np.uint8)
    a[:, Voice.P1] = (64, 9, 1)
    a[10:50, Voice.P2] = (52, 4, 3)
    a[5:40, Voice.TR, 0] = 45
    a[20:, Voice.NO] = (13, 11, 0)
    a[30:35, Voice.NO, 2] = 1
    a[50:55, Voice.NO] = (15, 7, 0)  # fast noise: rendered per sample
    for voice in range(4):  # each voice alone, then all together
        for score in (Score(np.where(np.arange(4)[None, :, None] == voice, a, 0).astype(np.uint8)),
                      Score(a)):
            b, den = synth.output_filter(RATE)
            mixed = synth.render_mix(score, RATE)
            expected = lfilter(b, den, mixed) / synth.output_bound(RATE)
            assert np.allclose(synth.render_audio(score, RATE), expected, atol=1e-6)
            levels = synth.render_channels(score, RATE)
            steady = np.all(np.abs(np.diff(levels, axis=1, prepend=levels[:, :1])) < 1e-9, axis=0)
            assert steady.mean() > 0.3
            assert np.allclose(mixed[steady], synth.mix(*levels[:, steady]), atol=1e-9)


def test_the_filter_modes_are_the_output_filter():
    # The output stage on a running sum is three first-order decays: their sum is its step response.
    from scipy.signal import lfilter

    for rate in (8000, 44100, 96000):
        b, den = synth.output_filter(rate)
        step = lfilter(b, den, np.ones(3000))
        assert np.allclose(synth.step_response(rate, 3000), step, atol=1e-12)
        # Chunked like a render (any chunk sizes): the same output as one call.
        x = np.random.default_rng(rate).normal(size=5000)
        stage = synth.OutputStage(rate)
        pieces = [stage.process(x[i:j]) for i, j in ((0, 7), (7, 1000), (1000, 1001), (1001, 5000))]
        pieces.append(stage.flush())
        assert np.allclose(np.concatenate(pieces), lfilter(b, den, np.cumsum(x)), atol=1e-9)


def test_unison_pulses_sum_exactly_at_simultaneous_edges():
    """P1 and P2 on the same note start together, so their falling edges coincide (duties 0..2 all fall
    at step 16): the mixer's output must stay the mix of the two levels, with no drift."""
    a = np.zeros((200, 4, 3), np.uint8)
    a[:, Voice.P1] = (57, 15, 0)
    a[:, Voice.P2] = (57, 12, 2)
    score = Score(a)
    levels = synth.render_channels(score, RATE)
    mixed = synth.render_mix(score, RATE)
    steady = np.all(np.abs(np.diff(levels, axis=1, prepend=0.0)) < 1e-9, axis=0)
    assert np.allclose(mixed[steady], synth.mix(*levels[:, steady]), atol=1e-9)
    assert abs(mixed[-1] - synth.mix(*levels[:, -1])) < 1e-9


@settings(max_examples=25, deadline=None)
@given(scores(max_frames=120))
def test_any_score_renders_in_range_deterministically_with_its_exact_length(score):
    audio = synth.render_audio(score, 22050)
    assert len(audio) == score.frames * 22050 // 24
    assert np.all(np.isfinite(audio)) and np.abs(audio).max(initial=0) <= 1.0
    assert synth.render_audio(score, 22050).tobytes() == audio.tobytes()


@pytest.mark.parametrize("frames,rate", [(1, 44100), (7, 44100), (1278, 44100), (101, 48000), (5, 8000)])
def test_duration_is_frames_over_24(frames, rate):
    audio = synth.render_audio(held(Voice.P1, 60, frames), rate)
    assert len(audio) == frames * rate // 24
    assert abs(len(audio) / rate - frames / 24) < 1 / rate


def test_empty_score_renders_empty():
    assert synth.render_audio(Score.empty(0)).shape == (0,)


# --- the edge renderer against the per-sample renderer it replaced --------------------------------

def _spectrogram(x: np.ndarray, n: int = 2048) -> np.ndarray:
    frames = len(x) // n
    return np.abs(np.fft.rfft(x[: frames * n].reshape(frames, n) * np.hanning(n), axis=1))


def test_old_and_new_renderers_agree_on_real_songs(midi_samples, exprsco_valid):
    """The per-sample renderer (tests/reference_synth.py) box-averaged each channel and mixed those
    averages; the edge renderer mixes the exact step levels, so the two differ at edges, and in fast
    noise, which the new one reads from a table with its start rounded to 1/32 sample. Bound: the
    magnitude spectrograms (2048-sample Hann frames) differ by less than 2 % of the old one's norm
    (measured: 0.2..0.8 %), per song."""
    from nesinterp.io.readers import read_score

    from . import reference_synth

    songs = [read_score(p) for p in midi_samples]
    songs += [s for _, s in sorted(exprsco_valid.items()) if (s.notes != 0).mean(axis=0).min() > 0.3][:3]
    for score in songs:
        for rate in (44100, 22050):
            new = synth.render_audio(score, rate).astype(np.float64)
            old = reference_synth.render_audio(score, rate).astype(np.float64)
            assert len(new) == len(old)
            a, b = _spectrogram(new), _spectrogram(old)
            distance = np.linalg.norm(a - b) / np.linalg.norm(b)
            assert distance < 0.02, f"{score.name} at {rate} Hz: spectral distance {distance:.4f}"
