import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings

from nesinterp.io.pickles import (
    ScorePickleError, load_score_tuple, read_score_pickle, score_from_pickle_bytes,
    score_to_pickle_bytes, write_score_pickle,
)
from nesinterp.score import Score

from .conftest import read_archive_members
from .strategies import scores


def test_reads_every_real_exprsco_and_seprsco_pair(exprsco_archive, seprsco_archive):
    want = lambda n: "/valid/" in n  # noqa: E731
    expr = read_archive_members(exprsco_archive, want)
    sepr = read_archive_members(seprsco_archive, want)
    assert len(expr) == len(sepr) == 403
    for name, data in expr.items():
        e = score_from_pickle_bytes(data)
        s = score_from_pickle_bytes(sepr[name.replace("exprsco", "seprsco")])
        assert e.frames == s.frames
        assert np.array_equal(e.notes, s.notes)  # seprsco == exprsco[:, :, 0]
        rate, nsamps, _ = load_score_tuple(data)
        assert rate == 24.0 and int(nsamps / 44100 * 24) == e.frames


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_pickle_that_runs_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps((24.0, 100, RunsCode()), protocol=0)
    with pytest.raises(ScorePickleError, match=r"refused: the pickle asks for (posix|os)\.system"):
        score_from_pickle_bytes(evil)
    assert not (tmp_path / "pwned-by-pickle").exists()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(ScorePickleError, match="refused"):
            score_from_pickle_bytes(pickle.dumps(RunsCode(), protocol=protocol))
    assert not (tmp_path / "pwned-by-pickle").exists()


def test_object_arrays_are_refused():
    # An object array would unpickle arbitrary contents; the reader never builds one.
    data = pickle.dumps((24.0, 100, np.array([1, "x"], dtype=object)), protocol=2)
    with pytest.raises(ScorePickleError):
        score_from_pickle_bytes(data)


@pytest.mark.parametrize("payload, message", [
    ((24.0, 1837, np.zeros((1, 4, 3), np.int32)), "dtype"),
    ((24.0, 1837, np.zeros((1, 5, 3), np.uint8)), "shape"),
    ((24.0, 1837, np.zeros((1, 4, 3, 1), np.uint8)), "neither exprsco"),
    ((44100.0, 1837, np.zeros((1, 4, 3), np.uint8)), "24 Hz"),
    ((24.0, 1837, np.full((1, 4, 3), 200, np.uint8)), "outside"),
    ((24.0, -5, np.zeros((1, 4, 3), np.uint8)), "nsamps"),
    ((24.0, 1837), "tuple"),
    ([1, 2, 3], "LIST"),
])
def test_wrong_contents_give_clear_errors(payload, message):
    with pytest.raises(ScorePickleError, match=message):
        score_from_pickle_bytes(pickle.dumps(payload, protocol=0))


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"not a pickle at all", "pickle"),
    (pickle.dumps((24.0, 1837, np.zeros((1, 4, 3), np.uint8)), protocol=0)[:-20], "pickle"),
])
def test_corrupt_bytes_give_clear_errors(data, message):
    with pytest.raises(ScorePickleError, match=message):
        score_from_pickle_bytes(data)


@settings(max_examples=40, deadline=None)
@given(scores())
def test_exprsco_round_trip(score):
    back = score_from_pickle_bytes(score_to_pickle_bytes(score))
    assert back.same_music(score)


@settings(max_examples=20, deadline=None)
@given(scores())
def test_seprsco_round_trip_keeps_notes(score):
    back = score_from_pickle_bytes(score_to_pickle_bytes(score, "seprsco"))
    assert np.array_equal(back.notes, score.notes)


def test_written_pickle_reads_like_nesmdb_with_plain_pickle(tmp_path):
    a = np.zeros((30, 4, 3), np.uint8)
    a[:, 0] = (60, 9, 1)
    path = tmp_path / "x.exprsco.pkl"
    write_score_pickle(Score(a), path)
    rate, nsamps, array = pickle.loads(path.read_bytes(), encoding="latin1")
    assert rate == 24.0 and int(nsamps / 44100 * 24) == 30 and np.array_equal(array, a)
    assert read_score_pickle(path).name == "x"


@pytest.mark.parametrize("content, said", [(b"hello\n", "'hello'"), (b"MThd\x00\x00\x00\x06", "MIDI file"),
                                           (b"\x1f\x8b\x08\x00", "gzip")])
def test_a_file_that_is_no_pickle_says_what_it_is_not(tmp_path, cli, content, said):
    path = tmp_path / "x.exprsco.pkl"
    path.write_bytes(content)
    r = cli("render", path, "-o", tmp_path / "x.wav")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "not a score pickle" in r.stderr and said in r.stderr and "opcode" not in r.stderr
