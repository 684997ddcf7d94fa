"""A prepared dataset on disk: per split, all songs concatenated in one uint8 array, an index, and a
manifest describing the whole.

Layout of a dataset folder::

    manifest.json            sources, options, counts, hours and per-voice statistics, skipped files
    <split>.scores.npy       uint8 (total frames, 4, 3): every song of the split, one after another
    <split>.offsets.npy      int64 (songs + 1,): song i is scores[offsets[i]:offsets[i + 1]]
    <split>.songs.json       [{"name", "game", "source", "frames"}] in the same order

Loading a split memory-maps the scores; nothing is parsed or copied until it is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nesinterp.errors import NesinterpError
from nesinterp.jsonio import dumps
from nesinterp.score import FRAME_RATE, VOICE_NAMES, Score, Voice

FORMAT = "nesinterp-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")


class DatasetError(NesinterpError):
    """A folder that is not a readable nesinterp dataset."""


@dataclass(frozen=True)
class SongEntry:
    name: str
    game: str
    source: str
    frames: int


class Split:
    """One split of a dataset: memory-mapped scores plus the song index."""

    def __init__(self, scores: np.ndarray, offsets: np.ndarray, songs: list[SongEntry], name: str):
        self.scores = scores
        self.offsets = offsets
        self.songs = songs
        self.name = name

    def __len__(self) -> int:
        return len(self.songs)

    @property
    def frames(self) -> int:
        return int(self.offsets[-1])

    @property
    def hours(self) -> float:
        return self.frames / FRAME_RATE / 3600

    def score(self, i: int) -> Score:
        entry = self.songs[i]
        return Score(self.scores[self.offsets[i] : self.offsets[i + 1]], entry.name, entry.source)

    def __iter__(self):
        return (self.score(i) for i in range(len(self)))


class Dataset:
    """A prepared dataset folder. ``Dataset(path).split("train")`` memory-maps that split."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        if not manifest.is_file():
            raise DatasetError(f"{self.path}: not a dataset folder (no manifest.json); make one with "
                               "`nesinterp prep`")
        try:
            self.manifest = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{manifest}: unreadable manifest ({exc})") from None
        if self.manifest.get("format") != FORMAT:
            raise DatasetError(f"{manifest}: not a nesinterp dataset manifest")
        if self.manifest.get("format_version", 0) > FORMAT_VERSION:
            raise DatasetError(f"{manifest}: dataset format {self.manifest['format_version']} is newer "
                               "than this nesinterp understands; upgrade nesinterp")

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLITS if s in self.manifest.get("splits", {})]

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DatasetError(f"{self.path}: no {name!r} split (has {', '.join(self.splits) or 'none'})")
        try:
            scores = np.load(self.path / f"{name}.scores.npy", mmap_mode="r", allow_pickle=False)
            offsets = np.load(self.path / f"{name}.offsets.npy", allow_pickle=False)
            songs = [SongEntry(**s) for s in json.loads((self.path / f"{name}.songs.json").read_text())]
        except (OSError, ValueError, TypeError) as exc:
            raise DatasetError(f"{self.path}: {name} split is unreadable ({exc})") from None
        if (
            scores.dtype != np.uint8 or scores.ndim != 3 or scores.shape[1:] != (4, 3)
            or offsets.ndim != 1 or len(offsets) != len(songs) + 1 or offsets[0] != 0
            or offsets[-1] != len(scores) or np.any(np.diff(offsets) < 0)
        ):
            raise DatasetError(f"{self.path}: {name} split is inconsistent (scores, offsets and index disagree)")
        return Split(scores, offsets, songs, name)


def write_split(folder: Path, name: str, scores: list[Score], games: list[str]) -> dict:
    """Write one split's three files and return its manifest entry (counts, hours, statistics)."""
    lengths = np.array([s.frames for s in scores], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    array = (np.concatenate([s.array for s in scores]) if scores
             else np.zeros((0, 4, 3), np.uint8))
    np.save(folder / f"{name}.scores.npy", array, allow_pickle=False)
    np.save(folder / f"{name}.offsets.npy", offsets, allow_pickle=False)
    index = [
        {"name": s.name, "game": g, "source": s.source, "frames": int(s.frames)}
        for s, g in zip(scores, games)
    ]
    (folder / f"{name}.songs.json").write_text(dumps(index, indent=0))
    return {
        "songs": len(scores),
        "games": len(set(games)),
        "frames": int(offsets[-1]),
        "hours": round(float(offsets[-1]) / FRAME_RATE / 3600, 4),
        "voices": voice_statistics(array, offsets),
    }


def voice_statistics(array: np.ndarray, offsets: np.ndarray) -> dict:
    """Per voice: share of frames sounding, note range and mean, mean velocity, timbre shares, and how
    many songs never use the voice."""
    stats = {}
    for voice in Voice:
        note = array[:, voice, 0]
        on = note > 0
        sounding = int(on.sum())
        per_song_on = np.add.reduceat(on.astype(np.int64), offsets[:-1]) if len(offsets) > 1 and len(array) else np.zeros(0)
        # reduceat returns the element itself for empty songs; none reach a dataset, but be exact.
        empty = np.diff(offsets) == 0
        per_song_on = np.where(empty, 0, per_song_on) if len(per_song_on) else per_song_on
        timbre = np.bincount(array[on, voice, 2], minlength=4)[:4] if sounding else np.zeros(4, int)
        entry = {
            "sounding_share": round(sounding / max(len(array), 1), 4),
            "songs_silent": int(np.sum(per_song_on == 0)),
        }
        if sounding:
            notes = note[on]
            entry.update(
                note_min=int(notes.min()),
                note_max=int(notes.max()),
                note_mean=round(float(notes.mean()), 2),
                velocity_mean=round(float(array[on, voice, 1].mean()), 2),
                timbre_shares=[round(float(t) / sounding, 4) for t in timbre],
            )
        stats[VOICE_NAMES[voice]] = entry
    return stats
