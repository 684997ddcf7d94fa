"""Realism (nesinterp.metrics.realism, evaluation.md section 3): window features of a hand-built window,
the reference's JSON round trip, hand-computed overlaps and typicalities on a small reference, and the
properties the metric promises on real NES-MDB data (held-out real windows high; silence, one constant
note and random notes low; the data-space crossfade's middle in between)."""

import json
from pathlib import Path

import numpy as np
import pytest

from nesinterp.metrics import always_rest, constant_note, crossfade_path, hold_every, onset_f1, random_notes
from nesinterp.metrics.realism import (
    APPLIES, FEATURES, VOICES, RealismReference, geometric_mean, note_events, realism, typicality,
    window_features,
)

from .conftest import read_archive_members

P1, P2, TR, NO = range(4)
F = {name: i for i, name in enumerate(FEATURES)}


# --- window features ----------------------------------------------------------------------------------

def known_window() -> np.ndarray:
    """24 frames (1 s at 24 Hz).
    P1: 60 for 6 frames (volume 10 8 6 9 8 7: a re-attack at 3), 64 for 6 (flat 12), 4 frames rest, 72 for 8
        (a swell 5 6 7 8 8 8 8 8 after the rest: one onset): onsets 0 3 6 16, one re-attack, 20 frames sounding.
    P2: silent.  TR: 45 for 12 frames, 52 for 12 (velocity 0).
    NO: index 3 throughout, volume 15 10 5 2 repeated: an onset and five re-attacks."""
    w = np.zeros((24, 4, 3), np.uint8)
    w[0:6, P1, 0], w[0:6, P1, 1] = 60, [10, 8, 6, 9, 8, 7]
    w[6:12, P1, 0], w[6:12, P1, 1] = 64, 12
    w[16:24, P1, 0], w[16:24, P1, 1] = 72, [5, 6, 7, 8, 8, 8, 8, 8]
    w[:, P1, 2] = 2
    w[:12, TR, 0], w[12:, TR, 0] = 45, 52
    w[:, NO, 0], w[:, NO, 1] = 3, np.tile([15, 10, 5, 2], 6)
    return w


def test_window_features_of_a_known_window():
    w = known_window()
    on, re = note_events(w)
    assert np.nonzero(on[:, P1])[0].tolist() == [0, 3, 6, 16] and np.nonzero(re[:, P1])[0].tolist() == [3]
    feats = window_features(w)
    assert feats.shape == (4, len(FEATURES))
    p1, p2, tr, no = feats

    entropy_p1 = -(0.7 * np.log2(0.7) + 0.3 * np.log2(0.3))  # pitch class C 14 frames (60, 72), E 6 (64)
    expected_p1 = {
        "onset_rate": 4.0, "sounding_share": 20 / 24, "pitch_mean": (6 * 60 + 6 * 64 + 8 * 72) / 20,
        "pitch_range": 12.0, "note_length": 20 / 4 / 24, "reattack_rate": 1.0, "volume_mean": (48 + 72 + 58) / 20,
        # |volume change| over the 17 pairs of frames of one held pitch: 2 2 3 1 1 (60), 0 x5 (64), 1 1 1 0 0 0 0 (72)
        "volume_change": 12 / 17, "pitch_class_entropy": entropy_p1,
    }
    for name, value in expected_p1.items():
        assert p1[F[name]] == pytest.approx(value), name

    # a silent voice: no onsets and no sound; everything else is undefined
    assert p2[F["onset_rate"]] == 0 and p2[F["sounding_share"]] == 0 and p2[F["reattack_rate"]] == 0
    undefined = ["pitch_mean", "pitch_range", "note_length", "volume_mean", "volume_change", "pitch_class_entropy"]
    assert np.isnan(p2[[F[n] for n in undefined]]).all()

    expected_tr = {"onset_rate": 2.0, "sounding_share": 1.0, "pitch_mean": 48.5, "pitch_range": 7.0,
                   "note_length": 0.5, "pitch_class_entropy": 1.0}  # pitch classes A (45) and E (52), equal
    for name, value in expected_tr.items():
        assert tr[F[name]] == pytest.approx(value), name
    # the triangle has no volume: no re-attacks, no envelope (NaN: the features do not apply)
    assert np.isnan(tr[[F["reattack_rate"], F["volume_mean"], F["volume_change"]]]).all()

    expected_no = {"onset_rate": 6.0, "sounding_share": 1.0, "pitch_mean": 3.0, "pitch_range": 0.0,
                   "note_length": 24 / 6 / 24, "reattack_rate": 5.0, "volume_mean": 8.0,
                   # 23 held pairs: 5 5 3 within each group of four (x6), 13 between groups (x5)
                   "volume_change": (6 * 13 + 5 * 13) / 23}
    for name, value in expected_no.items():
        assert no[F[name]] == pytest.approx(value), name
    assert np.isnan(no[F["pitch_class_entropy"]])  # noise has no pitch class

    # NaN exactly where the features do not apply or are undefined
    assert (np.isnan(feats) == (~APPLIES | (np.arange(4)[:, None] == P2) & np.isin(FEATURES, undefined))).all()


