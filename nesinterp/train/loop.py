"""The training loop: ``Trainer`` (one step, the loop, checkpoints), ``train`` and ``ensure_trained``.

One training step makes one forward pass: the autoencoder encodes a batch, decodes the reconstructions
and the ACAI mixes together, and the critic sees the decoded mixes and the real/reconstruction blend in
one call. The autoencoder's, critic's and latent discriminator's gradients are each taken from that
graph with ``backward(inputs=...)`` before any optimizer steps, so no update can invalidate another's
graph (the in-place error of several public ACAI ports). Data stays on the device.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch

from ..checkpoint import latest_checkpoint, load_tensors, optimizer_from_tensors, optimizer_to_tensors, write_checkpoint
from ..config import Config, config_from_dict
from ..errors import NesinterpError, TrainError
from ..jsonio import dumps
from ..losses import REGULARIZERS, acai_alpha, acai_autoencoder_term, acai_blend, acai_critic_loss
from ..models import Autoencoder, Critic
from .ema import WeightAverage
from .distributed import default_threads, distributed_from_env, leave, pick_device, replicated
from .progress import append_metrics, open_tensorboard, plot_loss_curves, write_samples
from .rundir import RunLock, is_trained, model_description, prepare_run_dir
from .tasks import make_task

SHOWN = ("loss", "recon", "acai", "critic", "reg", "accuracy")  # beside the progress bar


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, resume: bool = False, progress: bool = True,
                 force: bool = False):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.dist = distributed_from_env()
        self.lock = None
        created = False
        if self.dist.main:
            created = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.lock = RunLock(self.run_dir)  # before anything in the run directory is read or changed
        try:
            self._setup(cfg, resume, progress, force)
        except BaseException:
            # A run that could not start leaves nothing behind that would stop the same command next time.
            if self.lock is not None:
                self.lock.release()
            if created and latest_checkpoint(self.run_dir) is None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            leave(self.dist)
            raise

    def _setup(self, cfg: Config, resume: bool, progress: bool, force: bool) -> None:
        self.device = pick_device(cfg.train.device, self.dist)
        self.threads = cfg.train.threads or default_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        self.use_amp = cfg.train.amp == "bf16" or (cfg.train.amp == "auto" and self.device.type == "cuda")
        self.progress = progress and self.dist.main and sys.stderr.isatty()

        if self.dist.main:
            resuming = prepare_run_dir(cfg, self.run_dir, resume, True, force)
        else:
            resuming = resume and not force and latest_checkpoint(self.run_dir) is not None
        torch.manual_seed(cfg.train.seed)  # same initial weights on every rank
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.train.seed * 1000003 + self.dist.rank + 1)
        self.task = make_task(cfg, self.device, self.gen)

        self.ae = Autoencoder(cfg.model, self.task.channels, self.task.window).to(self.device)
        if self.ae.head is not None and getattr(self.task, "rep", None) is not None:
            self.ae.head.code_only(self.task.rep.pitch_channels)  # pitch from the code, kinds from the past too
        if cfg.train.init_from and not resuming:
            self.ae.load_state_dict(initial_weights(cfg, self.task.channels, self.task.window))
        critic_model = (replace(cfg.model, width=cfg.acai.critic_width, max_width=min(cfg.model.max_width, 4 * cfg.acai.critic_width))
                        if cfg.acai.critic_width else cfg.model)
        self.critic = Critic(critic_model, self.task.channels, self.task.window).to(self.device) if cfg.acai.enabled else None
        self.regularizer = REGULARIZERS.get(cfg.regularizer.kind)  # None: regularizer.kind is none
        adversary = self.regularizer.adversary if self.regularizer else None
        reg_dim = self.ae.regularizer_samples(torch.zeros(1, self.ae.latent_dim)).shape[1]
        self.disc = adversary.build(reg_dim).to(self.device) if adversary else None
        o = cfg.optim
        if cfg.train.freeze == "decoder":  # gradients still flow through the decoder to the codes
            for module in (self.ae.decoder, self.ae.head):
                if module is not None:
                    module.requires_grad_(False)
        self.trained = [p for p in self.ae.parameters() if p.requires_grad]
        self.opt_ae = torch.optim.Adam(self.trained, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.acai.lr, betas=(o.beta1, o.beta2)) if self.critic else None
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), lr=cfg.regularizer.lr, betas=adversary.betas) if self.disc else None

        self.step = 0
        self.metrics_offset = 0
        self.ema = WeightAverage(self.ae, cfg.train.ema) if cfg.train.ema > 0 else None
        if resuming:
            self._load_checkpoint()
        # What the step calls: the modules themselves, or their DistributedDataParallel wrappers.
        self.ae_run = replicated(self.ae, self.dist, self.device)
        self.critic_run = replicated(self.critic, self.dist, self.device)
        self.disc_run = replicated(self.disc, self.dist, self.device)

    # --- one step ----------------------------------------------------------------------------------
    def train_step(self, measure: bool = False) -> dict:
        """One step; ``measure``: also log ``acai_grad_share``, the weighted ACAI term's share of the
        decoder's gradient norm beside reconstruction's (one process only; costs two extra backward
        passes, so the loop asks for it on logged steps only). Measuring changes no update."""
        cfg, gen = self.cfg, self.gen
        x, targets = self.task.batch(cfg.train.batch, gen)
        batch = x.shape[0]
        alpha = acai_alpha(batch, gen, self.device) if self.critic is not None else None
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.use_amp else nullcontext()
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
                if cfg.acai.agreement_weight > 0:
                    logs["agreement"] = self.task.agreement_loss(mix_out, targets)
                    loss_ae = loss_ae + cfg.acai.agreement_weight * logs["agreement"]
                if measure and self.dist.world == 1 and not cfg.train.freeze:
                    logs["acai_grad_share"] = self._gradient_share(recon, cfg.acai.weight * acai_term)
        z = z.float()
        if self.regularizer is not None:
            reg, loss_disc = self.regularizer.terms(self.ae.regularizer_samples(z), gen, self.disc_run)
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
        torch.autograd.backward(loss_ae, inputs=self.trained, retain_graph=more)
        if self.critic is not None:
            torch.autograd.backward(loss_critic, inputs=list(self.critic.parameters()), retain_graph=self.disc is not None)
        if self.disc is not None:
            torch.autograd.backward(loss_disc, inputs=list(self.disc.parameters()))
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.trained, cfg.optim.grad_clip)
        for group in self.opt_ae.param_groups:
            group["lr"] = learning_rate(cfg, self.step)
        for opt in (self.opt_ae, self.opt_critic, self.opt_disc):
            if opt is not None:
                opt.step()
        if self.ema is not None:
            self.ema.update(self.step)
        logs["loss"] = loss_ae
        if cfg.optim.schedule != "constant" or cfg.optim.warmup_steps:
            logs["lr"] = torch.tensor(learning_rate(cfg, self.step))
        acc = self.task.accuracy(out.detach(), targets)
        if acc is not None:
            logs["accuracy"] = acc
        return logs

    def _gradient_share(self, recon: torch.Tensor, acai: torch.Tensor) -> torch.Tensor:
        """|grad acai| / (|grad recon| + |grad acai|) over the decoder's parameters: about 0 when the
        critic's term barely moves the decoder, 0.5 when both pull as hard."""
        params = list(self.ae.decoder.parameters())

        def norm(loss):
            grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            return torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None))

        n_recon, n_acai = norm(recon), norm(acai)
        return (n_acai / (n_recon + n_acai).clamp_min(1e-12)).detach()

    # --- the loop ----------------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.cfg.train
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, unit="step",
                   file=sys.stderr, dynamic_ncols=True, desc=self.cfg.name)
        writer = open_tensorboard(self.run_dir) if self.dist.main else None
        last = {}
        window_start, window_steps = time.perf_counter(), 0
        saved_at, saved_step = time.monotonic(), self.step
        stop = _GracefulStop() if self.dist.world == 1 else None
        try:
            while self.step < cfg.steps:
                if stop is not None and stop.requested:
                    # Stopped between two steps: keep everything up to here, then stop as asked.
                    if self.step > 0 and self.step != saved_step:
                        self.save()
                    raise KeyboardInterrupt
                logs = self.train_step(measure=(self.step + 1) % cfg.log_every == 0 or self.step + 1 == cfg.steps)
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
                    bar.set_postfix({k: f"{v:.3g}" for k, v in last.items() if k in SHOWN})
                    window_start, window_steps = time.perf_counter(), 0
                if self.step % cfg.sample_every == 0 and self.dist.main:
                    self.write_samples()
                if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps) and self.dist.main:
                    self.evaluate()
                due = cfg.checkpoint_minutes > 0 and time.monotonic() - saved_at >= 60 * cfg.checkpoint_minutes
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps or due:
                    self.save()
                    saved_at, saved_step = time.monotonic(), self.step
        finally:
            if stop is not None:
                stop.restore()
            bar.close()
            if writer is not None:
                writer.close()
        if self.dist.main and cfg.steps % cfg.sample_every != 0:
            self.write_samples()
        return last

    def _log(self, record: dict, writer) -> None:
        for key, value in record.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise TrainError(f"training diverged at step {self.step}: {key} is {value} "
                                 "(lower optim.lr or a loss weight)")
        if self.dist.main:
            self.metrics_offset = append_metrics(self.run_dir, record, writer)

    def evaluate(self) -> None:
        """Benchmark scores of the model now, appended to evaluations.jsonl (tasks that have them)."""
        evaluate = getattr(self.task, "evaluate", None)
        scores = evaluate(self.ae) if evaluate is not None else None
        if scores is None:
            return
        with open(self.run_dir / "evaluations.jsonl", "a") as f:
            f.write(dumps({"step": self.step, **scores}) + "\n")

    def write_samples(self, steps: int = 8) -> None:
        """An interpolation between two held-out windows, written as NES-MDB MIDI (music) or PNG (images)."""
        write_samples(self.ae, self.task, self.device, self.run_dir, self.step, steps)

    # --- checkpoints -------------------------------------------------------------------------------
    def save(self) -> None:
        if not self.dist.main:
            return
        tensors, meta = self._state()
        weights = self.ae.state_dict() if self.ema is None else self.ema.weights()  # what blends use
        calibrate = getattr(self.task, "calibrate", None)
        if calibrate is not None:  # onset thresholds, sounding biases, volume tilts: chosen on valid
            calibrate(self.ae if self.ema is None else self.ema.averaged_module())  # for the weights written
        model_meta = model_description(self.cfg, self.task, self.ae.latent_dim, self.step)
        write_checkpoint(self.run_dir, self.step, weights, model_meta, tensors, meta)
        plot_loss_curves(self.run_dir, f"{self.cfg.name}: {self.run_dir.name}")

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
        if self.ema is not None:
            tensors.update(self.ema.live_tensors())
        tensors["rng.generator"] = self.gen.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors, meta

    def _load_checkpoint(self) -> None:
        folder = latest_checkpoint(self.run_dir)
        meta = json.loads((folder / "train_state.json").read_text())
        if meta.get("world", 1) != self.dist.world:
            raise TrainError(f"{self.run_dir}: started with {meta.get('world', 1)} processes; resume with the same number")
        weights = load_tensors(folder / "model.safetensors", self.device)
        state = load_tensors(folder / "train_state.safetensors", self.device)
        try:
            self.ae.load_state_dict(weights)
            if self.ema is not None:
                self.ema.restore(weights, state)
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


