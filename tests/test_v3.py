"""Music model v3: notes as decisions (nesinterp.events), the causal head that hears what it has played
(nesinterp.event_head), and a small v3 model trained end to end and used as blend uses it."""

import numpy as np
import pytest
import torch

from nesinterp.representation import Representation
from nesinterp.event_head import CausalHead
from nesinterp.events import HOLD, ONSET, PITCH_CLASSES, REST, event_notes, event_targets
from nesinterp.metrics import reconstruction_scores


def window(p1, vol=None, frames=None) -> np.ndarray:
    frames = frames or len(p1)
    w = np.zeros((1, frames, 4, 3), np.uint8)
    w[0, :, 0, 0] = p1
    w[0, :, 0, 1] = vol if vol is not None else np.where(np.asarray(p1) > 0, 8, 0)
    return w


def test_events_are_rest_hold_or_an_onset_at_a_pitch():
    # a note, held; a re-attack of the same pitch (volume rising); a rest; another note
    w = window([60, 60, 60, 60, 0, 62, 62], vol=[8, 7, 6, 9, 0, 8, 8])
    kinds, pitches = event_targets(torch.from_numpy(w))
    assert kinds[0, 0].tolist() == [ONSET, HOLD, HOLD, ONSET, REST, ONSET, HOLD]
    assert pitches[0, 0].tolist() == [27, 27, 27, 27, 0, 29, 29]  # every sounding frame's pitch (60 - 33)
    four = lambda x: torch.tensor(x).view(1, 1, -1).expand(1, 4, -1).clone()  # noqa: E731
    notes, onsets = event_notes(four(kinds[0, 0].tolist()), four(pitches[0, 0].tolist()))
    assert notes[0, :, 0].tolist() == [60, 60, 60, 60, 0, 62, 62]
    assert onsets[0, :, 0].tolist() == [True, False, False, True, False, True, False]
    # a hold with nothing to hold plays nothing; a hold keeps its onset's pitch whatever its own says
    stray = event_notes(four([HOLD, HOLD, ONSET, HOLD, REST, HOLD]), four([5, 5, 0, 9, 9, 9]))[0]
    assert stray[0, :, 0].tolist() == [0, 0, 33, 33, 0, 0]
    assert PITCH_CLASSES == (76, 76, 88, 16)


def test_events_representation_round_trips_windows_exactly():
    rng = np.random.default_rng(0)
    w = np.zeros((3, 32, 4, 3), np.uint8)
    for v, (lo, hi) in enumerate(((33, 108), (33, 108), (21, 108), (1, 16))):
        notes = np.repeat(rng.integers(lo, hi + 1, (3, 8)), 4, axis=1) * (rng.random((3, 32)) > 0.2)
        w[:, :, v, 0] = notes
        if v != 2:
            w[:, :, v, 1] = np.where(notes > 0, rng.integers(1, 16, (3, 32)), 0)
            w[:, :, v, 2] = np.where(notes > 0, rng.integers(0, 2, (3, 32)), 0)
    rep = Representation(32, expressive=True, notes="events")
    x = rep.one_hot(rep.targets(torch.from_numpy(w)))
    assert x.shape == (3, rep.channels, 32) and rep.channels == 4 * 3 + sum(PITCH_CLASSES) + 3 * 16 + 11
    out = rep.decode(x * 10)
    scores = reconstruction_scores(out, w)["mean"]
    assert scores["pitch_accuracy_sounding"] == 1.0 and scores["onset_f1"] == 1.0
    np.testing.assert_array_equal(out[..., 0], w[..., 0])
    # hard decodes are the input itself; straight-through keeps the probabilities' gradient
    torch.testing.assert_close(rep.hard(x * 10), x)
    logits = (x * 10).requires_grad_(True)
    rep.straight_through(logits).sum().backward()
    assert logits.grad is not None
    with pytest.raises(ValueError, match="onsets must be off"):
        Representation(32, onsets=True, notes="events")


def test_causal_head_sees_only_the_frames_before():
    torch.manual_seed(0)
    head = CausalHead(features=6, channels=10, width=16, layers=3).eval()
    feats, frames = torch.randn(2, 6, 20), torch.randn(2, 10, 20)
    base = head(feats, head.shift(frames))
    changed = frames.clone()
    changed[:, :, 12] += 5.0  # frame 12 decoded differently: frames up to 12 cannot hear it
    after = head(feats, head.shift(changed))
    torch.testing.assert_close(after[..., :13], base[..., :13])
    assert not torch.allclose(after[..., 13:], base[..., 13:])


