"""Fine-tuning: a run may start from a trained model's weights (train.init_from), and the autoencoder's
learning rate may warm up and follow a cosine schedule, as a function of the step alone."""

import math

import pytest
import torch

from nesinterp.config import ConfigError, load_config
from nesinterp.errors import TrainError
from nesinterp.train import Trainer
from nesinterp.train.loop import learning_rate

FAST = ["model.width=4", "model.max_width=8", "model.scales=2", "model.latent_dim=8", "train.batch=8",
        "data.window=32", "train.sample_every=1000"]


def test_the_learning_rate_warms_up_then_follows_the_cosine():
    cfg = load_config("tiny", ["optim.lr=0.001", "optim.schedule=cosine", "optim.warmup_steps=10", "train.steps=100"])
    rates = [learning_rate(cfg, s) for s in range(100)]
    assert rates[0] == pytest.approx(0.001 * 0.1 * 1.0)
    assert rates[4] == pytest.approx(0.001 * 0.5 * 0.5 * (1 + math.cos(math.pi * 0.04)))
    assert rates[50] == pytest.approx(0.0005)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:])) and rates[-1] < 1e-6
    constant = load_config("tiny", ["optim.lr=0.001"])
    assert {learning_rate(constant, s) for s in (0, 7, 10_000)} == {0.001}
    with pytest.raises(ConfigError, match="optim.schedule"):
        load_config("tiny", ["optim.schedule=step"])


def test_the_schedule_sets_the_optimizer_and_is_logged(tiny_data, tmp_path):
    cfg = load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.steps=4", "optim.lr=0.01",
                               "optim.schedule=cosine", "optim.warmup_steps=2"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    logs = [float(trainer.train_step()["lr"]) for _ in range(1)]
    assert logs == [pytest.approx(0.005)]
    assert trainer.opt_ae.param_groups[0]["lr"] == pytest.approx(0.005)
    assert trainer.opt_critic.param_groups[0]["lr"] == cfg.acai.lr  # the critic keeps its own rate


def test_a_run_starts_from_a_trained_models_weights(tiny_data, tmp_path):
    base = load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.steps=3"])
    first = Trainer(base, tmp_path / "first", progress=False)
    first.fit()
    first.lock.release()
    trained = {k: v.clone() for k, v in first.ae.state_dict().items()}

    tuned = load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.steps=3",
                                 f"train.init_from={tmp_path / 'first'}", "train.seed=5"])
    trainer = Trainer(tuned, tmp_path / "tuned", progress=False)
    start = trainer.ae.state_dict()
    assert all(torch.equal(start[k], trained[k]) for k in trained)
    trainer.lock.release()

    fresh = Trainer(load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.seed=5"]), tmp_path / "fresh",
                    progress=False)
    assert not all(torch.equal(fresh.ae.state_dict()[k], trained[k]) for k in trained)
    fresh.lock.release()


def test_a_different_or_missing_model_is_refused_with_the_reason(tiny_data, tmp_path):
    base = load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.steps=1"])
    first = Trainer(base, tmp_path / "first", progress=False)
    first.fit()
    first.lock.release()
    wider = load_config("tiny", [f"data.path={tiny_data}", *FAST, "model.latent_dim=16",
                                 f"train.init_from={tmp_path / 'first'}"])
    with pytest.raises(TrainError, match="different model"):
        Trainer(wider, tmp_path / "wider", progress=False)
    assert not (tmp_path / "wider").exists()  # a run that could not start leaves nothing behind
    missing = load_config("tiny", [f"data.path={tiny_data}", *FAST, f"train.init_from={tmp_path / 'nothing'}"])
    with pytest.raises(TrainError, match="train.init_from: .*nothing"):
        Trainer(missing, tmp_path / "missing", progress=False)


def test_a_frozen_decoder_stays_put_while_the_encoder_learns(tiny_data, tmp_path):
    cfg = load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.steps=2", "train.freeze=decoder",
                               "optim.lr=0.01"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    before = {k: v.clone() for k, v in trainer.ae.state_dict().items()}
    trainer.train_step(measure=True)
    trainer.lock.release()
    after = trainer.ae.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before if k.startswith("decoder."))
    assert any(not torch.equal(after[k], before[k]) for k in before if k.startswith("encoder."))
    assert all(p.requires_grad for p in trainer.opt_ae.param_groups[0]["params"])
    with pytest.raises(ConfigError, match="train.freeze"):
        load_config("tiny", ["train.freeze=encoder"])


def test_a_checkpoint_is_calibrated_for_the_weights_it_exports(tiny_data, tmp_path):
    """With train.ema the model file holds the moving average, so the decode settings written beside it
    are chosen with the average, not with the live weights."""
    from nesinterp.checkpoint import load_tensors

    cfg = load_config("tiny", [f"data.path={tiny_data}", *FAST, "train.steps=3", "train.ema=0.5",
                               "optim.lr=0.01", "train.checkpoint_every=3"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    seen = []
    trainer.task.calibrate = lambda module: seen.append({k: v.clone() for k, v in module.state_dict().items()})
    trainer.fit()
    trainer.lock.release()
    exported = load_tensors(tmp_path / "run" / "model.safetensors")
    live = trainer.ae.state_dict()
    key = next(k for k in live if k.endswith("weight") and not torch.equal(live[k], exported[k]))
    torch.testing.assert_close(seen[-1][key], exported[key])
