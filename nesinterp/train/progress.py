"""How a run shows its progress beside its checkpoints: metrics.jsonl (and TensorBoard when installed),
loss_curves.png, and sample interpolations in samples/ (NES-MDB MIDI for music, PNG for images)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..jsonio import dumps

CURVES = ("loss", "recon", "acai", "critic", "reg", "disc", "accuracy")  # plotted when logged


def open_tensorboard(run_dir: Path):
    """A SummaryWriter into run_dir/tensorboard, or None where tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def append_metrics(run_dir: Path, record: dict, writer=None) -> int:
    """Append ``record`` (with its "step") to metrics.jsonl and TensorBoard; returns the log's length
    in bytes, where a resumed run cuts it (lines logged after the checkpoint are redone)."""
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write(dumps(record) + "\n")
        offset = f.tell()
    if writer is not None:
        for key, value in record.items():
            if key != "step":
                writer.add_scalar(key, value, record["step"])
    return offset


def plot_loss_curves(run_dir: Path, title: str) -> None:
    """loss_curves.png: each logged loss against the step, from metrics.jsonl (replaced atomically)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not records:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in CURVES if k in records[-1]]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 1.8 * len(keys)), sharex=True, squeeze=False)
    steps = [r["step"] for r in records]
    for ax, key in zip(axes[:, 0], keys):
        ax.plot(steps, [r.get(key, float("nan")) for r in records], lw=1)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    tmp = run_dir / ".loss_curves.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, run_dir / "loss_curves.png")


@torch.no_grad()
def write_samples(autoencoder, task, device, run_dir: Path, step: int, steps: int = 8) -> None:
    """An interpolation in ``steps`` steps between the task's two held-out windows (or images), written
    as samples/step-NNNNNNNN.mid (music) or .png (images)."""
    source = getattr(task, "sample_windows", None)
    if source is None:
        source = task.sample_images
    if len(source) < 2:
        return
    autoencoder.eval()
    try:
        x = task.inputs(source, device).float()
        out = autoencoder.interpolate(x[:1], x[1:2], steps)[0].float()
    finally:
        autoencoder.train()
    folder = run_dir / "samples"
    folder.mkdir(exist_ok=True)
    if task.kind == "music":
        from nesinterp.io.nesmdb_midi import write_nesmdb_midi

        from ..score import Score

        arrays = task.rep.decode(out.cpu())
        gap = np.zeros((12, 4, 3), np.uint8)
        morph = np.concatenate([np.concatenate([a, gap]) for a in arrays])
        write_nesmdb_midi(Score(morph, f"step-{step}"), folder / f"step-{step:08d}.mid")
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        imgs = out.cpu().numpy()[:, 0]
        fig, axes = plt.subplots(1, steps, figsize=(steps, 1.2))
        for ax, img in zip(axes, imgs):
            ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
            ax.axis("off")
        fig.savefig(folder / f"step-{step:08d}.png", dpi=80)
        plt.close(fig)