def test_frame_by_frame_generation_matches_teacher_forcing_on_its_own_choices():
    torch.manual_seed(1)
    head = CausalHead(features=6, channels=10, width=16, layers=4).eval()
    feats = torch.randn(3, 6, 24)
    rep_sizes = (4, 6)

    def choose(frame):  # one-hot per head of sizes 4 and 6
        parts = torch.split(frame, rep_sizes, dim=1)
        return torch.cat([torch.nn.functional.one_hot(p.argmax(1), p.shape[1]).float() for p in parts], dim=1)

    generated = head.generate(feats, choose)
    chosen = torch.stack([choose(generated[:, :, t]) for t in range(24)], dim=2)
    torch.testing.assert_close(head(feats, head.shift(chosen)), generated, atol=1e-5, rtol=1e-5)
    # input dropout: whole frames hidden at about the asked rate, whole windows blank at theirs
    head.dropout, head.blank = 0.5, 0.0
    kept = head.masked(torch.ones(64, 10, 100)).mean().item()
    assert 0.4 < kept < 0.6


@pytest.fixture(scope="module")
def v3_model(tmp_path_factory):
    from data_prep.prep import PrepOptions, run_prep
    from nesinterp.config import load_config
    from nesinterp.train import train
    from tests.conftest import ROOT

    root = tmp_path_factory.mktemp("v3-model")
    run_prep([str(ROOT / "nesinterp" / "examples")], root / "data", PrepOptions())
    cfg = load_config("nesmdb-v3", [
        f"data.path={root / 'data'}", "data.window=64", "model.width=8", "model.max_width=16",
        "model.latent_dim=64", "model.head_width=16", "model.head_layers=3", "train.steps=30", "train.batch=8",
        "train.log_every=10", "train.checkpoint_every=30", "train.sample_every=1000", "train.threads=1",
        "train.device=cpu", "optim.warmup_steps=5"])
    train(cfg, root / "run", progress=False)
    return root / "run"


def test_a_v3_model_trains_and_decodes_frame_by_frame(v3_model):
    from nesinterp.trained_model import TrainedModel
    model = TrainedModel.load(v3_model)
    assert model.representation.events and model.autoencoder.head is not None
    assert model.refine_steps == 0  # codes from the encoder alone
    rng = np.random.default_rng(0)
    w = np.zeros((2, 64, 4, 3), np.uint8)
    w[:, :, 0, 0] = np.repeat(rng.integers(50, 70, (2, 16)), 4, axis=1)
    w[:, :, 0, 1] = 8
    recon = model.reconstruct(w)
    assert recon.shape == w.shape and recon.dtype == np.uint8
    path = model.interpolate(w[0], w[1], 5)
    assert path.shape == (5, 64, 4, 3)
    sampled = model.decode_windows(model.encode(w), temperature=1.0, seed=3)
    again = model.decode_windows(model.encode(w), temperature=1.0, seed=3)
    np.testing.assert_array_equal(sampled, again)
    joined = model.decode_joined(model.encode_joined(np.concatenate([w, w])))
    assert joined.shape == (4, 64, 4, 3)


def test_weight_average_exports_the_average_and_resumes_the_live_weights(tmp_path):
    """train.ema: the run's model file holds the moving average, the checkpoint the live weights too, and
    a resumed run continues from the live ones."""
    from data_prep.prep import PrepOptions, run_prep
    from nesinterp.checkpoint import load_tensors
    from nesinterp.config import load_config
    from nesinterp.train import Trainer, train
    from tests.conftest import ROOT

    run_prep([str(ROOT / "nesinterp" / "examples")], tmp_path / "data", PrepOptions())
    over = [f"data.path={tmp_path / 'data'}", "train.steps=6", "train.checkpoint_every=3", "train.log_every=3",
            "train.sample_every=1000", "train.ema=0.9"]
    cfg = load_config("tiny", over)
    train(cfg, tmp_path / "run", progress=False)
    exported = load_tensors(tmp_path / "run" / "model.safetensors")
    resumed = Trainer(cfg, tmp_path / "run", resume=True, progress=False)
    live = resumed.ae.state_dict()
    key = next(k for k in live if k.endswith("weight"))
    assert not torch.equal(exported[key].float(), live[key].float())  # average and live weights differ
    torch.testing.assert_close(resumed.ema.weights()[key].float(), exported[key].float())
    resumed.lock.release()


