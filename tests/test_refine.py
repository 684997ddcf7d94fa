"""Codes refined by the decoder (nesinterp.refine): a few Adam steps on each code bring the bundled
model's reconstructions nearer the music, window by window independently, without touching the model;
the model's own step count (model.json) is the default everywhere, and 0 keeps the encoder's codes."""

from pathlib import Path

import numpy as np
import pytest
import torch

from nesinterp.io.readers import read_score
from nesinterp.windows import score_windows
from nesinterp.trained_model import TrainedModel
from nesinterp.metrics.music import pitch_accuracy_sounding
from nesinterp.refine import REFINE_LR, REFINE_STEPS, refine_codes, refinement_loss

EXAMPLES = Path(__file__).resolve().parents[1] / "nesinterp" / "examples"


@pytest.fixture(scope="module")
def model():
    return TrainedModel.load()


@pytest.fixture(scope="module")
def windows():
    return np.concatenate([score_windows(read_score(p), 128) for p in sorted(EXAMPLES.glob("*.mid"))])


def test_refined_codes_reconstruct_the_windows_better(model, windows):
    rep, ae = model.representation, model.autoencoder
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    w = torch.from_numpy(windows)
    encoded = model.encode(windows, refine=0)
    refined = model.encode(windows, refine=20)
    assert refined.shape == encoded.shape and not torch.equal(refined, encoded)
    with torch.no_grad():
        loss = [refinement_loss(rep, ae.decode(z), rep.targets(w)) for z in (encoded, refined)]
    assert (loss[1] < loss[0]).all(), loss  # every window
    pitch = [np.nanmean(pitch_accuracy_sounding(model.decode_windows(z), windows)) for z in (encoded, refined)]
    assert pitch[1] > pitch[0] + 0.02, pitch
    assert all(torch.equal(before[k], v) for k, v in ae.state_dict().items())  # the model is not changed
    assert all(p.grad is None for p in ae.parameters())


