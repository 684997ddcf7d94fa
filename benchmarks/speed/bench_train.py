"""Training speed: samples per second of whole training steps for the default NES config and the lines
config, the per-step cost of each latent regularizer at batch 64, 256 and 1024, and the tiny config's
wall time. Runs on CUDA too when present (``--device cuda``). ``--grid CONFIG`` measures instead one
config's whole steps at batch 64, 256 and 1024 in fp32 and bf16 (autocast) side by side.

    python benchmarks/speed/bench_train.py [--data ../shared/data] [--device cpu|cuda] [--threads N]
    python benchmarks/speed/bench_train.py --grid nesmdb-v2 --dataset data/nesmdb --device cuda
    python benchmarks/speed/bench_train.py --recipe nesmdb-v3 --threads 2      # the v3 recipe as it trains

Prints Markdown tables. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

import torch

from data_prep.prep import PrepOptions, run_prep
from nesinterp.config import load_config
from nesinterp.losses import REGULARIZERS
from nesinterp.train import Trainer


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def samples_per_second(cfg, run_dir: Path, steps: int, warmup: int = 3) -> float:
    trainer = Trainer(cfg, run_dir, progress=False)
    for _ in range(warmup):
        trainer.train_step()
    sync(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    sync(trainer.device)
    return steps * cfg.train.batch / (time.perf_counter() - start)


def precision_grid(config: str, dataset: Path, device: str, tmp: Path, steps: int,
                   batches=(64, 256, 1024), sets=()) -> None:
    """Samples/s of ``config``'s whole training steps per batch size, fp32 beside bf16 autocast."""
    where = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"## {config}: whole training steps, samples/s ({where})\n")
    print("| batch | fp32 | bf16 | bf16 / fp32 |")
    print("|---:|---:|---:|---:|")
    for batch in batches:
        cells = []
        for amp in ("off", "bf16"):
            cfg = load_config(config, [f"data.path={dataset}", f"train.device={device}", f"train.batch={batch}",
                                       f"train.amp='{amp}'", *sets])
            cells.append(samples_per_second(cfg, tmp / f"grid-{batch}-{amp}", steps))
        print(f"| {batch} | {cells[0]:.0f} | {cells[1]:.0f} | {cells[1] / cells[0]:.2f} |", flush=True)


def _prepared(data: Path, tmp: Path) -> Path:
    """data/nesmdb when it is prepared, else the archive under ``data`` prepared into ``tmp``."""
    if (ROOT / "data" / "nesmdb" / "manifest.json").exists():
        return ROOT / "data" / "nesmdb"
    run_prep([str(data / "nesmdb" / "nesmdb24_exprsco.tar.gz")], tmp / "nesmdb", PrepOptions(workers=os.cpu_count() or 1))
    return tmp / "nesmdb"


def regularizer_ms(kind: str, batch: int, dim: int, device, repeats: int) -> float:
    gen = torch.Generator(device=device).manual_seed(0)
    z = torch.randn(batch, dim, device=device, requires_grad=True)
    entry = REGULARIZERS[kind]
    disc = entry.adversary.build(dim).to(device) if entry.adversary else None

    def step():
        penalty, disc_loss = entry.terms(z, gen, disc)
        (penalty if disc_loss is None else penalty + disc_loss).backward()

    step()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    sync(device)
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("NESINTERP_SHARED_DATA", ROOT.parent / "shared" / "data")))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--grid", metavar="CONFIG", help="only the fp32/bf16 x batch table of this config")
    parser.add_argument("--batches", default="64,256,1024", help="--grid: comma-separated batch sizes")
    parser.add_argument("--dataset", type=Path, help="a prepared NES-MDB dataset (instead of preparing --data's archive)")
    parser.add_argument("--recipe", metavar="CONFIG", help="only this config's whole steps as it trains (its batch, "
                        "its precision), median of --repeats runs: e.g. nesmdb-v3, the default recipe")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="--grid, --recipe: a config override; repeatable")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.recipe:
        with tempfile.TemporaryDirectory() as tmp:
            dataset = args.dataset or _prepared(args.data, Path(tmp))
            cfg = load_config(args.recipe, [f"data.path={dataset}", f"train.device={args.device}",
                                            f"train.threads={args.threads}", *args.set])
            runs = sorted(samples_per_second(cfg, Path(tmp) / f"recipe-{i}", args.steps) for i in range(args.repeats))
            where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
            print(f"## {args.recipe} as it trains ({where}, batch {cfg.train.batch}, amp {cfg.train.amp}"
                  f"{', ' + ' '.join(args.set) if args.set else ''})\n")
            print(f"| {args.repeats} runs of {args.steps} steps | median | min | max |")
            print("|---|---:|---:|---:|")
            print(f"| windows/s | {runs[len(runs) // 2]:.0f} | {runs[0]:.0f} | {runs[-1]:.0f} |")
        return
    if args.grid:
        with tempfile.TemporaryDirectory() as tmp:
            dataset = args.dataset
            if dataset is None:
                dataset = Path(tmp) / "nesmdb"
                run_prep([str(args.data / "nesmdb" / "nesmdb24_exprsco.tar.gz")], dataset,
                         PrepOptions(workers=os.cpu_count() or 1))
            precision_grid(args.grid, dataset, args.device, Path(tmp), args.steps,
                           [int(b) for b in args.batches.split(",")], args.set)
        return
    device = torch.device(args.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    archive = args.data / "nesmdb" / "nesmdb24_exprsco.tar.gz"

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"## Whole training steps ({where}, batch 64)\n")
        print("| config | what | samples/s | ms/step |")
        print("|---|---|---:|---:|")
        rows = []
        if archive.exists():
            run_prep([str(archive)], tmp / "nesmdb", PrepOptions(workers=os.cpu_count() or 1))
            for name in ("nesmdb", "nesmdb-ae", "nesmdb-mmd"):
                rows.append((name, load_config(name, [f"data.path={tmp / 'nesmdb'}", f"train.device={args.device}"])))
        else:
            print(f"(no {archive}: NES configs skipped)")
        rows.append(("lines", load_config("lines", [f"train.device={args.device}"])))
        for name, cfg in rows:
            what = f"{cfg.model.kind}, acai={'on' if cfg.acai.enabled else 'off'}, reg={cfg.regularizer.kind}"
            sps = samples_per_second(cfg, tmp / f"run-{name}", args.steps)
            print(f"| {name} | {what} | {sps:.0f} | {64 / sps * 1e3:.1f} |")

        dim = 64
        print(f"\n## Regularizer alone, forward + backward, d_z = {dim} ({where}), ms per step\n")
        print("| regularizer | batch 64 | batch 256 | batch 1024 |")
        print("|---|---:|---:|---:|")
        for kind in REGULARIZERS:
            cells = [regularizer_ms(kind, b, dim, device, 20 if b < 1024 else 5) for b in (64, 256, 1024)]
            print(f"| {kind} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")

        if device.type == "cpu":
            run_prep([str(ROOT / "nesinterp" / "examples")], tmp / "tiny", PrepOptions())
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nesinterp", "train", "--config", "tiny", "--data", str(tmp / "tiny"),
                            "--run-dir", str(tmp / "run-tiny"), "-q"], check=True, capture_output=True)
            print(f"\ntiny config, 150 steps, whole command from a cold start: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