def test_window_features_of_stacks_and_rates():
    w = known_window()
    stack = window_features(np.stack([w, np.zeros_like(w), w]))
    assert stack.shape == (3, 4, len(FEATURES))
    np.testing.assert_array_equal(stack[0], window_features(w))
    np.testing.assert_array_equal(stack[2], window_features(w))
    assert (stack[1][:, F["onset_rate"]] == 0).all() and np.isnan(stack[1][:, F["pitch_mean"]]).all()
    # rates are per second: the same window read at 12 frames per second has half the rate, twice the length
    slow = window_features(w, fps=12)
    assert slow[P1, F["onset_rate"]] == pytest.approx(2.0) and slow[P1, F["note_length"]] == pytest.approx(20 / 4 / 12)
    with pytest.raises(ValueError):
        window_features(w[..., 0])  # notes alone: no volumes
    with pytest.raises(ValueError):
        window_features(w[:0])


# --- a small reference with hand-computed bins --------------------------------------------------------

def onsets_window(k: int, frames: int = 24) -> np.ndarray:
    """P1 with exactly k onsets (a new note on each of the first k frames, the last held), the rest silent."""
    w = np.zeros((frames, 4, 3), np.uint8)
    w[:, P1, 0] = np.where(np.arange(frames) < k, 60 + np.arange(frames) % 2, 60 + (k - 1) % 2)
    w[:, P1, 1] = 8
    return w


def counted_reference() -> RealismReference:
    """P1 onset rates 1, 2, ..., 10 per second: ten bins of 10 % (edges 1.9, 2.8, ..., 9.1)."""
    return RealismReference.from_windows(np.stack([onsets_window(k) for k in range(1, 11)]))


