"""Scores out to the ear and the eye: 16-bit WAV through the NES synthesizer, NES-MDB MIDI for any other
synth, and a piano-roll PNG of the four voices. ``render_files`` is what ``nesinterp render`` runs.
"""

from __future__ import annotations

import io
import os
import tempfile
import wave
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import NesinterpError
from .score import Score
from .synth import DEFAULT_SAMPLE_RATE, render_audio

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000


class RenderError(NesinterpError):
    """An input or output that cannot be rendered; the message names the file, in one line."""


# --- audio --------------------------------------------------------------------------------------

def pcm16(audio: np.ndarray, normalize: bool = False) -> np.ndarray:
    """Float audio in [-1, 1] as little-endian int16 samples.

    Without ``normalize`` the scale is fixed (1.0 -> 32767), so blend steps stay comparable in
    loudness; with it the peak is raised (or lowered) to full scale.
    """
    audio = np.asarray(audio)
    if audio.dtype != np.float32:
        audio = audio.astype(np.float64)
    if normalize:
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 0:
            audio = audio / peak
    # In the input's own precision (float32 from the synth), in place: three passes, not five.
    scaled = audio * audio.dtype.type(32767.0)
    np.clip(scaled, -32767.0, 32767.0, out=scaled)
    return np.rint(scaled, out=scaled).astype("<i2")


def _check_rate(sample_rate: int) -> int:
    sample_rate = int(sample_rate)
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise RenderError(f"sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
    return sample_rate


def _write_wav(f, samples: np.ndarray, sample_rate: int) -> None:
    with wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.tobytes())


def render_samples(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE, normalize: bool = False) -> np.ndarray:
    """A Score through the NES synthesizer as the int16 samples a WAV file of it holds."""
    return pcm16(render_audio(score, _check_rate(sample_rate)), normalize)


def write_wav_samples(path, samples: np.ndarray, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Path:
    """int16 ``samples`` as a mono 16-bit PCM WAV file at ``path`` (written in place, not atomically:
    for callers that write into a folder of their own, such as blend's temporary folder)."""
    path = Path(path)
    _write_wav(str(path), np.asarray(samples, "<i2"), _check_rate(sample_rate))
    return path


class WavStream:
    """A mono 16-bit WAV file written block by block (``append``), so that a long render (blend's
    morph.wav) never has to be held whole in memory; the header's length is set on ``close``."""

    def __init__(self, path, sample_rate: int = DEFAULT_SAMPLE_RATE):
        self.path = Path(path)
        self.sample_rate = _check_rate(sample_rate)
        self._wave = wave.open(str(self.path), "wb")
        self._wave.setnchannels(1)
        self._wave.setsampwidth(2)
        self._wave.setframerate(self.sample_rate)

    def append(self, samples: np.ndarray) -> None:
        self._wave.writeframes(np.asarray(samples, "<i2").tobytes())

    def close(self) -> Path:
        self._wave.close()
        return self.path


def wav_bytes(score: Score, sample_rate: int = DEFAULT_SAMPLE_RATE, normalize: bool = False) -> bytes:
    """A Score as the bytes of a mono 16-bit PCM WAV file rendered by the NES synthesizer."""
    buffer = io.BytesIO()
    _write_wav(buffer, render_samples(score, sample_rate, normalize), _check_rate(sample_rate))
    return buffer.getvalue()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write, force: bool) -> None:
    """Write through a temp file in the same folder and move it into place, so a failed or
    interrupted render never leaves a partial file; refuse to replace ``path`` unless ``force``."""
    if path.exists() and not force:
        raise RenderError(f"{path} exists (use --force to replace it)")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
        if path.exists() and not force:  # appeared while we rendered
            raise RenderError(f"{path} exists (use --force to replace it)")
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def render_wav(score: Score, path, sample_rate: int = DEFAULT_SAMPLE_RATE, normalize: bool = False,
               force: bool = True) -> Path:
    """Render a Score to a mono 16-bit PCM WAV file at ``path`` (replaced only if ``force``)."""
    path = Path(path)
    sample_rate = _check_rate(sample_rate)
    samples = pcm16(render_audio(score, sample_rate), normalize)
    _atomic_write(path, lambda f: _write_wav(f, samples, sample_rate), force)
    return path


