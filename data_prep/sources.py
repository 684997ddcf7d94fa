"""What `nesinterp prep` reads: folders, .tar.gz archives (streamed, never extracted), single files and
``music21:<name>`` corpus queries, each expanded into a flat list of Items to convert.

An Item carries what a worker needs to make a Score (a path, or the bytes of an archive member) plus
the facts the split needs: the official NES-MDB split when the path has one, and the group (game,
composer or work) that must stay within one split.
"""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nesinterp.errors import NesinterpError

from nesinterp.io.readers import MAX_FILE_BYTES, MUSIC21_PREFIX, kind_of
from nesinterp.io.pickles import song_name

SPLITS = ("train", "valid", "test")

# What tarfile's streaming reader raises on damaged input: besides its own errors, damaged gzip
# headers and numeric fields surface as TypeError, ValueError or OverflowError (found by fuzzing).
_ARCHIVE_ERRORS = (tarfile.TarError, OSError, EOFError, TypeError, ValueError, OverflowError, zlib.error)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")

# NES-MDB names: GGG_GameName_SS_TTTitle. One file in 5278 breaks the pattern; the 3-digit game id
# alone still identifies the game.
_NESMDB_NAME = re.compile(r"^(\d{3})_(.*?)_(\d{2})_")
_NESMDB_GAME_ID = re.compile(r"^(\d{3})_")


@dataclass(frozen=True)
class Item:
    source: str  # where it came from, for messages and the index: a path, archive:member, music21:x
    filename: str  # decides the format
    path: str | None = None  # read from disk by the worker
    data: bytes | None = None  # archive members arrive as bytes
    music21: str | None = None  # a corpus piece
    official_split: str | None = None
    group: str = ""


@dataclass(frozen=True)
class Skip:
    source: str
    reason: str


class SourceError(NesinterpError):
    """A SRC argument that cannot be read at all (missing path, corrupt archive, unknown corpus name)."""


def nesmdb_game(name: str) -> str | None:
    """``322_SuperMarioBros__00_01RunningAbout`` -> ``322_SuperMarioBros_``; None if not NES-MDB-named."""
    m = _NESMDB_NAME.match(name)
    if m:
        return f"{m.group(1)}_{m.group(2)}"
    m = _NESMDB_GAME_ID.match(name)
    return m.group(1) if m else None


def official_split(parts: tuple[str, ...]) -> str | None:
    """NES-MDB's own split, from a train/valid/test folder anywhere in the relative path."""
    for part in reversed(parts[:-1]):
        if part in SPLITS:
            return part
    return None


def _group(parts: tuple[str, ...], default: str) -> str:
    """Game for NES-MDB names; else the first sub-folder under SRC (a game or composer folder, split
    folders aside); else the file itself."""
    name = song_name(parts[-1])
    game = nesmdb_game(name)
    if game:
        return game
    folders = [p for p in parts[:-1] if p not in SPLITS]
    if folders:
        return f"{default}/{folders[0]}"
    return f"{default}/{name}"


def expand_sources(sources: list[str]) -> Iterator[Item | Skip]:
    """Yield an Item per readable song file, or a Skip with the reason for one that is not readable.

    Raises SourceError for a SRC argument that does not exist or cannot be opened at all.
    """
    for src in sources:
        if src.startswith(MUSIC21_PREFIX):
            yield from _music21_items(src[len(MUSIC21_PREFIX):])
            continue
        path = Path(src)
        if not path.exists():
            raise SourceError(f"{src}: no such file or folder")
        if path.is_dir():
            yield from _folder_items(path)
        elif path.name.lower().endswith(ARCHIVE_SUFFIXES):
            yield from _archive_items(path)
        elif kind_of(path.name):
            yield Item(str(path), path.name, path=str(path),
                       official_split=official_split(path.parts), group=_group((path.name,), "file"))
        else:
            raise SourceError(f"{src}: not a folder, archive, MIDI or score pickle")


def _folder_items(root: Path) -> Iterator[Item | Skip]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath) / filename
            rel = full.relative_to(root).parts
            if filename.lower().endswith(ARCHIVE_SUFFIXES):
                yield from _archive_items(full)
                continue
            if not kind_of(filename):
                continue
            if full.is_symlink() and not full.resolve().is_relative_to(root.resolve()):
                yield Skip(str(full), "symbolic link pointing outside the source folder")
                continue
            yield Item(str(full), filename, path=str(full), official_split=official_split(rel),
                       group=_group(rel, root.name))


def _archive_items(archive: Path) -> Iterator[Item | Skip]:
    """Members of a tar archive as bytes, streamed: nothing is written to disk, links and special
    files are skipped, and names are only used as labels, so ``../x`` or ``/etc/x`` cannot escape."""
    try:
        tf = tarfile.open(archive, mode="r|*")
    except _ARCHIVE_ERRORS as exc:
        raise SourceError(f"{archive}: not a readable tar archive ({exc})") from None
    try:
        with tf:
            for member in tf:
                parts = PurePosixPath(member.name.lstrip("/")).parts
                if not parts:
                    continue
                filename = parts[-1]
                label = f"{archive}:{member.name}"
                if not kind_of(filename):
                    if member.isfile() and filename.lower().endswith(ARCHIVE_SUFFIXES):
                        yield Skip(label, "archive inside an archive is not read; unpack it first")
                    continue
                if not member.isfile():
                    yield Skip(label, "not a regular file (link or special file) in the archive")
                    continue
                if member.size > MAX_FILE_BYTES:
                    yield Skip(label, f"member is {member.size} bytes, over the {MAX_FILE_BYTES >> 20} MiB limit")
                    continue
                f = tf.extractfile(member)
                data = f.read() if f is not None else b""
                yield Item(label, filename, data=data, official_split=official_split(parts),
                           group=_group(parts, archive.name.split(".")[0]))
    except _ARCHIVE_ERRORS as exc:
        raise SourceError(f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc})") from None


def _music21_items(query: str) -> Iterator[Item]:
    from nesinterp.io.music21 import music21_pieces, piece_group

    try:
        pieces = music21_pieces(query)
    except ValueError as exc:
        raise SourceError(f"music21:{query}: {exc}") from None
    for piece in pieces:
        yield Item(f"music21:{piece}", piece, music21=piece, group=f"music21/{piece_group(piece)}")
