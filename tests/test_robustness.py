"""Hostile and broken inputs: every reader either returns a valid Score or raises its one-line error,
quickly and within bounded memory; archives are never extracted; paths with spaces and unicode work.

The property tests here are the suite's short fuzz run; ``scripts/fuzz.py`` runs the same mutations
for as long as asked and reports counts (docs/robustness.md).
"""

import io
import os
import pickle
import struct
import tarfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nesinterp.io.midi_file import MidiLimits, parse_midi
from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes
from nesinterp.io.pickles import score_to_pickle_bytes
from nesinterp.io.readers import ReadError, score_from_bytes
from data_prep.sources import Item, Skip, SourceError, expand_sources
from nesinterp.examples import compose_dungeon, compose_overworld
from nesinterp.score import Score

from .fuzzing import mutate, seed_midis, seed_pickles

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def read_or_refuse(data: bytes, filename: str):
    """The contract: a valid Score, or ReadError. Anything else fails the test."""
    try:
        score = score_from_bytes(data, filename, max_seconds=600)
    except ReadError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    assert isinstance(score, Score)
    return score


@FUZZ
@given(st.data())
def test_mutated_midi_is_read_or_refused(data):
    seeds = seed_midis()
    seed = data.draw(st.sampled_from(seeds))
    read_or_refuse(mutate(seed, data.draw(st.integers(0, 2**32 - 1))), "fuzz.mid")


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_after_a_midi_header_are_read_or_refused(tail):
    read_or_refuse(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x00\x60" + tail, "fuzz.mid")
    read_or_refuse(tail, "fuzz.mid")


@FUZZ
@given(st.data())
def test_mutated_score_pickles_are_read_or_refused_and_never_run_code(data):
    ran = []
    seed = data.draw(st.sampled_from(seed_pickles()))
    with mock.patch.object(os, "system", lambda *a: ran.append(a) or 0):
        read_or_refuse(mutate(seed, data.draw(st.integers(0, 2**32 - 1))), "fuzz.exprsco.pkl")
    assert not ran


def tar_bytes(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE or kind == tarfile.LNKTYPE:
                info.linkname = "/etc/passwd"
            if kind == tarfile.REGTYPE:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                tf.addfile(info)
    return buf.getvalue()


member_names = st.sampled_from(["a.mid", "../up.mid", "/abs/x.exprsco.pkl", "train/001_G_00_01x.mid",
                                "valid/ü ñ space.mid", "deep/" * 20 + "z.mid", "nested.tar.gz", "x.txt", ""])
member_kinds = st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE,
                                tarfile.FIFOTYPE, tarfile.CHRTYPE])


@settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(member_names, member_kinds, st.sampled_from([b"", b"junk", b"MThd"])), max_size=6),
       st.integers(0, 2**32 - 1), st.booleans())
def test_archives_are_streamed_never_extracted(tmp_path_factory, members, seed, corrupt):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    data = tar_bytes(members)
    if corrupt:
        data = mutate(data, seed)
    archive = tmp_path / "fuzz.tar.gz"
    archive.write_bytes(data)
    before = sorted(p.name for p in tmp_path.iterdir())
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        try:
            found = list(expand_sources([str(archive)]))
        except SourceError as exc:
            assert str(exc).startswith(str(archive)) and "\n" not in str(exc)
            found = []
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written anywhere near
    assert not os.path.exists("/abs") and not (tmp_path.parent / "up.mid").exists()
    for x in found:
        assert isinstance(x, (Item, Skip))
        if isinstance(x, Item):
            assert x.data is not None and x.path is None  # members are bytes, never paths


# --- named hostile MIDI cases ------------------------------------------------------------------------

