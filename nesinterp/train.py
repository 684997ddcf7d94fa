"""`nesinterp train`: config -> run directory (checkpoints, metrics, loss curves, sample interpolations).

One training step makes one forward pass: the autoencoder encodes a batch, decodes the reconstructions
and the ACAI mixes together, and the critic sees the decoded mixes and the real/reconstruction blend in
one call. The autoencoder's, critic's and latent discriminator's gradients are each taken from that
graph with ``backward(inputs=...)`` before any optimizer steps, so no update can invalidate another's
graph (the in-place error of several public ACAI ports). Data stays on the device.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .checkpoint import (
    MODEL_FORMAT, MODEL_VERSION, latest_checkpoint, load_tensors, optimizer_from_tensors,
    optimizer_to_tensors, write_checkpoint,
)
from .config import Config, ConfigError
from .data import Representation, ResidentSplit, transpose
from .errors import NesinterpError
from .jsonio import dumps
from .losses import REGULARIZERS, acai_alpha, acai_autoencoder_term, acai_blend, acai_critic_loss
from .models import Autoencoder, Critic


class TrainError(NesinterpError):
    """Training cannot start: missing data, an existing run dir, an incompatible checkpoint."""


# What a resumed run may change: when it stops and how it reports, not what it learns.
RESUMABLE_CHANGES = {"train.steps", "train.log_every", "train.checkpoint_every", "train.sample_every",
                     "train.eval_every", "train.threads", "train.device"}


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


# --- what is being learned ------------------------------------------------------------------------

class MusicTask:
    """NES-MDB windows as per-voice one-hot channels; cross-entropy reconstruction."""

    kind = "music"

    def __init__(self, cfg: Config, device: torch.device):
        from data_prep.dataset import Dataset, DatasetError

        try:
            dataset = Dataset(cfg.data.path)
            train = dataset.split("train")
        except DatasetError as exc:
            raise TrainError(str(exc)) from None
        self.rep = Representation(cfg.data.window, cfg.data.expressive)
        self.cfg = cfg
        try:
            self.train = ResidentSplit.from_split(train, cfg.data.window, device)
        except ValueError as exc:
            raise TrainError(f"{cfg.data.path}: {exc}") from None
        self.sample_windows = self._sample_windows(dataset)
        self.channels = self.rep.channels
        self.window = cfg.data.window
        self.dataset_info = {"path": str(cfg.data.path), "train_songs": self.train.songs_used,
                             "train_songs_too_short": self.train.songs_skipped}
        # The corpus's realism reference travels with the model, so every blend can be scored against it.
        from .evaluate.music import corpus_realism_reference

        self.dataset_info["realism_reference"] = corpus_realism_reference(train, cfg.data.window).to_dict()

    def _sample_windows(self, dataset) -> np.ndarray:
        """Two fixed windows to interpolate between at sample time: the first window of the first two
        sufficiently long songs of the valid split (train if there is none)."""
        split = dataset.split(self.cfg.data.valid_split if self.cfg.data.valid_split in dataset.splits else "train")
        out = []
        for i in range(len(split)):
            s = split.score(i)
            if s.frames >= self.cfg.data.window:
                out.append(np.asarray(s.array[: self.cfg.data.window]))
            if len(out) == 2:
                break
        return np.stack(out) if len(out) == 2 else np.zeros((0, self.cfg.data.window, 4, 3), np.uint8)

    def batch(self, n: int, gen: torch.Generator):
        windows = self.train.sample(n, gen)
        windows = transpose(windows, self.cfg.data.transpose, gen)
        targets = self.rep.targets(windows)
        return self.rep.one_hot(targets), targets

    def inputs(self, windows: np.ndarray, device) -> torch.Tensor:
        return self.rep.one_hot(self.rep.targets(torch.from_numpy(windows).to(device)))

    def recon_loss(self, logits: torch.Tensor, targets: dict, x: torch.Tensor) -> torch.Tensor:
        heads = self.rep.split_logits(logits.float())
        if self.cfg.train.recon_loss == "mse":  # the seed's squared error on probabilities
            return F.mse_loss(self.rep.probabilities(logits.float()), x.float()) * x.shape[1]
        loss = sum(F.cross_entropy(heads["notes"][v], targets["notes"][:, v]) for v in range(4))
        if self.rep.expressive:
            loss = loss + sum(F.cross_entropy(h, targets["velocity"][:, i]) for i, h in enumerate(heads["velocity"]))
            loss = loss + sum(F.cross_entropy(h, targets["timbre"][:, v]) for v, h in enumerate(heads["timbre"]))
        return loss

    def accuracy(self, logits: torch.Tensor, targets: dict) -> torch.Tensor:
        heads = self.rep.split_logits(logits)
        hits = [(heads["notes"][v].argmax(1) == targets["notes"][:, v]).float().mean() for v in range(4)]
        return torch.stack(hits).mean()

    def critic_view(self, logits: torch.Tensor) -> torch.Tensor:
        return self.rep.probabilities(logits)


class ImageTask:
    """MNIST (resident on the device) or the endless lines stream; images in [-1, 1], squared error."""

    kind = "image"

    def __init__(self, cfg: Config, device: torch.device, gen: torch.Generator):
        from . import images

        self.cfg = cfg
        self.channels, self.window = 1, 32
        if cfg.data.kind == "mnist":
            try:
                imgs, _labels = images.load_mnist(cfg.data.path, "train")
                test, _ = images.load_mnist(cfg.data.path, "test")
            except (OSError, ValueError) as exc:
                raise TrainError(str(exc)) from None
            self.images = torch.as_tensor(imgs, device=device)
            self.stream = None
            self.sample_images = np.asarray(test[:2])
            self.dataset_info = {"path": str(cfg.data.path), "train_images": len(imgs)}
        else:
            self.images = None
            self.stream = images.LinesStream(device, gen)
            self.sample_images = np.asarray(images.render_lines(np.array([0.3, 2.5])))
            self.dataset_info = {"kind": "lines stream"}
        self._evaluator = None
        self.device = device

    def evaluate(self, autoencoder) -> dict | None:
        """The lines benchmark's scores of the current model (None for MNIST: its probe runs after training)."""
        if self.stream is None:
            return None
        if self._evaluator is None:
            from .evaluate.lines import LinesEvaluator

            self._evaluator = LinesEvaluator(self.device)
        return self._evaluator(autoencoder)

    def batch(self, n: int, gen: torch.Generator):
        if self.stream is not None:
            x, _theta = self.stream.sample(n)
        else:
            idx = torch.randint(0, len(self.images), (n,), generator=gen, device=self.images.device)
            x = self.images[idx]
        return x, None

    def inputs(self, arrays: np.ndarray, device) -> torch.Tensor:
        return torch.as_tensor(arrays, device=device)

    def recon_loss(self, output, targets, x):
        return F.mse_loss(output.float(), x.float())

    def accuracy(self, output, targets):
        return None

    def critic_view(self, output):
        return output


