"""Onsets as a head of the networks: the torch onset rule equals the Score's, a perfect decoder output
gives back the windows exactly, ``articulate`` makes decoded notes start where the onset head says, the
balanced loss starts every head at 1, and training chooses onset thresholds on the valid split."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from data_prep.prep import PrepOptions, run_prep
from nesinterp.articulation import articulate, onset_flags
from nesinterp.representation import Representation
from nesinterp.score import Field, Voice, note_events

EXAMPLES = Path(__file__).resolve().parents[1] / "nesinterp" / "examples"


@pytest.fixture(scope="module")
def example_windows():
    """128-frame windows of the two bundled example songs (real NES-MDB songs, with their expression)."""
    from nesinterp.io.readers import read_score
    from nesinterp.windows import score_windows

    return np.concatenate([score_windows(read_score(p), 128) for p in sorted(EXAMPLES.glob("*.mid"))])


@pytest.fixture(scope="module")
def valid_windows(exprsco_valid):
    from nesinterp.windows import score_windows

    return np.concatenate([score_windows(s, 128) for s in list(exprsco_valid.values())[:60]])


def test_torch_onsets_equal_the_score_rule_on_real_songs(valid_windows):
    flags = onset_flags(torch.from_numpy(valid_windows)).permute(0, 2, 1).numpy()
    assert np.array_equal(flags, note_events(valid_windows)[0])
    assert flags.sum() > 1000


@pytest.mark.parametrize("expressive", [False, True])
def test_a_perfect_decoder_output_decodes_to_the_windows(example_windows, expressive):
    rep = Representation(128, expressive=expressive, onsets=True)
    assert rep.channels == 260 + 4 + (3 * 16 + 4 + 4 + 1 + 2 if expressive else 0)
    x = rep.one_hot(rep.targets(torch.from_numpy(example_windows)))
    logits = (x * 2 - 1) * 20  # onset flags as +-20 logits, one-hots as the argmax
    decoded = rep.decode(logits)
    if expressive:
        assert np.array_equal(decoded, example_windows)
    else:
        assert np.array_equal(decoded[..., Field.NOTE], example_windows[..., Field.NOTE])
        # constant volume, yet the re-attacks of the real songs are kept (the frame before is lowered)
        assert np.array_equal(note_events(decoded)[0], note_events(example_windows)[0])


def _held(frames=12, note=60, volume=10):
    a = np.zeros((1, frames, 4, 3), np.uint8)
    a[0, :, Voice.P1] = (note, volume, 2)
    a[0, :, Voice.TR, Field.NOTE] = 45
    a[0, :, Voice.NO, :2] = (5, volume)
    return a


def test_an_onset_on_a_held_note_becomes_a_reattack():
    a = _held()
    fire = note_events(a)[0].copy()
    fire[0, 6, [0, 2, 3]] = True  # the sounding voices: a new note at frame 6 on the same pitch
    out = articulate(a, fire)
    assert np.array_equal(note_events(out)[0], fire)
    assert out[0, 6, Voice.P1, Field.VELOCITY] == 10 and out[0, 5, Voice.P1, Field.VELOCITY] < 10
    assert out[0, 5, Voice.TR, Field.NOTE] == 0 and out[0, 6, Voice.TR, Field.NOTE] == 45  # a one-frame gap
    assert np.array_equal(out[..., Field.NOTE][:, :, [0, 1, 3]], a[..., Field.NOTE][:, :, [0, 1, 3]])


def test_quietest_notes_can_still_be_reattacked():
    a = _held(volume=1)
    fire = note_events(a)[0].copy()
    fire[0, 4, Voice.P1] = True
    out = articulate(a, fire)
    assert note_events(out)[0][0, 4, Voice.P1]


def test_a_volume_bump_the_onset_head_did_not_ask_for_is_flattened():
    a = _held()
    a[0, 5, Voice.P1, Field.VELOCITY] = 7
    a[0, 6, Voice.P1, Field.VELOCITY] = 12  # a re-attack in the volumes
    fire = note_events(a)[0].copy()
    fire[0, 6, Voice.P1] = False
    out = articulate(a, fire)
    assert not note_events(out)[0][0, 1:, Voice.P1].any()


def test_articulate_follows_random_onset_requests_on_real_songs(valid_windows):
    """Random onset requests on held notes of real songs: nearly all come out as onsets (not those on the
    frame after a note's first), and no onset appears that was not asked for."""
    rng = np.random.default_rng(0)
    truth = note_events(valid_windows)[0]
    fire = truth | (rng.random(truth.shape) < 0.05) & (valid_windows[..., Field.NOTE] > 0)
    fire[:, :, Voice.TR] = truth[:, :, Voice.TR]
    out = articulate(valid_windows, fire)
    got = note_events(out)[0]
    pulse_noise = [0, 1, 3]
    after_onset = np.zeros_like(fire)
    after_onset[:, 1:] = fire[:, :-1]  # a note cannot start again on the frame after it started
    asked = (fire & ~after_onset)[:, :, pulse_noise]
    assert (got[:, :, pulse_noise] & asked).sum() / asked.sum() > 0.99
    assert not (got & ~fire).any()


def test_the_balanced_loss_starts_every_head_at_one(tmp_path):
    from nesinterp.config import load_config
    from nesinterp.train.tasks import MusicTask

    data = tmp_path / "data"
    run_prep([str(EXAMPLES)], data, PrepOptions())
    cfg = load_config("tiny", [f"data.path={data}", "data.onsets=true", "data.expressive=true",
                               "train.recon_loss=balanced"])
    task = MusicTask(cfg, torch.device("cpu"))
    x, targets = task.batch(8, torch.Generator().manual_seed(0))
    loss = task.recon_loss(torch.zeros(8, task.channels, cfg.data.window), targets, x)
    # notes, onsets, volumes, timbres (not TR's); onsets at 1 on average over batches, not exactly
    assert math.isclose(float(loss), 4 + 4 + 3 + 3, rel_tol=0.02)
    assert (task._balance["onset_weight"] > 1).all()  # onsets are rarer than not


def test_training_chooses_onset_thresholds_that_the_model_keeps(tmp_path, cli):
    data = tmp_path / "data"
    run_prep([str(EXAMPLES)], data, PrepOptions())
    run = tmp_path / "run"
    r = cli("train", "--config", "tiny", "--data", data, "--run-dir", run, "--set", "train.steps=20",
            "--set", "data.onsets=true", "--set", "data.expressive=true", "--set", "train.recon_loss=balanced",
            "--set", "model.latent_layout=temporal", "--set", "model.latent_dim=64")
    assert r.returncode == 0, r.stderr
    written = json.loads((run / "model.json").read_text())
    assert written["representation"]["onsets"] is True and "onset_threshold" not in written["representation"]
    rep = written["decoding"]  # every decode setting in one section (nesinterp.decoding)
    assert len(rep["onset_threshold"]) == 4 and len(rep["sounding_bias"]) == 4 and rep["refine_steps"] == 0
    from nesinterp.trained_model import TrainedModel

    model = TrainedModel.load(run)
    assert model.representation.onset_threshold == tuple(rep["onset_threshold"])
    assert model.representation.sounding_bias == tuple(rep["sounding_bias"])
    assert len(rep["volume_tilt"]) == 4 and model.representation.volume_tilt == tuple(rep["volume_tilt"])
    from nesinterp.io.readers import read_score

    song = read_score(EXAMPLES / "overworld.mid")
    assert model.reconstruct(song).frames == song.frames
    # `nesinterp calibrate` chooses them again for refined codes and stores that choice with them
    r = cli("calibrate", run, "--data", data, "--refine", "2", "--split", "train", "--write")
    assert r.returncode == 0, r.stderr
    assert "| before |" in r.stdout and "| chosen |" in r.stdout and f"written to {run / 'model.json'}" in r.stdout
    meta = json.loads((run / "model.json").read_text())
    assert meta["decoding"]["refine_steps"] == 2 and meta["decoding"]["refine_lr"] == 0.08
    assert len(meta["decoding"]["onset_threshold"]) == 4 and "refine_steps" not in meta
    assert TrainedModel.load(run).refine_steps == 2


def test_calibrate_refuses_a_model_without_onsets_in_one_line(tiny_model, tmp_path, cli):
    before = (tiny_model / "model.json").read_text()
    r = cli("calibrate", tiny_model, "--data", tmp_path, "--write")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no onset head" in r.stderr, r.stderr
    assert (tiny_model / "model.json").read_text() == before


def test_note_by_note_decoding_keeps_one_pitch_per_note():
    from nesinterp.articulation import note_level_classes

    logits = torch.full((1, 5, 10), -5.0)
    logits[0, 0, :2] = 5.0  # silent for two frames
    logits[0, 2, 2:] = 2.0  # then pitch class 2 mostly ...
    logits[0, 3, [4, 6]] = 3.0  # ... with two frames where class 3 is a little more likely
    logits[0, 0, 9] = 5.0  # silent again at the end
    fire = torch.zeros(1, 10, dtype=torch.bool)
    fire[0, 1] = True  # an onset on a frame the pitch head thinks silent: it sounds
    fire[0, 7] = True  # a new note at frame 7
    cls = note_level_classes(logits, fire)[0].tolist()
    assert cls == [0, 2, 2, 2, 2, 2, 2, 2, 2, 0]  # per frame argmax would flicker 2, 3, 2, 3
    logits[0, 3, 7:9] = 4.0
    assert note_level_classes(logits, fire)[0].tolist()[7:] == [3, 3, 0]


def test_the_bundled_model_decodes_expression():
    """Decoded steps of the bundled model carry expression: volume changes inside notes, and more than one
    duty cycle occurs over the example songs' reconstructions."""
    from nesinterp.io.readers import read_score
    from nesinterp.trained_model import TrainedModel

    model = TrainedModel.load()
    assert model.representation.expressive and model.representation.onsets
    out = np.concatenate([model.reconstruct(read_score(p)).array for p in sorted(EXAMPLES.glob("*.mid"))])
    notes, volume, timbre = out[..., 0], out[..., 1].astype(int), out[..., 2]
    held = (notes[1:] == notes[:-1]) & (notes[1:] > 0)
    for v in (Voice.P1, Voice.P2, Voice.NO):
        assert (np.diff(volume[:, v], axis=0)[held[:, v]] != 0).mean() > 0.05, v
    assert len(set(timbre[notes[:, Voice.P1] > 0, Voice.P1])) > 1


def test_sampled_onsets_follow_the_thresholds_as_the_temperature_falls():
    from nesinterp.articulation import onset_decisions

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 4, 128, generator=gen) * 2
    thresholds = (0.5, 0.6, 0.7, 0.3)
    hard = onset_decisions(logits, thresholds)
    assert torch.equal(hard, logits.sigmoid() > torch.tensor(thresholds).view(1, 4, 1))
    cold = onset_decisions(logits, thresholds, 0.01, torch.Generator().manual_seed(1))
    assert (cold == hard).float().mean() > 0.99
    warm = onset_decisions(logits, thresholds, 1.0, torch.Generator().manual_seed(1))
    again = onset_decisions(logits, thresholds, 1.0, torch.Generator().manual_seed(1))
    assert torch.equal(warm, again)  # seeded
    # as often as the threshold-shifted probability says, per voice (not the head's raw probability)
    expected = torch.sigmoid(logits - torch.log(torch.tensor(thresholds) / (1 - torch.tensor(thresholds))).view(1, 4, 1))
    assert torch.allclose(warm.float().mean(dim=(0, 2)), expected.mean(dim=(0, 2)), atol=0.02)