def test_blend_with_a_v3_model_writes_midi_and_wav(v3_model, tmp_path, cli):
    from tests.conftest import ROOT

    a, b = ROOT / "nesinterp" / "examples" / "overworld.mid", ROOT / "nesinterp" / "examples" / "dungeon.mid"
    out = tmp_path / "out"
    r = cli("blend", a, b, "--steps", "3", "-o", out, "--model", v3_model, "--no-html", "--whole")
    assert r.returncode == 0, r.stderr
    record = __import__("json").loads((out / "blend.json").read_text())
    assert record["refine_steps"] == 0 and record["joined"] is True
    assert all((out / f"step-{k:02d}-of-03.{e}").exists() for k in range(3) for e in ("mid", "wav"))


def test_export_command_writes_a_model_folder_blend_can_use(v3_model, tmp_path, cli):
    from nesinterp.trained_model import TrainedModel

    out = tmp_path / "exported"
    r = cli("export", v3_model, "-o", out)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.safetensors"]
    assert TrainedModel.load(out).representation.events
    again = cli("export", v3_model, "-o", out)
    assert again.returncode == 2 and "exists" in again.stderr and again.stderr.count("\n") == 1
    assert cli("export", v3_model, "-o", out, "--force", "--full-precision").returncode == 0
    missing = cli("export", tmp_path / "nothing", "-o", tmp_path / "x")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and not (tmp_path / "x").exists()


def test_pitch_heads_listen_to_the_code_alone(v3_model):
    """Teacher forcing would let the head copy the previous frame's pitch: the pitch channels are read
    from the code's features only, and a model file keeps that."""
    from nesinterp.trained_model import TrainedModel

    model = TrainedModel.load(v3_model)
    head, rep = model.autoencoder.head, model.representation
    gate = head.ar_gate
    assert gate[rep.pitch_channels].eq(0).all() and gate[: rep.pitch_channels.start].eq(1).all()
    feats = torch.randn(2, head.cond.in_channels, 16)
    a = torch.zeros(2, rep.channels, 16)
    b = torch.rand(2, rep.channels, 16)
    with torch.no_grad():
        out_a, out_b = head(feats, a), head(feats, b)
    torch.testing.assert_close(out_a[:, rep.pitch_channels], out_b[:, rep.pitch_channels])
    assert not torch.allclose(out_a[:, : rep.pitch_channels.start], out_b[:, : rep.pitch_channels.start])


def test_events_norm_decision_weights_kind_and_pitch_as_one_decision(tiny_data):
    """train.events_norm: "parts" divides the kind and pitch losses by their own uniform guesses (log 3,
    log 76), "decision" both by the whole decision's, log(2 + pitches), as frame notes' log 77."""
    import math

    from nesinterp.config import ConfigError, load_config
    from nesinterp.train.tasks import MusicTask

    base = [f"data.path={tiny_data}", "data.notes=events", "data.onsets=false", "train.recon_loss=balanced"]
    parts = MusicTask(load_config("tiny", base), torch.device("cpu"))._balance
    decision = MusicTask(load_config("tiny", base + ["train.events_norm=decision"]), torch.device("cpu"))._balance
    assert parts["notes"][0] == pytest.approx(math.log(3)) and parts["pitch"][0] == pytest.approx(math.log(76))
    assert decision["notes"] == decision["pitch"] == [pytest.approx(math.log(2 + c)) for c in (76, 76, 88, 16)]
    with pytest.raises(ConfigError, match="events_norm"):
        load_config("tiny", base + ["train.events_norm=both"])


def test_a_notes_pitch_is_decided_over_the_whole_note():
    """At temperature 0 a note's pitch is the argmax of its frames' summed log-probabilities, not the
    onset frame's alone (whose features still blur into the note before)."""
    from nesinterp.events import note_pitches

    kinds = torch.tensor([[REST, ONSET, HOLD, HOLD, ONSET, HOLD, REST, HOLD]])
    logits = torch.zeros(1, 5, 8)
    logits[0, 1, 1] = 3.0  # the onset frame says pitch 1 ...
    logits[0, 2, 2:4] = 2.5  # ... its two holds say 2, more surely together
    logits[0, 3, 4:6] = 1.0
    logits[0, 4, 7] = 9.0  # a hold after a rest sounds nothing: not counted anywhere
    pitches = note_pitches(kinds, logits)
    assert pitches[0, 1] == 2 and pitches[0, 4] == 3
    notes, _ = event_notes(kinds[:, None].expand(1, 4, 8), pitches[:, None].expand(1, 4, 8))
    assert notes[0, :, 0].tolist() == [0, 35, 35, 35, 36, 36, 0, 0]  # P1's range starts at 33