def smf(tracks: list[bytes], division: int = 96, fmt: int = 1) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division) + b"".join(
        b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"


@pytest.mark.parametrize("case, data, outcome", [
    ("tempo of 1 us per beat", smf([b"\x00\xff\x51\x03\x00\x00\x01" + NOTE]), "score"),
    ("tempo of 16.7 s per beat", smf([b"\x00\xff\x51\x03\xff\xff\xff" + NOTE + b"\x00\xff\x2f\x00"]), "score"),
    ("delta time near 2^28", smf([b"\x00\x90\x3c\x40\xff\xff\xff\x7f\x80\x3c\x00"]), "over the limit"),
    ("zero-length notes", smf([b"\x00\x90\x3c\x40\x00\x80\x3c\x00\x00\x90\x40\x40\x10\x80\x40\x00"]), "score"),
    ("notes without note-offs", smf([b"\x00\x90\x3c\x40\x10\x90\x40\x40\x10\x90\x43\x40\x30\xff\x2f\x00"]), "score"),
    ("running status across tracks", smf([NOTE, b"\x10\x3e\x40\x10\x3e\x00"]), "running status unset"),
    ("SMPTE division", smf([NOTE], division=0xE728), "score"),
    ("format 2", smf([NOTE, NOTE], fmt=2), "score"),
    ("no notes", smf([b"\x00\xff\x2f\x00"]), "no notes"),
    ("only drums", smf([b"\x00\x99\x24\x64\x08\x89\x24\x00"]), "score"),
])
def test_named_hostile_midi_cases(case, data, outcome):
    if outcome == "score":
        assert isinstance(read_or_refuse(data, "x.mid"), Score), case
    else:
        with pytest.raises(ReadError, match=outcome):
            score_from_bytes(data, "x.mid", max_seconds=600)


def test_millions_of_events_stay_bounded():
    body = b"\x00\x90\x3c\x40" + b"\x00\x3c\x00\x00\x3c\x40" * 60_000 + b"\x00\xff\x2f\x00"
    with pytest.raises(Exception, match="too many events"):
        parse_midi(smf([body]), MidiLimits(max_events=100_000))
    assert isinstance(read_or_refuse(smf([body]), "x.mid"), Score)  # 120k events, one frame: fine


def test_a_tiny_file_cannot_ask_for_gigabytes():
    """A NES-MDB-looking file whose end marker, at 1 tick per beat and 16.7 s per beat, lies 70 years out."""
    conductor = b"\x00\xff\x51\x03\xff\xff\xff\x00\xff\x58\x04\x04\x02\x18\x08\x80\x80\x80\x40\xff\x58\x04\x01\x00\x18\x08"
    p1 = b"\x00\xff\x03\x02p1\x00\x90\x3c\x05\x0a\x90\x3c\x00"
    data = smf([conductor, p1], division=1)
    assert len(data) < 100
    with pytest.raises(ReadError, match="over the limit of 600 s"):
        score_from_bytes(data, "x.mid", max_seconds=600)


def test_length_limit_is_overridable(monkeypatch):
    long = Score.empty(24 * 700).array.copy()
    long[:, 0] = (60, 8, 2)
    data = nesmdb_midi_bytes(Score(long))
    with pytest.raises(ReadError, match="over the limit of 600 s"):
        score_from_bytes(data, "x.mid", max_seconds=600)
    monkeypatch.setenv("NESINTERP_MAX_SECONDS", "650")
    with pytest.raises(ReadError, match="over the limit of 650 s"):
        score_from_bytes(data, "x.mid")
    monkeypatch.setenv("NESINTERP_MAX_SECONDS", "800")
    assert score_from_bytes(data, "x.mid").frames == 24 * 700


def test_pickle_with_a_huge_declared_shape_is_refused_without_allocating():
    good = pickle.dumps((24.0, 1837, np.zeros((1, 4, 3), np.uint8)), protocol=0)
    evil = good.replace(b"I1\nI4\nI3\n", b"I100000000000\nI4\nI3\n")
    assert evil != good
    with pytest.raises(ReadError):
        score_from_bytes(evil, "x.exprsco.pkl")


# --- paths --------------------------------------------------------------------------------------------

def test_names_with_spaces_and_unicode_through_every_command(tmp_path, cli):
    folder = tmp_path / "mes chansons ♪"
    folder.mkdir()
    a, b = folder / "été à la plage.mid", folder / "donjon sombre.exprsco.pkl"
    a.write_bytes(nesmdb_midi_bytes(compose_overworld()))
    b.write_bytes(score_to_pickle_bytes(compose_dungeon()))
    out = tmp_path / "sortie ✓"
    r = cli("prep", folder, "-o", out / "données")
    assert r.returncode == 0, r.stderr
    r = cli("render", a, b, "-o", out)
    assert r.returncode == 0, r.stderr
    assert (out / "été à la plage.wav").exists() and (out / "donjon sombre.wav").exists()
    r = cli("blend", a, b, "--steps", "2", "-o", out / "mélange", "--no-wav", "--no-plot")
    assert r.returncode == 0, r.stderr
    assert (out / "mélange" / "step-01-of-02.mid").exists()


@pytest.mark.parametrize("command", ["prep", "render", "blend"])
def test_unwritable_places_give_one_line(command, tmp_path, cli):
    song = tmp_path / "a.mid"
    song.write_bytes(nesmdb_midi_bytes(compose_overworld()))
    target = "/proc/nesinterp-cannot-write-here/out"  # unwritable even for root
    args = {"prep": ["prep", song, "-o", target], "render": ["render", song, "-o", target],
            "blend": ["blend", song, song, "-o", target, "--steps", "2"]}[command]
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_huge_pickle_memo_index_is_refused_before_unpickling():
    """Found by fuzzing: one damaged PUT became LONG_BINPUT 671757361, and CPython's unpickler sized its
    memo table to it (gigabytes, tens of seconds). The opcode scan refuses it first."""
    good = score_to_pickle_bytes(compose_overworld()[:24])
    evil = good.replace(b"Rp14\n", b"Rr14\n(", 1)
    assert evil != good
    with pytest.raises(ReadError, match="memo index"):
        score_from_bytes(evil, "x.exprsco.pkl")


def test_damaged_gzip_headers_are_a_clear_archive_error(tmp_path):
    """Found by fuzzing: tarfile's stream reader raises TypeError/OverflowError on damaged gzip headers."""
    good = tar_bytes([("a.mid", tarfile.REGTYPE, b"x")])
    for cut in (4, 10, 11, 12):
        archive = tmp_path / f"cut{cut}.tar.gz"
        archive.write_bytes(good[:cut] + b"\xff" * 2)
        with pytest.raises(SourceError, match="corrupt or truncated archive|not a readable tar archive"):
            list(expand_sources([str(archive)]))