def test_sampled_notes_keep_one_pitch_per_note():
    from nesinterp.articulation import note_level_classes

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 6, 64, generator=gen)
    logits[:, 0] = -10  # always sounding
    fire = torch.zeros(8, 64, dtype=torch.bool)
    fire[:, ::16] = True  # four notes per row
    cls = note_level_classes(logits, fire, temperature=1.0, generator=gen)
    for row in cls.reshape(8, 4, 16):
        assert all(len(set(note.tolist())) == 1 for note in row)


def test_the_sounding_bias_makes_a_decoder_sound_as_often_as_the_music(example_windows):
    """A decoder that drops a third of the triangle's held frames (silence a little above the note) and
    sounds P1 in a fifth of its rests gets biases that restore both voices' sounding share, and with
    them the notes themselves."""
    from nesinterp.articulation import choose_sounding_bias

    rep = Representation(128, expressive=True, onsets=True)
    truth = example_windows
    logits = (rep.one_hot(rep.targets(torch.from_numpy(truth))) * 2 - 1) * 20
    heads = rep.split_logits(logits)
    gen = torch.Generator().manual_seed(0)
    notes = torch.from_numpy(truth[..., Field.NOTE]).long()
    onset = heads["onsets"] > 0
    tr_held = (notes[:, :, Voice.TR] > 0) & ~onset[:, Voice.TR]
    dropped = tr_held & (torch.rand(tr_held.shape, generator=gen) < 0.33)
    heads["notes"][Voice.TR][:, 0][dropped] = 20.5 + torch.rand(int(dropped.sum()), generator=gen)
    p1_rest = notes[:, :, Voice.P1] == 0
    added = p1_rest & (torch.rand(p1_rest.shape, generator=gen) < 0.2)
    heads["notes"][Voice.P1][:, 5][added] = 20.5 + torch.rand(int(added.sum()), generator=gen)
    logits = torch.cat([*heads["notes"], heads["onsets"], *heads["velocity"], *heads["timbre"]], dim=1)
    share = lambda a: (a[..., Field.NOTE] > 0).mean(axis=(0, 1))  # noqa: E731

    plain = rep.decode(logits)
    assert share(plain)[Voice.TR] < share(truth)[Voice.TR] - 0.1 and share(plain)[Voice.P1] > share(truth)[Voice.P1] + 0.03
    bias = choose_sounding_bias(rep, logits, truth)
    assert bias[Voice.TR] > 0.5 and bias[Voice.P1] < -0.5, bias
    biased = replace(rep, sounding_bias=bias).decode(logits)
    assert np.abs(share(biased) - share(truth)).max() < 0.005
    assert (biased[..., Field.NOTE] == truth[..., Field.NOTE]).mean() > 0.999
    old = {k: v for k, v in rep.to_dict().items() if k != "sounding_bias"}  # a model.json from before
    assert Representation(**old).sounding_bias == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="sounding_bias"):
        Representation(128, sounding_bias=(0.0, float("nan"), 0.0, 0.0))