# --- the run ----------------------------------------------------------------------------------------

@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _distributed_from_env() -> Distributed:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(setting: str, dist_info: Distributed) -> torch.device:
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError("train.device is cuda but no CUDA device is available")
        if setting == "cuda" and dist_info.world > 1:
            setting = f"cuda:{dist_info.local_rank}"
        torch.cuda.set_device(torch.device(setting))
    return torch.device(setting)


def model_description(cfg: Config, task, latent_dim: int, step: int) -> dict:
    rep = getattr(task, "rep", None)
    return {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "tool_version": __version__,
        "task": task.kind,
        "config": cfg.to_dict(),
        "channels": task.channels,
        "window": task.window,
        "latent_dim": latent_dim,
        "representation": {"window": rep.window, "expressive": rep.expressive} if rep else None,
        "step": step,
        "data": task.dataset_info,
    }


class RunLock:
    """``run_dir/.lock`` holding the training process's pid, so two processes never train (and write
    checkpoints into) the same run at once. A lock whose process has ended is stale and taken over."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and holder != os.getpid() and _alive(holder):
                    raise TrainError(f"{run_dir}: being trained by another process (pid {holder}); wait for it "
                                     "or stop it first") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            return
        raise TrainError(f"{run_dir}: could not take the run's lock {self.path}")

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._holder() == os.getpid():
            self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, resume: bool = False, progress: bool = True):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.dist = _distributed_from_env()
        self.device = pick_device(cfg.train.device, self.dist)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.use_amp = cfg.train.amp == "bf16" or (cfg.train.amp == "auto" and self.device.type == "cuda")
        self.progress = progress and self.dist.main and sys.stderr.isatty()

        self._prepare_run_dir(resume)
        self.lock = RunLock(self.run_dir) if self.dist.main else None
        torch.manual_seed(cfg.train.seed)  # same initial weights on every rank
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.train.seed * 1000003 + self.dist.rank + 1)
        self.task = MusicTask(cfg, self.device) if cfg.data.kind == "nesmdb" else ImageTask(cfg, self.device, self.gen)

        self.ae = Autoencoder(cfg.model, self.task.channels, self.task.window).to(self.device)
        self.critic = Critic(cfg.model, self.task.channels, self.task.window).to(self.device) if cfg.acai.enabled else None
        self.regularizer = REGULARIZERS.get(cfg.regularizer.kind)  # None: regularizer.kind is none
        adversary = self.regularizer.adversary if self.regularizer else None
        self.disc = adversary.build(self.ae.latent_dim).to(self.device) if adversary else None
        o = cfg.optim
        self.opt_ae = torch.optim.Adam(self.ae.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.acai.lr, betas=(o.beta1, o.beta2)) if self.critic else None
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), lr=cfg.regularizer.lr, betas=adversary.betas) if self.disc else None

        self.step = 0
        self.metrics_offset = 0
        if resume:
            self._load_checkpoint()
        self.ae_run, self.critic_run, self.disc_run = self.ae, self.critic, self.disc
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ae_run = DDP(self.ae, device_ids=ids)
            self.critic_run = DDP(self.critic, device_ids=ids) if self.critic else None
            self.disc_run = DDP(self.disc, device_ids=ids) if self.disc else None

    # --- run directory ---------------------------------------------------------------------------
    def _prepare_run_dir(self, resume: bool) -> None:
        if resume:
            if latest_checkpoint(self.run_dir) is None:
                raise TrainError(f"{self.run_dir}: nothing to resume (no complete checkpoint)")
            saved_path = self.run_dir / "config.yaml"
            if saved_path.exists():
                from .config import load_config

                changed = _changed_keys(load_config(saved_path).to_dict(), self.cfg.to_dict())
                fixed = [k for k in changed if k not in RESUMABLE_CHANGES]
                if fixed:
                    raise TrainError(f"{self.run_dir}: {fixed[0]} differs from the run's config.yaml; a resumed "
                                     f"run may change only {', '.join(sorted(RESUMABLE_CHANGES))}")
                if changed and self.dist.main:
                    saved_path.write_text(self.cfg.to_yaml())
            return
        if not self.dist.main:
            return  # rank 0 owns the run directory
        if self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise TrainError(f"{self.run_dir}: run directory exists; use --resume to continue it or "
                             "--run-dir for a new run")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(self.cfg.to_yaml())

    def _state(self) -> tuple[dict, dict]:
        tensors, meta = {}, {"step": self.step, "metrics_offset": self.metrics_offset,
                             "world": self.dist.world, "optimizers": {}}
        for name, module in (("critic", self.critic), ("disc", self.disc)):
            if module is not None:
                tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
        for name, opt in (("opt_ae", self.opt_ae), ("opt_critic", self.opt_critic), ("opt_disc", self.opt_disc)):
            if opt is not None:
                t, plain = optimizer_to_tensors(name, opt)
                tensors.update(t)
                meta["optimizers"][name] = plain
        tensors["rng.generator"] = self.gen.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors, meta

    def save(self) -> None:
        if not self.dist.main:
            return
        tensors, meta = self._state()
        model_meta = model_description(self.cfg, self.task, self.ae.latent_dim, self.step)
        write_checkpoint(self.run_dir, self.step, self.ae.state_dict(), model_meta, tensors, meta)
        self._plot_losses()

    def _load_checkpoint(self) -> None:
        folder = latest_checkpoint(self.run_dir)
        meta = json.loads((folder / "train_state.json").read_text())
        if meta.get("world", 1) != self.dist.world:
            raise TrainError(f"{self.run_dir}: started with {meta.get('world', 1)} processes; resume with the same number")
        weights = load_tensors(folder / "model.safetensors", self.device)
        state = load_tensors(folder / "train_state.safetensors", self.device)
        try:
            self.ae.load_state_dict(weights)
            for name, module in (("critic", self.critic), ("disc", self.disc)):
                if module is not None:
                    module.load_state_dict({k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")})
            for name, opt in (("opt_ae", self.opt_ae), ("opt_critic", self.opt_critic), ("opt_disc", self.opt_disc)):
                if opt is not None:
                    optimizer_from_tensors(name, opt, state, meta["optimizers"][name])
        except (RuntimeError, KeyError) as exc:
            raise TrainError(f"{folder}: checkpoint does not fit this config ({str(exc).splitlines()[0]})") from None
        self.gen.set_state(state["rng.generator"].cpu())
        torch.set_rng_state(state["rng.torch"].cpu())
        self.step = int(meta["step"])
        self.metrics_offset = int(meta["metrics_offset"])
        metrics = self.run_dir / "metrics.jsonl"
        if self.dist.main and metrics.exists():
            with open(metrics, "r+b") as f:  # drop lines logged after the checkpoint: they will be redone
                f.truncate(self.metrics_offset)

    # --- one step ----------------------------------------------------------------------------------
    def train_step(self) -> dict:
        cfg, gen = self.cfg, self.gen
        x, targets = self.task.batch(cfg.train.batch, gen)
        batch = x.shape[0]
        alpha = acai_alpha(batch, gen, self.device) if self.critic is not None else None
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.use_amp else nullcontext()
        with autocast:
            z, out, mix_out = self.ae_run(x, alpha)
            recon = self.task.recon_loss(out, targets, x)
            loss_ae = recon
            logs = {"recon": recon}
            if self.critic is not None:
                view_mix = self.task.critic_view(mix_out)
                blend = acai_blend(x, self.task.critic_view(out), cfg.acai.gamma)
                scores = self.critic_run(torch.cat([view_mix, blend.to(view_mix.dtype)])).float()
                d_mix, d_blend = scores[:batch], scores[batch:]
                acai_term = acai_autoencoder_term(d_mix)
                loss_critic = acai_critic_loss(d_mix, alpha, d_blend)
                loss_ae = loss_ae + cfg.acai.weight * acai_term
                logs.update(acai=acai_term, critic=loss_critic)
        z = z.float()
        if self.regularizer is not None:
            reg, loss_disc = self.regularizer.terms(z, gen, self.disc_run)
            if loss_disc is not None:
                loss_disc = cfg.regularizer.weight * loss_disc
                logs["disc"] = loss_disc
            loss_ae = loss_ae + cfg.regularizer.weight * reg
            logs["reg"] = reg

        # Every gradient from the one graph before any parameter changes.
        for opt in (self.opt_ae, self.opt_critic, self.opt_disc):
            if opt is not None:
                opt.zero_grad(set_to_none=True)
        more = self.critic is not None or self.disc is not None
        torch.autograd.backward(loss_ae, inputs=list(self.ae.parameters()), retain_graph=more)
        if self.critic is not None:
            torch.autograd.backward(loss_critic, inputs=list(self.critic.parameters()), retain_graph=self.disc is not None)
        if self.disc is not None:
            torch.autograd.backward(loss_disc, inputs=list(self.disc.parameters()))
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.ae.parameters(), cfg.optim.grad_clip)
        for opt in (self.opt_ae, self.opt_critic, self.opt_disc):
            if opt is not None:
                opt.step()
        logs["loss"] = loss_ae
        acc = self.task.accuracy(out.detach(), targets)
        if acc is not None:
            logs["accuracy"] = acc
        return logs

    # --- the loop ----------------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.cfg.train
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, unit="step",
                   file=sys.stderr, dynamic_ncols=True, desc=self.cfg.name)
        writer = self._tensorboard()
        last = {}
        window_start, window_steps = time.perf_counter(), 0
        try:
            while self.step < cfg.steps:
                logs = self.train_step()
                self.step += 1
                window_steps += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    if self.device.type == "cuda":
                        torch.cuda.synchronize()
                    elapsed = time.perf_counter() - window_start
                    last = {k: round(float(v.detach()), 6) for k, v in logs.items()}
                    last["samples_per_s"] = round(window_steps * cfg.batch * self.dist.world / max(elapsed, 1e-9), 1)
                    last["step"] = self.step
                    self._log(last, writer)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in last.items() if k in ("loss", "recon", "acai", "critic", "reg", "accuracy")})
                    window_start, window_steps = time.perf_counter(), 0
                if self.step % cfg.sample_every == 0 and self.dist.main:
                    self.write_samples()
                if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps) and self.dist.main:
                    self.evaluate()
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save()
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        if self.dist.main and cfg.steps % cfg.sample_every != 0:
            self.write_samples()
        return last

    def evaluate(self) -> None:
        """Benchmark scores of the model now, appended to evaluations.jsonl (tasks that have them)."""
        evaluate = getattr(self.task, "evaluate", None)
        scores = evaluate(self.ae) if evaluate is not None else None
        if scores is None:
            return
        with open(self.run_dir / "evaluations.jsonl", "a") as f:
            f.write(dumps({"step": self.step, **scores}) + "\n")

    def _log(self, record: dict, writer) -> None:
        for key, value in record.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise TrainError(f"training diverged at step {self.step}: {key} is {value} "
                                 "(lower optim.lr or a loss weight)")
        if not self.dist.main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(dumps(record) + "\n")
            self.metrics_offset = f.tell()
        if writer is not None:
            for key, value in record.items():
                if key != "step":
                    writer.add_scalar(key, value, self.step)

    def _tensorboard(self):
        if not self.dist.main:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            return None
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    def _plot_losses(self) -> None:
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not records:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = [k for k in ("loss", "recon", "acai", "critic", "reg", "disc", "accuracy") if k in records[-1]]
        fig, axes = plt.subplots(len(keys), 1, figsize=(7, 1.8 * len(keys)), sharex=True, squeeze=False)
        steps = [r["step"] for r in records]
        for ax, key in zip(axes[:, 0], keys):
            ax.plot(steps, [r.get(key, float("nan")) for r in records], lw=1)
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("step")
        fig.suptitle(f"{self.cfg.name}: {self.run_dir.name}")
        fig.tight_layout()
        tmp = self.run_dir / ".loss_curves.tmp.png"
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        os.replace(tmp, self.run_dir / "loss_curves.png")

    @torch.no_grad()
    def write_samples(self, steps: int = 8) -> None:
        """An interpolation between two held-out windows, written as NES-MDB MIDI (music) or PNG (images)."""
        source = getattr(self.task, "sample_windows", None)
        if source is None:
            source = self.task.sample_images
        if len(source) < 2:
            return
        self.ae.eval()
        try:
            x = self.task.inputs(source, self.device).float()
            out = self.ae.interpolate(x[:1], x[1:2], steps)[0].float()
        finally:
            self.ae.train()
        folder = self.run_dir / "samples"
        folder.mkdir(exist_ok=True)
        if self.task.kind == "music":
            from data_prep.nesmdb_midi import write_nesmdb_midi
            from nesinterp.score import Score

            arrays = self.task.rep.decode(out.cpu())
            gap = np.zeros((12, 4, 3), np.uint8)
            morph = np.concatenate([np.concatenate([a, gap]) for a in arrays])
            write_nesmdb_midi(Score(morph, f"step-{self.step}"), folder / f"step-{self.step:08d}.mid")
        else:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            imgs = out.cpu().numpy()[:, 0]
            fig, axes = plt.subplots(1, steps, figsize=(steps, 1.2))
            for ax, img in zip(axes, imgs):
                ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
                ax.axis("off")
            fig.savefig(folder / f"step-{self.step:08d}.png", dpi=80)
            plt.close(fig)


def train(cfg: Config, run_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train ``cfg`` into ``run_dir`` (or continue it) and return the last logged metrics."""
    trainer = Trainer(cfg, Path(run_dir), resume=resume, progress=progress)
    try:
        return trainer.fit()
    finally:
        if trainer.lock is not None:
            trainer.lock.release()
        if trainer.dist.world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def is_trained(run_dir: str | Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a model trained to at least ``steps``."""
    meta = Path(run_dir) / "model.json"
    try:
        return json.loads(meta.read_text()).get("step", -1) >= steps
    except (OSError, ValueError):
        return False


def ensure_trained(cfg: Config | dict, run_dir: str | Path, threads: int = 0) -> bool:
    """Train ``cfg`` into ``run_dir``, resume it where a checkpoint exists, or do nothing when it is
    already trained to train.steps (benchmarks rerun cheaply). True when it trained. Picklable for
    worker processes: ``cfg`` may be a config dict."""
    from .config import config_from_dict

    cfg = config_from_dict(cfg) if isinstance(cfg, dict) else cfg
    if is_trained(run_dir, cfg.train.steps):
        return False
    if threads:
        torch.set_num_threads(threads)
    train(cfg, run_dir, resume=latest_checkpoint(Path(run_dir)) is not None, progress=False)
    return True


__all__ = ["ConfigError", "TrainError", "Trainer", "ensure_trained", "is_trained", "train"]
