"""A newcomer can start, stop and change a training run without dead ends, all through the console
script: a failed start is restarted by the same command, Ctrl-C or SIGTERM at any time leaves a run
that --resume continues (to the same weights as an unbroken run), --force starts a run over, --device
and --threads set where and how it trains, and torchrun reports once."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch


from .conftest import nesinterp_command
from .test_train import run_weights

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--config", "tiny", "-q", "--set", "train.sample_every=1000"]


def metrics(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def test_a_start_that_failed_is_restarted_by_the_same_command(tiny_data, tmp_path, cli):
    run, data = tmp_path / "run", tmp_path / "data"
    args = ["train", *TINY, "--data", data, "--run-dir", run, "--set", "train.steps=20"]
    r = cli(*args)
    assert r.returncode == 2 and "nesinterp prep" in r.stderr and r.stderr.count("\n") == 1
    assert not run.exists()  # nothing left behind
    # A run directory an older nesinterp left after a failed start (config and lock, no checkpoint).
    run.mkdir()
    (run / "config.yaml").write_text("name: tiny\n")
    (run / ".lock").write_text("999999\n")
    os.symlink(tiny_data, data)
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert metrics(run)[-1][0] == 20 and not (run / ".lock").exists()


def test_resume_of_a_run_without_a_checkpoint_starts_it(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    r = cli("train", *TINY, "--data", tiny_data, "--run-dir", run, "--set", "train.steps=0")
    assert r.returncode == 0, r.stderr
    assert not (run / "checkpoints").exists()  # zero steps: no checkpoint, only config.yaml
    r = cli("train", "--run-dir", run, "--resume", "-q", "--set", "train.steps=10")
    assert r.returncode == 0, r.stderr
    assert metrics(run)[-1][0] == 10


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_at_any_step_saves_it_and_resume_matches_an_unbroken_run(sig, tiny_data, tmp_path):
    # Checkpoints every 1000 steps (never, here): only the stop itself can save the run.
    args = [*nesinterp_command(), "train", *TINY, "--data", str(tiny_data), "--set", "train.steps=150",
            "--set", "train.checkpoint_every=1000", "--set", "train.checkpoint_minutes=0",
            "--set", "train.log_every=1"]
    unbroken = tmp_path / "unbroken"
    r = subprocess.run([*args, "--run-dir", str(unbroken)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    stopped = tmp_path / "stopped"
    proc = subprocess.Popen([*args, "--run-dir", str(stopped)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    log = stopped / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and log.read_text().count("\n") >= 20):
        time.sleep(0.02)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"--run-dir {stopped} --resume" in err and "Traceback" not in err
    saved = json.loads((stopped / "model.json").read_text())["step"]
    assert 20 <= saved < 150, "stopped too late to test anything"
    assert not (stopped / ".lock").exists()

    r = subprocess.run([*nesinterp_command(), "train", "--run-dir", str(stopped), "--resume", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a, b = run_weights(unbroken), run_weights(stopped)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert metrics(unbroken) == metrics(stopped)


def test_checkpoints_are_also_written_by_time(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    r = cli("train", *TINY, "--data", tiny_data, "--run-dir", run, "--set", "train.steps=40",
            "--set", "train.checkpoint_every=1000", "--set", "train.checkpoint_minutes=0.0001")
    assert r.returncode == 0, r.stderr
    steps = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert len(steps) >= 2 and steps[-1] == "step-00000040"  # kept: the newest few


def test_force_starts_a_run_over_and_refuses_what_is_not_a_run(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    args = ["train", *TINY, "--data", tiny_data, "--run-dir", run, "--set", "train.steps=20"]
    assert cli(*args).returncode == 0
    r = cli(*args)
    assert r.returncode == 2 and "--resume" in r.stderr and "--force" in r.stderr
    (run / "samples" / "mine.txt").write_text("a run's folder: removed with it")
    r = cli(*args, "--force", "--set", "train.steps=10")
    assert r.returncode == 0, r.stderr
    assert [step for step, _ in metrics(run)] == [10]  # the old run's log is gone with it
    assert not (run / "samples" / "mine.txt").exists()
    assert cli(*args, "--force", "--resume").returncode == 2
    (run / "notes.txt").write_text("mine")
    r = cli(*args, "--force")
    assert r.returncode == 2 and "notes.txt" in r.stderr and (run / "notes.txt").exists()


def test_device_and_threads_options(tiny_data, tmp_path, cli):
    run = tmp_path / "run"
    r = cli("train", *TINY, "--data", tiny_data, "--run-dir", run, "--set", "train.steps=5", "--device", "cpu",
            "--threads", "1")
    assert r.returncode == 0, r.stderr
    saved = (run / "config.yaml").read_text()
    assert "device: cpu" in saved and "threads: 1" in saved
    if not torch.cuda.is_available():
        r = cli("train", *TINY, "--data", tiny_data, "--run-dir", tmp_path / "gpu", "--device", "cuda")
        assert r.returncode == 2 and "no CUDA device" in r.stderr and not (tmp_path / "gpu").exists()
    r = cli("train", *TINY, "--data", tiny_data, "--run-dir", tmp_path / "x", "--device", "tpu")
    assert r.returncode == 2


def test_threads_default_leaves_busy_cores_alone():
    from nesinterp.train import default_threads

    assert 1 <= default_threads() <= len(os.sched_getaffinity(0))


def test_torchrun_reports_once(tiny_data, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "nesinterp", "train", *TINY, "--data", str(tiny_data), "--run-dir", str(tmp_path / "run"),
                        "--set", "train.steps=4", "--set", "train.batch=8"],
                       capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [line for line in r.stdout.splitlines() if "step 4" in line] == [r.stdout.strip()]


def test_sigterm_to_bench_ends_its_workers(tmp_path):
    proc = subprocess.Popen([*nesinterp_command(), "bench", "lines", "--models", "baseline,acai", "--samples",
                             "4000000", "--jobs", "2", "--out", str(tmp_path / "bench"), "--set", "train.log_every=1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline and len(list((tmp_path / "bench").glob("*/metrics.jsonl"))) < 2:
        time.sleep(0.1)
    workers = _children(proc.pid)
    assert workers, "no worker processes seen"
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "resumes" in err
    time.sleep(0.5)
    assert not [pid for pid in workers if _running(pid)], "workers left running"
    # each worker saved the step it reached, so the same command resumes
    assert len(list((tmp_path / "bench").glob("*/checkpoints/step-*"))) == 2


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