def test_reference_bins_overlap_and_typicality_by_hand():
    ref = counted_reference()
    assert ref.windows == 10 and ref.frames == 24
    j = F["onset_rate"]
    np.testing.assert_allclose(ref.edges[P1][j], np.arange(1.9, 9.2, 0.9))
    np.testing.assert_allclose(ref.masses[P1][j], np.full(10, 0.1))
    assert ref.undefined[P1, j] == 0 and ref.undefined[P2, F["pitch_mean"]] == 1  # P2 never sounds
    for v in range(4):  # masses and undefined share sum to 1 per pair that applies
        for f in range(len(FEATURES)):
            if APPLIES[v, f]:
                assert ref.masses[v][f].sum() + ref.undefined[v, f] == pytest.approx(1.0)

    # typicality 2 min(c, 1 - c) of the mid-rank c of the value's bin
    feats = window_features(np.stack([onsets_window(k) for k in (1, 5, 6, 10)]))
    _, each = ref.typicality_of(feats)
    assert each[:, P1, j] == pytest.approx([0.1, 0.9, 0.9, 0.1])
    # an undefined value: the reference's share of undefined values (P2's pitch: always undefined)
    assert (each[:, P2, F["pitch_mean"]] == 1.0).all()
    assert np.isnan(each[:, TR, F["reattack_rate"]]).all() and np.isnan(each[:, NO, F["pitch_class_entropy"]]).all()

    # overlapping area: the set has values 1, 1, 5, 10 -> bins 0, 0, 4, 9 with 0.5, 0.25, 0.25 each
    overlap = ref.overlap_of(window_features(np.stack([onsets_window(k) for k in (1, 1, 5, 10)])))
    assert overlap.shape == (4, len(FEATURES))
    assert overlap[P1, j] == pytest.approx(0.1 + 0.1 + 0.1)
    assert np.isnan(overlap[~APPLIES]).all()
    assert ref.overlap_of(np.zeros((0, 4, len(FEATURES)))).shape == (4, len(FEATURES))


def test_silent_set_overlaps_by_the_reference_share_of_silence():
    ref = counted_reference()
    silent = np.zeros((5, 24, 4, 3), np.uint8)
    result = realism(silent, ref)
    # P1 always sounds in the reference: its pitch is never undefined there, so no overlap at all
    assert result["features"]["P1"]["pitch_mean"] == 0.0
    # P2 never sounds in the reference: silence there is exactly right
    assert result["features"]["P2"]["pitch_mean"] == 1.0 and result["voices"]["P2"] == 1.0
    assert result["voices"]["P1"] < 0.1 and result["score"] < 1.0


# --- realism of sets ----------------------------------------------------------------------------------

def varied_windows(n: int, frames: int = 32, seed: int = 0) -> np.ndarray:
    """Windows of notes of random length (1..8 frames), pitch, volume envelope and rests, every voice."""
    rng = np.random.default_rng(seed)
    ranges = {P1: (48, 84), P2: (48, 84), TR: (33, 60), NO: (1, 16)}
    w = np.zeros((n, frames, 4, 3), np.uint8)
    for i in range(n):
        for v, (lo, hi) in ranges.items():
            start = 0
            while start < frames:
                length = int(rng.integers(1, 9))
                note = 0 if rng.random() < 0.25 else int(rng.integers(lo, hi + 1))
                w[i, start:start + length, v, 0] = note
                if v != TR and note > 0:
                    top = int(rng.integers(4, 16))
                    decay = np.arange(min(length, frames - start)) * int(rng.integers(0, 3))
                    w[i, start:start + length, v, 1] = np.maximum(1, top - decay)
                start += length
    return w


def test_realism_of_an_empty_set_is_none_with_a_reason():
    ref = RealismReference.from_windows(varied_windows(50))
    result = realism(np.zeros((0, 32, 4, 3), np.uint8), ref)
    assert result["score"] is None and result["reason"] and result["windows"] == 0
    json.dumps(result, allow_nan=False)
    with pytest.raises(ValueError):
        RealismReference.from_windows(np.zeros((0, 32, 4, 3), np.uint8))


def test_the_reference_set_itself_scores_one():
    windows = varied_windows(200)
    ref = RealismReference.from_windows(windows)
    result = realism(windows, ref)
    assert result["score"] == pytest.approx(1.0, abs=1e-4) and result["windows"] == 200
    assert all(v == pytest.approx(1.0, abs=1e-4) for v in result["voices"].values())
    assert set(result["features"]) == set(VOICES)
    assert all(len(result["features"][v]) == int(APPLIES[i].sum()) for i, v in enumerate(VOICES))
    json.dumps(result, allow_nan=False)
    # its windows' mean typicality is the one the reference stores
    mean, per_voice = typicality(windows, ref)
    assert mean.shape == (200,) and per_voice.shape == (200, 4)
    assert mean.mean() == pytest.approx(ref.typicality)
    assert 0.3 < ref.typicality < 0.7  # about 0.5 by construction
    # the geometric mean punishes one aspect entirely wrong
    assert geometric_mean([1.0, 1.0, 0.0]) == pytest.approx(1e-3 ** (1 / 3))
    assert np.isnan(geometric_mean([np.nan]))