def test_the_volume_tilt_makes_a_decoder_play_as_loud_as_the_music(example_windows):
    """A volume head unsure between each frame's real volume and a quieter one, leaning to the quieter,
    plays quiet; the tilt chosen for it restores each voice's loudness and most of the volumes, and
    leaves the notes, the onsets and the triangle alone."""
    from nesinterp.articulation import choose_volume_tilt
    from nesinterp.representation import NOTE_CHANNELS, VELOCITY_CLASSES

    rep = Representation(128, expressive=True, onsets=True)
    truth = example_windows
    logits = (rep.one_hot(rep.targets(torch.from_numpy(truth))) * 2 - 1) * 20
    heads = rep.split_logits(logits)
    gen = torch.Generator().manual_seed(0)
    for i, v in enumerate((Voice.P1, Voice.P2, Voice.NO)):
        volume = torch.from_numpy(truth[..., v, Field.VELOCITY]).long()
        quieter = (volume - 3 - torch.randint(0, 3, volume.shape, generator=gen)).clamp_min(1)
        head = torch.full((len(truth), VELOCITY_CLASSES, truth.shape[1]), -20.0)
        head.scatter_(1, volume[:, None], 0.0)  # the real volume, a little less likely than ...
        head.scatter_(1, quieter[:, None], 0.3 + 0.2 * torch.rand(quieter[:, None].shape, generator=gen))
        heads["velocity"][i].copy_(torch.where((volume == quieter)[:, None], heads["velocity"][i], head))
    logits = torch.cat([*heads["notes"], heads["onsets"], *heads["velocity"], *heads["timbre"]], dim=1)

    def loudness(a):
        sounding = a[..., Field.NOTE] > 0
        return (a[..., Field.VELOCITY] * sounding).sum(axis=(0, 1)) / np.maximum(sounding.sum(axis=(0, 1)), 1)

    plain = rep.decode(logits)
    assert (loudness(plain)[[0, 1, 3]] < loudness(truth)[[0, 1, 3]] - 1.5).all()
    tilt = choose_volume_tilt(rep, logits, truth)
    assert tilt[Voice.TR] == 0.0 and all(0 < tilt[v] <= 0.3 for v in (Voice.P1, Voice.P2, Voice.NO)), tilt
    tilted = replace(rep, volume_tilt=tilt).decode(logits)
    assert np.abs(loudness(tilted) - loudness(truth)).max() < 0.3
    assert np.array_equal(tilted[..., Field.NOTE], plain[..., Field.NOTE])
    exact = lambda a: (a[..., Field.VELOCITY] == truth[..., Field.VELOCITY]).mean()  # noqa: E731
    assert exact(tilted) > 0.95 and exact(plain) < 0.6
    no_drums = truth.copy()
    no_drums[..., Voice.NO, :] = 0  # a voice the real windows never sound keeps its tilt
    assert choose_volume_tilt(replace(rep, volume_tilt=(0.0, 0.0, 0.0, 0.3)), logits, no_drums)[Voice.NO] == 0.3
    old = {k: v for k, v in rep.to_dict().items() if k != "volume_tilt"}  # a model.json from before
    assert Representation(**old).volume_tilt == (0.0, 0.0, 0.0, 0.0)
    assert Representation(**replace(rep, volume_tilt=tilt).to_dict()).volume_tilt == tilt
    with pytest.raises(ValueError, match="volume_tilt"):
        Representation(128, volume_tilt=(0.0, 0.0, float("inf"), 0.0))
    assert choose_volume_tilt(Representation(128, onsets=True), logits[:, :NOTE_CHANNELS + 4], truth) == (0.0,) * 4