def learning_rate(cfg: Config, step: int) -> float:
    """The autoencoder's learning rate at ``step`` (counted from 0): optim.lr, rising linearly over
    optim.warmup_steps, and for the cosine schedule falling to 0 at train.steps. A function of the step
    alone, so a resumed run goes on exactly where it stopped."""
    o = cfg.optim
    rate = o.lr * min(1.0, (step + 1) / o.warmup_steps) if o.warmup_steps else o.lr
    if o.schedule == "cosine":
        rate *= 0.5 * (1 + math.cos(math.pi * min(step, cfg.train.steps) / max(cfg.train.steps, 1)))
    return rate


def initial_weights(cfg: Config, channels: int, window: int) -> dict:
    """The autoencoder weights named by train.init_from, checked to fit ``cfg``'s model."""
    from ..checkpoint import load_autoencoder
    from ..trained_model import PRETRAINED

    source = PRETRAINED if cfg.train.init_from == "pretrained" else Path(cfg.train.init_from)
    try:
        autoencoder, meta, init_cfg = load_autoencoder(source)
    except NesinterpError as exc:
        raise TrainError(f"train.init_from: {exc}") from None
    if init_cfg.model != cfg.model or int(meta["channels"]) != channels or int(meta["window"]) != window:
        raise TrainError(f"train.init_from: {source} is a different model (its model section, channels or "
                         "window differ from this config's); fine-tuning needs the same architecture")
    return autoencoder.state_dict()