# --- JSON round trip ----------------------------------------------------------------------------------

def round_trip(ref: RealismReference) -> RealismReference:
    return RealismReference.from_dict(json.loads(json.dumps(ref.to_dict(), allow_nan=False)))


def test_reference_json_round_trip_keeps_the_reference():
    ref = RealismReference.from_windows(varied_windows(200))
    d = ref.to_dict()
    assert set(d) == {"windows", "frames", "typicality", "features"}
    assert {v: set(d["features"][v]) for v in VOICES} == {
        v: {f for j, f in enumerate(FEATURES) if APPLIES[i, j]} for i, v in enumerate(VOICES)}
    back = round_trip(ref)
    assert (back.windows, back.frames) == (ref.windows, ref.frames)
    assert back.typicality == pytest.approx(ref.typicality, abs=1e-4)
    np.testing.assert_allclose(back.undefined[APPLIES], ref.undefined[APPLIES], atol=1e-6)
    for v in range(4):
        for f in range(len(FEATURES)):
            if APPLIES[v, f]:
                np.testing.assert_allclose(back.edges[v][f], ref.edges[v][f], atol=1e-5)
                np.testing.assert_allclose(back.masses[v][f], ref.masses[v][f], atol=1e-6)
    # a second round trip changes nothing
    again = round_trip(back)
    feats = window_features(varied_windows(100, seed=1))
    np.testing.assert_array_equal(again.overlap_of(feats), back.overlap_of(feats))
    np.testing.assert_array_equal(again.typicality_of(feats)[1], back.typicality_of(feats)[1])
    # values away from the bin edges land in the same bins after the round trip
    away = np.array([np.concatenate([[e[0] - 1], (e[:-1] + e[1:]) / 2, [e[-1] + 1]]) if len(e) else np.zeros(1)
                     for e in ref.edges[P1]], dtype=object)
    for f in range(len(FEATURES)):
        if APPLIES[P1, f] and len(ref.edges[P1][f]):
            probe = np.full((len(away[f]), 4, len(FEATURES)), np.nan)
            probe[:, P1, f] = away[f]
            np.testing.assert_allclose(back.typicality_of(probe)[1][:, P1, f], ref.typicality_of(probe)[1][:, P1, f],
                                       atol=1e-5)


def test_reference_json_round_trip_gives_the_same_scores():
    windows = varied_windows(200)
    ref = RealismReference.from_windows(windows)
    back = round_trip(ref)
    for feats in (window_features(windows), window_features(varied_windows(100, seed=1))):
        np.testing.assert_allclose(back.overlap_of(feats), ref.overlap_of(feats), atol=1e-5)
        np.testing.assert_allclose(back.typicality_of(feats)[1], ref.typicality_of(feats)[1], atol=1e-5)
        np.testing.assert_allclose(back.typicality_of(feats)[0], ref.typicality_of(feats)[0], atol=1e-5)