def test_windows_are_refined_independently(model, windows):
    rep, ae = model.representation, model.autoencoder
    w = torch.from_numpy(windows[:3])
    codes = model.encode(windows[:3], refine=0)
    together = refine_codes(ae.decode, rep, codes, w, steps=5)
    alone = torch.cat([refine_codes(ae.decode, rep, codes[i:i + 1], w[i:i + 1], steps=5) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.equal(refine_codes(ae.decode, rep, codes, w, steps=0), codes)


def test_the_models_own_step_count_is_the_default(model, windows, tmp_path):
    steps = model.meta["decoding"]["refine_steps"]  # what the bundled model's decoding was calibrated for
    assert steps == REFINE_STEPS and model.refine_steps == steps and model.describe()["refine_steps"] == steps
    assert torch.equal(model.encode(windows[:2]), model.encode(windows[:2], refine=steps))
    with torch.no_grad():
        plain = model.autoencoder.encode(model._inputs(windows[:2]))
    assert torch.equal(model.encode(windows[:2], refine=0), plain)
    model.refine_steps = 0  # as a model.json without refine_steps (what training writes) loads
    try:
        assert torch.equal(model.encode(windows[:2]), plain)
    finally:
        model.refine_steps = steps


def test_the_step_size_the_decoding_was_calibrated_for_is_used(model, windows):
    lr = model.meta["decoding"]["refine_lr"]  # recorded beside refine_steps by nesinterp calibrate --write
    assert lr == REFINE_LR and model.refine_lr == lr and model.describe()["refine_lr"] == lr
    rep, decode = model.representation, model.refinement_decoder()
    codes, w = model.encode(windows[:2], refine=0), torch.from_numpy(windows[:2])
    assert torch.equal(model.encode(windows[:2], refine=3), refine_codes(decode, rep, codes, w, 3, lr))
    model.refine_lr = lr / 4  # as a model calibrated for smaller steps loads
    try:
        assert torch.equal(model.encode(windows[:2], refine=3), refine_codes(decode, rep, codes, w, 3, lr / 4))
        assert not torch.equal(model.encode(windows[:2], refine=3), refine_codes(decode, rep, codes, w, 3, lr))
    finally:
        model.refine_lr = lr


def test_whole_songs_are_refined_as_one_sequence(model):
    song = read_score(EXAMPLES / "overworld.mid")
    windows = score_windows(song, 128)
    joined = model.encode_joined(windows, refine=0)
    refined = model.encode_joined(windows, refine=5)
    assert refined.shape == joined.shape == (len(windows), model.latent_dim) and not torch.equal(refined, joined)
    channels, positions = model.autoencoder.latent_shape
    sequence = torch.from_numpy(windows.reshape(1, -1, 4, 3))
    rep = model.representation

    def loss(codes):  # of the song decoded as one sequence, as decode_joined lays the codes out
        z = codes.reshape(1, len(windows), channels, positions).permute(0, 2, 1, 3).reshape(1, channels, -1)
        with torch.no_grad():
            return float(refinement_loss(rep, model.autoencoder.decoder.decode_map(z), rep.targets(sequence)))

    assert loss(refined) < loss(joined)
    assert model.reconstruct(song).frames == song.frames


def test_the_expression_objective_sees_only_volume_and_timbre(model, windows):
    rep = model.representation
    targets = rep.targets(torch.from_numpy(windows[:2]))
    with torch.no_grad():
        logits = model.autoencoder.decode(model.encode(windows[:2], refine=0))
    first = logits.shape[1] - sum(h.shape[1] for name in ("velocity", "timbre") for h in rep.split_logits(logits)[name])
    changed = logits.clone()
    changed[:, :first] = torch.randn_like(changed[:, :first])  # other notes and onsets
    assert torch.equal(refinement_loss(rep, logits, targets, "expression"),
                       refinement_loss(rep, changed, targets, "expression"))
    assert not torch.equal(refinement_loss(rep, logits, targets), refinement_loss(rep, changed, targets))
    spliced = rep.with_expression(logits, changed)
    assert torch.equal(spliced[:, :first], logits[:, :first]) and torch.equal(spliced[:, first:], changed[:, first:])


@pytest.mark.parametrize("joined", [False, True])
def test_expression_codes_keep_the_notes_and_get_the_volumes_nearer(model, windows, joined):
    """A model with expression codes reads the volumes and duties from a second code per window refined
    for them alone: the notes and onsets are those of the plain decoding, the volumes and duties nearer
    the music's. At the model's own refinement (40 steps; at 10 the bundled model's expression codes
    have not yet moved the volumes on this song)."""
    from nesinterp.metrics.music import volume_error

    steps = model.refine_steps

    song = read_score(EXAMPLES / "overworld.mid")
    music = song if joined else windows
    was = model.expression_codes
    try:
        model.expression_codes = False
        plain = model.reconstruct(music, refine=steps)
        model.expression_codes = True
        codes, expression = model._codes(model.windows_of(music), steps, joined)
        assert expression.shape == codes.shape and not torch.equal(expression, codes)
        assert torch.equal(codes, model.encode_joined(model.windows_of(music), steps) if joined
                           else model.encode(music, steps))  # the note codes are the plain ones
        both = model.reconstruct(music, refine=steps)
        assert model._codes(model.windows_of(music), 0, joined)[1] is None  # not refined: one code
    finally:
        model.expression_codes = was
    both, plain = (np.asarray(x.array) if joined else x for x in (both, plain))
    real = np.asarray(song.array) if joined else windows
    assert np.array_equal(both[..., 0], plain[..., 0])  # the same notes
    assert np.nanmean(volume_error(both, real)) < np.nanmean(volume_error(plain, real)) - 0.3
    duty = lambda x: ((x[..., :2, 2] == real[..., :2, 2]) & (real[..., :2, 0] > 0)).sum()  # noqa: E731
    assert duty(both) > duty(plain)


def test_blend_records_the_refinement_it_used(tmp_path, cli):
    a, b = EXAMPLES / "overworld.mid", EXAMPLES / "dungeon.mid"
    r = cli("blend", a, b, "-o", tmp_path / "off", "--steps", "2", "--refine", "0", "--no-wav", "--no-html", "--no-plot", "-q")
    assert r.returncode == 0, r.stderr
    import json

    assert json.loads((tmp_path / "off" / "blend.json").read_text())["refine_steps"] == 0
