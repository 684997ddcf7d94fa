"""Training: the tiny config end to end, every loss combination, resume after a kill, and two-process
distributed training with the gloo backend."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from data_prep import read_score
from nesinterp.checkpoint import CheckpointError, load_tensors
from nesinterp.config import load_config
from nesinterp.train import Trainer

from .conftest import nesinterp_command

FAST = ["model.width=4", "model.max_width=8", "model.scales=2", "model.latent_dim=8", "train.batch=8",
        "data.window=32"]


def test_tiny_config_trains_and_writes_a_complete_run_dir(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    start = time.perf_counter()
    r = cli("train", "--config", "tiny", "--data", tiny_data, "--run-dir", run)
    seconds = time.perf_counter() - start
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [rec["step"] for rec in records] == list(range(10, 151, 10))
    first, last = np.mean([r["recon"] for r in records[:2]]), np.mean([r["recon"] for r in records[-2:]])
    assert last < 0.8 * first, (first, last)  # the loss falls
    assert records[-1]["accuracy"] > records[0]["accuracy"]
    for name in ("config.yaml", "model.safetensors", "model.json", "latest", "loss_curves.png"):
        assert (run / name).exists(), name
    meta = json.loads((run / "model.json").read_text())
    assert meta["format"] == "nesinterp-model" and meta["step"] == 150 and meta["latent_dim"] == 16
    weights = load_file(str(run / "model.safetensors"))
    assert any(k.startswith("encoder.") for k in weights) and any(k.startswith("decoder.") for k in weights)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000100", "step-00000150"]
    sample = read_score(run / "samples" / "step-00000150.mid")  # an 8-step interpolation as NES-MDB MIDI
    assert sample.frames == 8 * (64 + 12)
    print(f"tiny config: {seconds:.1f} s wall including start-up")


def test_existing_run_dir_and_missing_data_are_refused(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    run.mkdir()
    (run / "something").write_text("x")
    r = cli("train", "--config", "tiny", "--data", tiny_data, "--run-dir", run)
    assert r.returncode == 2 and "not a training run's" in r.stderr and "Traceback" not in r.stderr
    assert (run / "something").read_text() == "x"  # another's file: never removed
    r = cli("train", "--config", "tiny", "--data", tmp_path / "nothing", "--run-dir", tmp_path / "r2")
    assert r.returncode == 2 and "nesinterp prep" in r.stderr
    r = cli("train", "--config", "tiny", "--run-dir", tmp_path / "r3", "--resume")
    assert r.returncode == 2 and "no such run directory" in r.stderr
    r = cli("train", "--config", "tiny", "--set", "train.stepz=3")
    assert r.returncode == 2 and "unknown key train.stepz" in r.stderr


COMBINATIONS = [
    ("plain AE", ["acai.enabled=false", "regularizer.kind=none"]),
    ("ACAI alone", ["acai.enabled=true", "regularizer.kind=none"]),
    ("WWAE alone", ["acai.enabled=false", "regularizer.kind=wwae"]),
] + [(f"ACAI + {k}", ["acai.enabled=true", f"regularizer.kind={k}"])
     for k in ("mmd_imq", "mmd_rbf", "gan", "wwae", "swae", "cwae")] + [
    # a temporal latent: the regularizer sees every position as a sample (gan's discriminator included)
    (f"temporal residual + {k}", ["model.latent_layout=temporal", "model.block=residual", "model.upsample=learned",
                                  f"regularizer.kind={k}"]) for k in ("gan", "wwae")]


@pytest.mark.parametrize("label, overrides", COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_every_combination_steps_with_anomaly_detection(label, overrides, tiny_data, tmp_path):
    cfg = load_config("tiny", [f"data.path={tiny_data}", *FAST, *overrides])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    before = [p.detach().clone() for p in trainer.ae.parameters()]
    with torch.autograd.set_detect_anomaly(True):
        for _ in range(2):
            logs = trainer.train_step()
    assert all(torch.isfinite(v).all() for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.ae.parameters()))
    if trainer.critic is not None:
        assert all(p.grad is not None for p in trainer.critic.parameters())
    if trainer.disc is not None:
        assert all(p.grad is not None for p in trainer.disc.parameters())


def test_expressive_model_trains(tiny_data, tmp_path):
    cfg = load_config("tiny", [f"data.path={tiny_data}", *FAST, "data.expressive=true", "data.transpose=3"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    logs = trainer.train_step()
    assert torch.isfinite(logs["loss"]) and trainer.task.channels == 260 + 48 + 11


def run_weights(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


def test_resume_after_kill_matches_an_unbroken_run(tiny_data, tmp_path):
    args = ["train", "--config", "tiny", "--data", str(tiny_data), "-q",
            "--set", "train.steps=120", "--set", "train.checkpoint_every=20", "--set", "train.sample_every=1000"]
    unbroken = tmp_path / "unbroken"
    r = subprocess.run([*nesinterp_command(), *args, "--run-dir", str(unbroken)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    killed = tmp_path / "killed"
    proc = subprocess.Popen([*nesinterp_command(), *args, "--run-dir", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "checkpoints" / "step-00000040").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (killed / "latest").exists()
    assert not (killed / "checkpoints" / "step-00000120").exists(), "killed too late to test anything"

    r = subprocess.run([*nesinterp_command(), *args, "--run-dir", str(killed), "--resume"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = run_weights(unbroken), run_weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = lambda run: [(rec["step"], rec["loss"]) for rec in  # noqa: E731
                          map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert losses(unbroken) == losses(killed)  # the log has each step once, as if never killed


def test_torch_pickles_are_refused_as_weights(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="torch pickle"):
        load_tensors(path)
    path.write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_tensors(path)


def test_safetensors_whose_header_length_starts_with_a_pickle_marker_load(tmp_path):
    """One safetensors file in 256 has a header length whose first byte is 0x80, a pickle's protocol
    marker; such a file is still read (a trained tiny model once was refused this way)."""
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    for pad in range(300):
        save_file({"w": torch.arange(3.0)}, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert torch.equal(load_tensors(path)["w"], torch.arange(3.0))


DDP_SCRIPT = """
import os, sys, torch
from safetensors.torch import save_file
from nesinterp.config import load_config
from nesinterp.train import Trainer
data, run, out = sys.argv[1:4]
cfg = load_config("tiny", [f"data.path={data}", "train.steps=8", "train.checkpoint_every=8",
                           "train.sample_every=100", "train.log_every=4"])