class _GracefulStop:
    """While training one process: the first Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after the
    step under way, so it can checkpoint first; a second one stops at once."""

    def __init__(self):
        self.requested = False
        self.previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave the signals alone
                pass

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def train(cfg: Config, run_dir: str | Path, resume: bool = False, progress: bool = True,
          force: bool = False) -> dict:
    """Train ``cfg`` into ``run_dir`` and return the last logged metrics. ``resume``: continue from the
    latest checkpoint; ``force``: start the run over. A Ctrl-C or SIGTERM saves a checkpoint at the
    step reached and raises KeyboardInterrupt; ``resume`` then continues from there."""
    trainer = Trainer(cfg, Path(run_dir), resume=resume, progress=progress, force=force)
    try:
        return trainer.fit()
    finally:
        if trainer.lock is not None:
            trainer.lock.release()
        leave(trainer.dist)


def ensure_trained(cfg: Config | dict, run_dir: str | Path, threads: int = 0) -> bool:
    """Train ``cfg`` into ``run_dir``, resume it where a checkpoint exists, or do nothing when it is
    already trained to train.steps (benchmarks rerun cheaply). True when it trained. Picklable for
    worker processes: ``cfg`` may be a config dict."""
    cfg = config_from_dict(cfg) if isinstance(cfg, dict) else cfg
    if is_trained(run_dir, cfg.train.steps):
        return False
    if threads:
        cfg = replace(cfg, train=replace(cfg.train, threads=threads))
    train(cfg, run_dir, resume=True, progress=False)
    return True