def test_older_model_files_keep_their_decode_settings():
    """Thresholds inside "representation" and the refinement at the top level (model files before the
    "decoding" section) load to the same settings as the section, and writing moves them there."""
    from nesinterp.decoding import Decoding, representation_from_meta

    legacy = {"representation": {"window": 64, "expressive": True, "onsets": True, "onset_threshold": [0.3, 0.25, 0.4, 0.45],
                                 "sounding_bias": [-0.3, 0.1, 1.2, 0.6], "volume_tilt": [0.04, 0.0, 0.0, 0.08]},
              "refine_steps": 40, "refine_lr": 0.05, "expression_codes": True, "step": 7}
    old = Decoding.from_meta(legacy)
    assert old.refine_steps == 40 and old.refine_lr == 0.05 and old.expression_codes and old.sounding_bias[2] == 1.2
    new = old.written(legacy)
    assert set(new) == {"representation", "decoding", "step"} and "onset_threshold" not in new["representation"]
    assert Decoding.from_meta(new) == old
    assert representation_from_meta(new) == representation_from_meta(legacy)
    assert representation_from_meta(new).onset_threshold == (0.3, 0.25, 0.4, 0.45)
    assert Decoding.from_meta({"representation": {"window": 64}}) == Decoding()  # none stored: the defaults