def render_midi(score: Score, path, force: bool = True) -> Path:
    """Write a Score as NES-MDB MIDI, for rendering with any synthesizer (programs 80/81/38/121)."""
    from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes

    path = Path(path)
    data = nesmdb_midi_bytes(score)
    _atomic_write(path, lambda f: f.write(data), force)
    return path


# --- piano roll ---------------------------------------------------------------------------------

def plot_piano_roll(scores: Score | Sequence[Score], path, titles: Sequence[str] | None = None) -> Path:
    """A PNG of the four voices, the scores side by side under their titles (e.g. blend steps), drawn
    by the one piano-roll drawer every picture of the project uses (``pictures.overview_image``: lanes
    P1, P2, TR, NO on one pitch scale, brighter = louder)."""
    from .pictures import overview_image, write_png

    scores = [scores] if isinstance(scores, Score) else list(scores)
    if not scores:
        raise RenderError("nothing to plot: no scores given")
    titles = list(titles) if titles is not None else [s.name for s in scores]
    return write_png(Path(path), overview_image(scores, titles))


# --- files in, files out (the CLI's work) ---------------------------------------------------------

def _stem(source: str) -> str:
    from nesinterp.io.pickles import song_name

    if source.startswith("music21:"):
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in source[len("music21:"):])
    return song_name(Path(source).name)


def output_paths(inputs: Sequence[str], out) -> list[Path]:
    """Where each input's WAV goes: OUT itself for one input and OUT ending in .wav, else
    ``OUT/<stem>.wav``. Raises RenderError for combinations that would lose a file."""
    out = Path(out)
    if out.suffix.lower() == ".wav":
        if len(inputs) != 1:
            raise RenderError(f"{out}: one .wav file cannot hold {len(inputs)} renders; give a folder")
        return [out]
    if out.exists() and not out.is_dir():
        raise RenderError(f"{out}: exists and is not a folder")
    paths = [out / f"{_stem(str(i))}.wav" for i in inputs]
    seen: dict[Path, str] = {}
    for source, path in zip(inputs, paths):
        if path in seen:
            raise RenderError(f"{source}: would overwrite the render of {seen[path]} ({path.name})")
        seen[path] = str(source)
    return paths


def render_files(inputs: Iterable, out, force: bool = False, plot: bool = False,
                 sample_rate: int = DEFAULT_SAMPLE_RATE, normalize: bool = False) -> list[Path]:
    """Render each input (.mid, .exprsco.pkl, .seprsco.pkl, music21:<name>) to a WAV; see
    ``output_paths`` for where. With ``plot`` a piano-roll ``<stem>.png`` goes beside each WAV.
    Returns every file written, in order: each input's WAV, then its PNG.

    Every input is read and every target checked before anything is written, so a bad input or an
    existing WAV (without ``force``) fails the whole command and leaves the disk as it was.
    """
    from nesinterp.io.readers import ReadError, read_score

    inputs = [str(i) for i in inputs]
    if not inputs:
        raise RenderError("no input files given")
    sample_rate = _check_rate(sample_rate)
    targets = output_paths(inputs, out)
    if not force:
        for target in targets:
            for path in [target] + ([target.with_suffix(".png")] if plot else []):
                if path.exists():
                    raise RenderError(f"{path} exists (use --force to replace it)")
    scores = []
    for source in inputs:
        try:
            scores.append(read_score(source))
        except ReadError as exc:
            raise RenderError(f"{source}: {exc}") from None
    folder = targets[0].parent
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for score, target in zip(scores, targets):
        written.append(render_wav(score, target, sample_rate, normalize, force=force))
        if plot:
            written.append(plot_piano_roll(score, target.with_suffix(".png")))
    return written


__all__ = [
    "RenderError",
    "WavStream",
    "pcm16",
    "plot_piano_roll",
    "render_files",
    "render_midi",
    "render_samples",
    "render_wav",
    "wav_bytes",
    "write_wav_samples",
    "output_paths",
]
