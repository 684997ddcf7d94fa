"""Small pictures read at a glance, composed in numpy and written as PNG without matplotlib (which
costs half a second to import): a piano-roll strip of a Score and a spectrogram strip of its audio.
The blend page shows one of each per step; both share the time axis, so they line up.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from .score import Score, Voice

PIXELS_PER_FRAME = 4
MAX_WIDTH = 1600  # longer scores (``--whole``) are squeezed to this many columns
LANE_HEIGHTS = (40, 40, 40, 20)  # P1, P2, TR, NO rows of a piano-roll strip, top to bottom
SEPARATOR = 2  # rows of line between lanes
SPECTROGRAM_ROWS = 72
SPECTROGRAM_HZ = (40.0, 12000.0)  # log-spaced rows, low at the bottom
SPECTROGRAM_DB = (-72.0, -22.0)  # dB re a full-scale sine, dark .. bright (notes reach -45 .. -20)
FFT_SIZE = 2048

BACKGROUND = np.array([21, 22, 27], np.uint8)
LINE = np.array([62, 66, 76], np.uint8)
OCTAVE = np.array([33, 35, 42], np.uint8)  # faint line at every C, so pitch is readable
VOICE_COLOURS = np.array([[255, 140, 64], [255, 214, 90], [84, 210, 226], [206, 150, 255]], np.float64)

# Anchors of matplotlib's "magma" (dark -> bright), interpolated to a 256-entry table.
_MAGMA = np.array([[0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122],
                   [229, 80, 100], [251, 135, 97], [254, 194, 135], [252, 253, 191]], np.float64)
MAGMA = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_MAGMA)), _MAGMA[:, c])
                  for c in range(3)], axis=1).round().astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB uint8 image (height, width, 3) as the bytes of a PNG file."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width, _ = rgb.shape
    raw = np.zeros((height, 1 + 3 * width), np.uint8)  # filter byte 0 (none) before each row
    raw[:, 1:] = rgb.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def strip_width(frames: int) -> int:
    """Columns of both strips for a score of ``frames`` frames."""
    return int(max(1, min(MAX_WIDTH, frames * PIXELS_PER_FRAME)))


def pitch_ranges(scores) -> list[tuple[int, int]]:
    """Per voice, the (lowest, highest) row of a piano-roll strip, shared by ``scores`` so that strips
    drawn with it compare: the notes they play with a margin, at least an octave; noise 1..16."""
    ranges = []
    for voice in Voice:
        if voice == Voice.NO:
            ranges.append((1, 16))
            continue
        notes = np.concatenate([np.asarray(s.notes[:, voice]).ravel() for s in scores]) if scores else np.zeros(0)
        notes = notes[notes > 0]
        lo, hi = (int(notes.min()) - 1, int(notes.max()) + 1) if len(notes) else (57, 81)
        pad = max(0, 12 - (hi - lo)) // 2
        ranges.append((lo - pad, hi + pad + max(0, 12 - (hi - lo)) % 2))
    return ranges


def piano_roll_strip(score: Score, ranges: list[tuple[int, int]]) -> np.ndarray:
    """RGB image of the four voices, lanes P1, P2, TR, NO from the top (``LANE_HEIGHTS``), high notes up,
    one colour per voice, brighter = louder (the triangle, which has no volume, at full strength)."""
    frames = max(1, score.frames)
    width = strip_width(frames)
    lanes = []
    for voice in Voice:
        height, (lo, hi) = LANE_HEIGHTS[voice], ranges[voice]
        span = hi - lo + 1
        notes = np.zeros(frames, np.int64)
        notes[: score.frames] = np.asarray(score.notes[:, voice])
        strength = np.full(frames, 15) if voice == Voice.TR else np.pad(
            np.asarray(score.velocities[:, voice]).astype(np.int64), (0, frames - score.frames))
        # A note fills its share of the lane's rows (at least one); level 0 = nothing sounds.
        top = height - ((notes - lo + 1) * height) // span
        bottom = np.maximum(height - ((notes - lo) * height) // span, top + 1)
        rows = np.arange(height)[:, None]
        sounding = (notes >= lo) & (notes <= hi)
        level = np.where((rows >= top) & (rows < bottom) & sounding, 0.35 + 0.65 * strength / 15.0, 0.0)
        level = _to_columns(level, width)  # (height, width)
        lane = np.broadcast_to(BACKGROUND, (height, width, 3)).copy()
        if voice != Voice.NO:
            for c in range(lo + (-lo) % 12, hi + 1, 12):
                lane[height - 1 - ((c - lo) * height) // span] = OCTAVE
        lit = level > 0
        lane[lit] = (VOICE_COLOURS[voice] * level[lit][:, None]).round().astype(np.uint8)
        lanes.append(lane)
        if voice != Voice.NO:
            lanes.append(np.broadcast_to(LINE, (SEPARATOR, width, 3)))
    return np.concatenate(lanes)


def _to_columns(per_frame: np.ndarray, width: int) -> np.ndarray:
    """(rows, frames) -> (rows, width): each frame repeated when there is room, else the loudest of the
    frames that share a column (so no short note disappears)."""
    frames = per_frame.shape[1]
    if width >= frames:
        return per_frame[:, (np.arange(width) * frames) // width]
    return np.maximum.reduceat(per_frame, (np.arange(width) * frames) // width, axis=1)


def spectrogram_strip(samples: np.ndarray, sample_rate: int, width: int) -> np.ndarray:
    """RGB image of the audio's spectrum over time: ``width`` columns across the whole signal,
    ``SPECTROGRAM_ROWS`` log-spaced frequency rows (``SPECTROGRAM_HZ``, low at the bottom), level in dB
    re a full-scale sine through the magma colours (``SPECTROGRAM_DB``). int16 or float samples."""
    samples = np.asarray(samples)
    x = (samples / 32768.0 if samples.dtype.kind in "iu" else samples).astype(np.float32)
    half = FFT_SIZE // 2
    padded = np.concatenate([np.zeros(half, np.float32), x, np.zeros(half, np.float32)])
    centres = ((np.arange(width) + 0.5) * len(x) / width).astype(np.int64)
    window = np.hanning(FFT_SIZE).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[centres] * window
    magnitude = np.abs(np.fft.rfft(frames, axis=1)) * (2.0 / window.sum())  # a full-scale sine -> 1
    edges = np.geomspace(*SPECTROGRAM_HZ, SPECTROGRAM_ROWS + 1) * FFT_SIZE / sample_rate
    first = np.minimum(edges[:-1].astype(np.int64), half)
    # the loudest bin of each row's band (the one bin it falls in, where bands are narrower than bins)
    rows = np.maximum.reduceat(magnitude[:, : int(np.ceil(edges[-1])) + 1], first, axis=1)  # (width, rows)
    db = 20 * np.log10(np.maximum(rows, 1e-12))
    lo, hi = SPECTROGRAM_DB
    index = np.clip((db - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    return MAGMA[index.T[::-1]]


# A 3x5 pixel font (rows top to bottom, 3 bits each): digits, capitals and common punctuation; text is
# drawn in capitals and any other character is left blank. Drawn at FONT_SCALE.
_GLYPHS = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7), "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1), "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7),
    "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6), "C": (3, 4, 4, 4, 3), "D": (6, 5, 5, 5, 6), "E": (7, 4, 6, 4, 7),
    "F": (7, 4, 6, 4, 4), "G": (3, 4, 5, 5, 3), "H": (5, 5, 7, 5, 5), "I": (7, 2, 2, 2, 7), "J": (1, 1, 1, 5, 2),
    "K": (5, 5, 6, 5, 5), "L": (4, 4, 4, 4, 7), "M": (5, 7, 7, 5, 5), "N": (5, 7, 7, 7, 5), "O": (2, 5, 5, 5, 2),
    "P": (6, 5, 6, 4, 4), "Q": (2, 5, 5, 6, 3), "R": (6, 5, 6, 5, 5), "S": (3, 4, 2, 1, 6), "T": (7, 2, 2, 2, 2),
    "U": (5, 5, 5, 5, 7), "V": (5, 5, 5, 5, 2), "W": (5, 5, 7, 7, 5), "X": (5, 5, 2, 5, 5), "Y": (5, 5, 2, 2, 2),
    "Z": (7, 1, 2, 4, 7), "-": (0, 0, 7, 0, 0), ".": (0, 0, 0, 0, 2), "=": (0, 7, 0, 7, 0), ":": (0, 2, 0, 2, 0),
    "/": (1, 1, 2, 4, 4), "_": (0, 0, 0, 0, 7), "(": (1, 2, 2, 2, 1), ")": (4, 2, 2, 2, 4), "~": (0, 3, 6, 0, 0),
    "'": (2, 2, 0, 0, 0), ",": (0, 0, 0, 2, 4), "+": (0, 2, 7, 2, 0), "!": (2, 2, 2, 0, 2), "?": (6, 1, 2, 0, 2),
    "%": (5, 1, 2, 4, 5), "#": (5, 7, 5, 7, 5), "<": (1, 2, 4, 2, 1), ">": (4, 2, 1, 2, 4),
}
FONT_SCALE = 2
TEXT = np.array([200, 204, 214], np.uint8)


def text_image(text: str, width: int) -> np.ndarray:
    """``text`` in the small font, left-aligned on a band ``width`` columns wide (cut where it runs out)."""
    height = 7 * FONT_SCALE
    band = np.broadcast_to(BACKGROUND, (height, width, 3)).copy()
    bits = np.zeros((5, 4 * len(text)), bool)
    for i, char in enumerate(text.upper()):
        for row, pattern in enumerate(_GLYPHS.get(char, (0,) * 5)):
            bits[row, 4 * i: 4 * i + 3] = [(pattern >> (2 - c)) & 1 for c in range(3)]
    bits = bits.repeat(FONT_SCALE, axis=0).repeat(FONT_SCALE, axis=1)[:, :max(0, width - FONT_SCALE)]
    band[FONT_SCALE: FONT_SCALE + bits.shape[0], FONT_SCALE: FONT_SCALE + bits.shape[1]][bits] = TEXT
    return band


def overview_image(scores, titles) -> np.ndarray:
    """Scores side by side as piano-roll strips on one pitch scale, each under its title, with the
    lanes named on the left (blend's piano-rolls.png, without matplotlib)."""
    ranges = pitch_ranges(scores)
    strips = [piano_roll_strip(s, ranges) for s in scores]
    height = strips[0].shape[0]
    gap = np.broadcast_to(LINE, (height + 7 * FONT_SCALE, 4, 3))
    label_width = 4 * 2 * FONT_SCALE + 2 * FONT_SCALE
    labels = np.broadcast_to(BACKGROUND, (height, label_width, 3)).copy()
    top = 0
    for voice, name in zip(Voice, ("P1", "P2", "TR", "NO")):
        band = text_image(name, label_width)
        middle = top + LANE_HEIGHTS[voice] // 2 - band.shape[0] // 2
        labels[middle: middle + band.shape[0]] = band
        top += LANE_HEIGHTS[voice] + (SEPARATOR if voice != Voice.NO else 0)
    columns = [np.concatenate([text_image("", label_width), labels])]
    for strip, title in zip(strips, titles):
        columns += [gap, np.concatenate([text_image(title, strip.shape[1]), strip])]
    return np.concatenate(columns, axis=1)


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path.write_bytes(png_bytes(rgb))
    return path


__all__ = ["overview_image", "png_bytes", "pitch_ranges", "piano_roll_strip", "spectrogram_strip", "strip_width",
           "text_image", "write_png",
           "LANE_HEIGHTS", "SPECTROGRAM_HZ", "MAGMA"]