def test_from_dict_rejects_garbage():
    good = RealismReference.from_windows(varied_windows(50)).to_dict()

    def broken(edit):
        d = json.loads(json.dumps(good))
        edit(d)
        return d

    garbage = [
        {}, None, "reference", [], 3,
        broken(lambda d: d.pop("features")),
        broken(lambda d: d.pop("windows")),
        broken(lambda d: d.update(typicality=None)),
        broken(lambda d: d.update(frames="many")),
        broken(lambda d: d["features"].pop("NO")),
        broken(lambda d: d["features"]["P1"].pop("onset_rate")),
        broken(lambda d: d["features"].update(P2=[])),
        broken(lambda d: d["features"]["TR"]["pitch_mean"].pop("masses")),
        broken(lambda d: d["features"]["P1"]["note_length"].update(masses=[0.5])),        # wrong length
        broken(lambda d: d["features"]["P1"]["note_length"].update(edges=[2.0, 1.0, 3.0])),  # not increasing
        broken(lambda d: d["features"]["P1"]["note_length"].update(edges=[[1.0]])),
        broken(lambda d: d["features"]["NO"]["onset_rate"].update(edges="abc")),
        broken(lambda d: d["features"]["NO"]["onset_rate"].update(undefined="x")),
    ]
    for d in garbage:
        with pytest.raises(ValueError):
            RealismReference.from_dict(d)
    assert RealismReference.from_dict(good).windows == 50


# --- real data ----------------------------------------------------------------------------------------

WINDOW = 64           # as nesinterp.windows.score_windows cuts songs for the model
REFERENCE_LIMIT = 20000  # train windows in the reference, evenly spaced (as evaluate.music.corpus_windows)


@pytest.fixture(scope="module")
def real(exprsco_archive):
    """The realism reference of the archive's train split and the valid split's windows with their songs."""
    from nesinterp.io.pickles import score_from_pickle_bytes, song_name
    from nesinterp.windows import score_windows

    members = read_archive_members(exprsco_archive, lambda n: "/train/" in n or "/valid/" in n)

    def windows(split: str) -> tuple[np.ndarray, np.ndarray]:
        stacks, owners = [], []
        for i, name in enumerate(sorted(n for n in members if f"/{split}/" in n)):
            s = score_windows(score_from_pickle_bytes(members[name], song_name(Path(name).name), name), WINDOW)
            stacks.append(s)
            owners.append(np.full(len(s), i))
        if not stacks:
            pytest.skip(f"no {split} songs in {exprsco_archive}")
        return np.concatenate(stacks), np.concatenate(owners)

    train, _ = windows("train")
    valid, song = windows("valid")
    chosen = np.floor(np.linspace(0, len(train) - 1, min(len(train), REFERENCE_LIMIT))).astype(np.int64)
    return RealismReference.from_windows(train[chosen]), valid, song


def test_real_held_out_windows_score_high_and_baselines_low(real):
    ref, valid, _ = real
    score = realism(valid, ref)["score"]
    assert score >= 0.9  # measured 0.911
    for name, fake in [("always rest", always_rest(valid)), ("constant note", constant_note(valid)),
                       ("random notes", random_notes(valid, seed=0))]:
        assert realism(fake, ref)["score"] <= 0.3, name  # measured 0.129, 0.258, 0.170


def test_crossfade_middle_scores_below_real_windows(real):
    ref, valid, song = real
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(valid), size=(2, 3000))
    i, j = i[song[i] != song[j]][:1000], j[song[i] != song[j]][:1000]  # pairs from different songs
    path = crossfade_path(valid[i], valid[j], 8, rng)
    middle = realism(np.concatenate(path[1:7]), ref)["score"]
    real_score = realism(valid, ref)["score"]
    assert middle < real_score - 0.1  # measured 0.607 against 0.911


def test_real_windows_are_typical_and_silence_is_not(real):
    ref, valid, _ = real
    real_typicality = typicality(valid, ref)[0].mean()
    assert abs(real_typicality - ref.typicality) <= 0.05  # measured 0.498 against 0.489
    assert typicality(always_rest(valid), ref)[0].mean() < ref.typicality - 0.15  # measured 0.193


def test_hold_every_onset_f1_on_real_windows(real):
    _, valid, _ = real
    hold2 = onset_f1(hold_every(valid, 2), valid, 1)
    hold8 = onset_f1(hold_every(valid, 8), valid, 1)
    assert hold2.mean() >= 0.88  # measured .881 .881 .934 .877
    assert (hold8 < 0.5).all()   # measured .334 .333 .306 .330
    assert (hold2 > hold8 + 0.3).all()
