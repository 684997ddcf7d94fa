"""The agreement loss (acai.agreement_weight): on ACAI's decoded mixes, the notes both mixed windows share
(the same note, or both silent) are reconstructed; the cells where they differ are left to the critic."""

import pytest
import torch

from nesinterp.config import ConfigError, load_config
from nesinterp.train import Trainer
from nesinterp.train.tasks import MusicTask

FAST = ["model.width=4", "model.max_width=8", "model.scales=2", "model.latent_dim=8", "train.batch=8",
        "data.window=32", "train.sample_every=1000"]


@pytest.fixture(scope="module")
def task_batch(tiny_data):
    cfg = load_config("tiny", [f"data.path={tiny_data}", "data.onsets=true", "data.expressive=true",
                               "train.recon_loss=balanced", "data.window=32"])
    task = MusicTask(cfg, torch.device("cpu"))
    x, targets = task.batch(8, torch.Generator().manual_seed(0))
    return task, targets


def _logits_for(task, notes: torch.Tensor, sure: float = 30.0) -> torch.Tensor:
    """Decoder logits (B, channels, T) that put ``sure`` on the given notes (B, 4, T), 0 elsewhere."""
    heads = task.rep.split_logits(torch.zeros(notes.shape[0], task.channels, notes.shape[2]))
    parts = [sure * torch.nn.functional.one_hot(notes[:, v], h.shape[1]).permute(0, 2, 1).float()
             for v, h in enumerate(heads["notes"])]
    rest = task.channels - sum(p.shape[1] for p in parts)
    return torch.cat(parts + [torch.zeros(notes.shape[0], rest, notes.shape[2])], dim=1)


def test_only_the_shared_cells_count(task_batch):
    task, targets = task_batch
    notes = targets["notes"]
    shared = notes == notes.flip(0)
    assert shared.any() and (~shared).any()
    # mixes that keep every shared note, whatever they play where the windows differ
    keep = _logits_for(task, notes)
    assert float(task.agreement_loss(keep, targets)) < 1e-6
    elsewhere = torch.where(shared, notes, torch.zeros_like(notes))  # silence where the two differ
    assert float(task.agreement_loss(_logits_for(task, elsewhere), targets)) < 1e-6
    # a uniform guess costs 1 per voice with shared cells (each voice over its uniform-guess loss)
    voices = int(shared.any(dim=2).any(dim=0).sum())
    uniform = torch.zeros(notes.shape[0], task.channels, notes.shape[2])
    assert float(task.agreement_loss(uniform, targets)) == pytest.approx(voices, rel=1e-4)
    # inventing a note where both windows are silent is what it punishes
    silent = shared & (notes == 0)
    invented = torch.where(silent, torch.ones_like(notes), notes)
    assert float(task.agreement_loss(_logits_for(task, invented), targets)) > 1


def test_training_adds_it_when_asked(tiny_data, tmp_path):
    base = [f"data.path={tiny_data}", *FAST, "train.steps=2"]
    trainer = Trainer(load_config("tiny", [*base, "acai.agreement_weight=2"]), tmp_path / "on", progress=False)
    logs = trainer.train_step()
    assert torch.isfinite(logs["agreement"].detach()) and float(logs["agreement"].detach()) > 0
    trainer.lock.release()
    plain = Trainer(load_config("tiny", base), tmp_path / "off", progress=False)
    assert "agreement" not in plain.train_step()  # off by default
    plain.lock.release()


def test_it_needs_music_mixes_and_a_weight_of_at_least_zero():
    assert load_config("tiny").acai.agreement_weight == 0
    with pytest.raises(ConfigError, match="must not be negative"):
        load_config("tiny", ["acai.agreement_weight=-1"])
    with pytest.raises(ConfigError, match="acai.enabled"):
        load_config("tiny", ["acai.agreement_weight=1", "acai.enabled=false"])
    with pytest.raises(ConfigError, match="data.kind"):
        load_config("tiny", ["acai.agreement_weight=1", "data.kind=mnist"])
