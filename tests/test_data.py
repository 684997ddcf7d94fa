import numpy as np
import pytest
import torch

from nesinterp.representation import NOTE_CHANNELS, VOICE_CLASSES, Representation
from nesinterp.train.batches import ResidentSplit, transpose
from nesinterp.windows import score_windows
from nesinterp.examples import compose_dungeon, compose_overworld
from nesinterp.score import NOTE_RANGE, Score, Voice


def windows_of(*scores, window=64):
    return torch.from_numpy(np.stack([np.asarray(s.array[:window]) for s in scores]))


def test_classes_and_one_hot_round_trip_notes():
    assert VOICE_CLASSES == (77, 77, 89, 17) and NOTE_CHANNELS == 260
    rep = Representation(window=64)
    w = windows_of(compose_overworld(), compose_dungeon())
    t = rep.targets(w)
    x = rep.one_hot(t)
    assert x.shape == (2, 260, 64) and torch.all(x.sum(1) == 4)  # one class per voice per frame
    logits = x * 10  # a decoder that is sure of the input
    decoded = rep.decode(logits)
    assert np.array_equal(decoded[..., 0], w.numpy()[..., 0])
    for s in rep.scores(logits):
        assert isinstance(s, Score)


def test_expressive_heads_round_trip_velocity_and_timbre():
    rep = Representation(window=64, expressive=True)
    w = windows_of(compose_overworld(), compose_dungeon())
    x = rep.one_hot(rep.targets(w))
    assert x.shape[1] == rep.channels == 260 + 48 + 4 + 4 + 1 + 2
    assert np.array_equal(rep.decode(x * 10), w.numpy())


def test_probabilities_sum_to_one_per_head():
    rep = Representation(window=16)
    p = rep.probabilities(torch.randn(3, rep.channels, 16))
    sums = torch.stack([h.sum(1) for h in torch.split(p, list(VOICE_CLASSES), dim=1)])
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


def test_sampling_decode_is_seeded():
    rep = Representation(window=16)
    logits = torch.randn(2, rep.channels, 16)
    a = rep.decode(logits, temperature=1.0, generator=torch.Generator().manual_seed(1))
    b = rep.decode(logits, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, rep.decode(logits))


def test_resident_windows_never_cross_songs():
    a = np.zeros((100, 4, 3), np.uint8)
    a[:, 0, 0] = 60
    b = np.zeros((40, 4, 3), np.uint8)
    b[:, 0, 0] = 70
    c = np.zeros((10, 4, 3), np.uint8)  # shorter than a window: not used
    scores = np.concatenate([a, b, c])
    offsets = np.array([0, 100, 140, 150])
    split = ResidentSplit(scores, offsets, window=32)
    assert split.positions == (100 - 32 + 1) + (40 - 32 + 1) and split.songs_skipped == 1
    w = split.sample(4000, torch.Generator().manual_seed(0))
    first = w[:, :, 0, 0]
    assert torch.all(first == first[:, :1])  # each window is from one song
    share_b = (first[:, 0] == 70).float().mean().item()
    assert share_b == pytest.approx(9 / 78, abs=0.03)  # uniform over window positions
    with pytest.raises(ValueError, match="at least"):
        ResidentSplit(c, np.array([0, 10]), window=32)


def test_transpose_keeps_every_note_in_range():
    g = torch.Generator().manual_seed(0)
    a = np.zeros((8, 16, 4, 3), np.uint8)
    a[:, :, Voice.P1, 0] = 106  # near the top: only down shifts fit
    a[:, :, Voice.TR, 0] = 40
    a[:, :8, Voice.NO, 0] = 5
    w = torch.from_numpy(a)
    out = transpose(w, 6, g)
    p1 = out[:, :, Voice.P1, 0].long()
    assert torch.all(p1 <= NOTE_RANGE[Voice.P1][1]) and torch.all(p1 >= 100)
    assert torch.all(out[:, :, Voice.NO] == w[:, :, Voice.NO])  # noise is not pitched
    shift = p1[:, 0] - 106
    assert torch.all(out[:, :, Voice.TR, 0].long() - 40 == shift[:, None])  # one interval per window
    assert len(set(shift.tolist())) > 1
    assert torch.equal(transpose(w, 0, g), w)


def test_score_windows_cover_a_song():
    s = compose_dungeon()
    w = score_windows(s, 128)
    assert w.shape == (3, 128, 4, 3) and np.array_equal(w.reshape(-1, 4, 3), np.asarray(s.array))
    short = score_windows(s[:100], 128)
    assert short.shape == (1, 128, 4, 3) and not short[0, 100:, :, 0].any()