trainer = Trainer(cfg, run, progress=False)
first = trainer.task.train.sample(4, trainer.gen).long().sum().item()
trainer.fit()
rank = int(os.environ["RANK"])
save_file({k: v.contiguous() for k, v in trainer.ae.state_dict().items()}, f"{out}/ae-{rank}.safetensors")
save_file({k: v.contiguous() for k, v in trainer.critic.state_dict().items()}, f"{out}/critic-{rank}.safetensors")
print("first-batch", rank, first)
torch.distributed.destroy_process_group()
"""


def test_two_process_gloo_training_keeps_weights_identical(tiny_data, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script), str(tiny_data), str(tmp_path / "run"), str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    firsts = {line.split()[1]: line.split()[2] for line in r.stdout.splitlines() if line.startswith("first-batch")}
    assert firsts["0"] != firsts["1"]  # each process draws its own data
    for part in ("ae", "critic"):
        w0, w1 = load_file(str(tmp_path / f"{part}-0.safetensors")), load_file(str(tmp_path / f"{part}-1.safetensors"))
        assert all(torch.equal(w0[k], w1[k]) for k in w0), part
    saved = run_weights(tmp_path / "run")
    w0 = load_file(str(tmp_path / "ae-0.safetensors"))
    assert all(torch.equal(saved[k], w0[k]) for k in w0)
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 8


def test_lines_config_steps(tmp_path):
    cfg = load_config("lines", ["train.batch=8", "model.width=4"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    logs = trainer.train_step()
    assert torch.isfinite(logs["loss"]) and trainer.ae.latent_dim == 64
    trainer.step = 1
    trainer.write_samples()
    assert (tmp_path / "run" / "samples" / "step-00000001.png").exists()


def test_mnist_config_steps_on_real_mnist(tmp_path):
    from .conftest import shared_data_dir

    folder = shared_data_dir() / "mnist"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found in {folder}")
    cfg = load_config("mnist", [f"data.path={folder}", "train.batch=8", "regularizer.kind=wwae"])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    assert trainer.ae.latent_dim == 32 and len(trainer.task.images) == 60000
    assert torch.isfinite(trainer.train_step()["loss"])


def test_resume_may_extend_a_run_but_not_change_what_it_learns(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    common = ["--set", "train.log_every=10", "--set", "train.checkpoint_every=20", "--set", "train.sample_every=1000"]
    r = cli("train", "--config", "tiny", "--data", tiny_data, "--run-dir", run, "--set", "train.steps=20", *common)
    assert r.returncode == 0, r.stderr
    r = cli("train", "--run-dir", run, "--resume", "--set", "model.width=16")
    assert r.returncode == 2 and "model.width differs" in r.stderr and "Traceback" not in r.stderr
    r = cli("train", "--run-dir", run, "--resume", "--set", "train.steps=40")
    assert r.returncode == 0, r.stderr
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 40
    assert "steps: 40" in (run / "config.yaml").read_text()
    r = cli("train", "--resume")
    assert r.returncode == 2 and "--resume needs --run-dir" in r.stderr


def test_a_run_being_trained_cannot_be_trained_by_a_second_process(tmp_path):
    from nesinterp.train import RunLock, TrainError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / ".lock").write_text(f"{holder.pid}\n")
        with pytest.raises(TrainError, match=f"another process \\(pid {holder.pid}\\)"):
            RunLock(run_dir)
    finally:
        holder.kill()
        holder.wait()
    lock = RunLock(run_dir)  # the holder has ended: its lock is stale and taken over
    assert (run_dir / ".lock").read_text().strip() == str(os.getpid())
    lock.release()
    assert not (run_dir / ".lock").exists()


def test_measuring_the_acai_gradient_share_changes_no_update(tiny_data, tmp_path):
    cfg = load_config("tiny", [f"data.path={tiny_data}", *FAST])
    runs = [Trainer(cfg, tmp_path / name, progress=False) for name in ("measured", "plain")]
    logs = runs[0].train_step(measure=True)
    assert "acai_grad_share" not in runs[1].train_step(measure=False)
    assert 0 <= float(logs["acai_grad_share"]) <= 1
    for a, b in zip(runs[0].ae.parameters(), runs[1].ae.parameters()):
        assert torch.equal(a, b)
    for run in runs:
        run.lock.release()
