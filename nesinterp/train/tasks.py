"""What a run learns: music windows (``MusicTask``: NES-MDB one-hot channels, cross-entropy) or images
(``ImageTask``: MNIST or the endless lines stream, squared error). A task gives the trainer batches, its
reconstruction loss, what the critic sees, and the inputs of the sample interpolations."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config
from ..articulation import onset_flags
from ..representation import TIMBRE_CLASSES, VELOCITY_CLASSES, Representation
from .batches import ResidentSplit, transpose
from ..errors import TrainError

CALIBRATION_WINDOWS = 2048


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
        self.rep = Representation(cfg.data.window, cfg.data.expressive, cfg.data.onsets, notes=cfg.data.notes)
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
        from ..evaluate.music import corpus_realism_reference

        self.dataset_info["realism_reference"] = corpus_realism_reference(train, cfg.data.window).to_dict()
        self._balance = self._head_balance(device) if cfg.train.recon_loss == "balanced" else None
        self._calibration = self._calibration_windows(dataset, device) if self.rep.onsets else None

    def _head_balance(self, device) -> dict:
        """The normalisers of the balanced loss: each categorical head's cross-entropy is divided by that
        of a uniform guess, log(classes); the onset flags are weighted for their rarity (positive weight
        sqrt(negatives / positives) per voice, from the train split) and divided by their loss at
        probability 1/2, so every head starts near 1 and none outweighs the others by its size."""
        out = {"notes": [math.log(c) for c in self.rep.note_classes], "pitch": [math.log(c) for c in self.rep.pitch_classes],
               "velocity": math.log(VELOCITY_CLASSES),
               "timbre": [math.log(c) if c > 1 else None for c in TIMBRE_CLASSES]}
        if self.rep.events and self.cfg.train.events_norm == "decision":  # one decision's uniform guess
            out["notes"] = out["pitch"] = [math.log(2 + c) for c in self.rep.pitch_classes]
        if self.rep.onsets:
            gen = torch.Generator(device=self.train.device).manual_seed(12345)
            flags = onset_flags(self.train.sample(4096, gen)).float()
            rate = flags.mean(dim=(0, 2)).clamp(1e-4, 0.5)
            weight = ((1 - rate) / rate).sqrt()
            out["onset_weight"] = weight.to(device).view(1, 4, 1)
            out["onset_norm"] = (math.log(2) * (weight * rate + 1 - rate)).to(device).view(1, 4)
        return out

    def _calibration_windows(self, dataset, device) -> torch.Tensor | None:
        """Fixed valid windows (evenly spread, at most CALIBRATION_WINDOWS) on which each checkpoint's
        onset thresholds, sounding biases and volume tilts are chosen."""
        from ..evaluate.music import corpus_windows

        name = self.cfg.data.valid_split if self.cfg.data.valid_split in dataset.splits else "train"
        windows = corpus_windows(dataset.split(name), self.cfg.data.window, CALIBRATION_WINDOWS)
        return torch.from_numpy(windows).to(device) if len(windows) else None

    @torch.no_grad()
    def calibrate(self, autoencoder) -> None:
        """Choose each voice's onset threshold (the probability above which a decoded onset fires) for
        the best onset F1 (+-1 frame) of the decoded windows on the valid split, then its sounding bias
        so it sounds as often as the real windows do and its volume tilt so it plays as loud. Sets
        ``rep``."""
        if self._calibration is None:
            return
        from ..articulation import calibrated
        from ..trained_model import TrainedModel

        was_training = autoencoder.training
        model = TrainedModel(autoencoder, self.rep, {}, "training")  # the encoder's codes: refine 0
        logits = model.window_logits(self._calibration.cpu().numpy(), refine=0)
        autoencoder.train(was_training)
        self.rep = calibrated(self.rep, logits, self._calibration.cpu().numpy())

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
        if self.cfg.data.swap_pulses:  # P1 and P2 play alike: swap them in a random half of the batch
            swap = torch.rand(len(windows), generator=gen, device=windows.device) < 0.5
            windows = torch.where(swap[:, None, None, None], windows[:, :, [1, 0, 2, 3]], windows)
        targets = self.rep.targets(windows)
        return self.rep.one_hot(targets), targets

    def inputs(self, windows: np.ndarray, device) -> torch.Tensor:
        return self.rep.one_hot(self.rep.targets(torch.from_numpy(windows).to(device)))

    def recon_loss(self, logits: torch.Tensor, targets: dict, x: torch.Tensor) -> torch.Tensor:
        heads = self.rep.split_logits(logits.float())
        if self.cfg.train.recon_loss == "mse":  # the seed's squared error on probabilities
            return F.mse_loss(self.rep.probabilities(logits.float()), x.float()) * x.shape[1]
        if self._balance is not None:
            return self._balanced_loss(heads, targets)
        loss = sum(F.cross_entropy(heads["notes"][v], targets["notes"][:, v]) for v in range(4))
        if self.rep.events:
            loss = loss + sum(self._pitch_loss(heads, targets, v) for v in range(4))
        if self.rep.onsets:
            loss = loss + F.binary_cross_entropy_with_logits(heads["onsets"], targets["onsets"].float())
        if self.rep.expressive:
            loss = loss + sum(F.cross_entropy(h, targets["velocity"][:, i]) for i, h in enumerate(heads["velocity"]))
            loss = loss + sum(F.cross_entropy(h, targets["timbre"][:, v]) for v, h in enumerate(heads["timbre"]))
        return loss

    def _balanced_loss(self, heads: dict, targets: dict) -> torch.Tensor:
        """Sum over heads of each head's loss over its loss at a uniform guess (``_head_balance``), each
        group (notes, onsets, expression) times its ``train.*_weight``."""
        b, t = self._balance, self.cfg.train
        loss = t.note_weight * sum(F.cross_entropy(heads["notes"][v], targets["notes"][:, v]) / b["notes"][v]
                                   for v in range(4))
        if self.rep.events:
            loss = loss + t.note_weight * sum(self._pitch_loss(heads, targets, v) / b["pitch"][v] for v in range(4))
        if self.rep.onsets:
            per = F.binary_cross_entropy_with_logits(heads["onsets"], targets["onsets"].float(),
                                                     pos_weight=b["onset_weight"], reduction="none")
            loss = loss + t.onset_weight * (per.mean(dim=2) / b["onset_norm"]).mean(dim=0).sum()
        if self.rep.expressive:
            expression = sum(F.cross_entropy(h, targets["velocity"][:, i]) / b["velocity"]
                             for i, h in enumerate(heads["velocity"]))
            expression = expression + sum(F.cross_entropy(h, targets["timbre"][:, v]) / b["timbre"][v]
                                          for v, h in enumerate(heads["timbre"]) if b["timbre"][v] is not None)
            loss = loss + t.expression_weight * expression
        return loss

    @staticmethod
    def _pitch_loss(heads: dict, targets: dict, v: int) -> torch.Tensor:
        """Notes as events: voice v's pitch cross-entropy over the frames where it sounds."""
        sounding = targets["notes"][:, v] != 0
        ce = F.cross_entropy(heads["pitch"][v], targets["pitch"][:, v], reduction="none")
        return (ce * sounding).sum() / sounding.sum().clamp_min(1)

    def agreement_loss(self, mix_logits: torch.Tensor, targets: dict) -> torch.Tensor:
        """The note cross-entropy of the decoded ACAI mixes (``losses.acai_mix``: window i with window
        n - 1 - i) on the cells where both windows agree, the same note or both silent, each voice's
        mean over its shared cells and over its uniform-guess loss as in the balanced reconstruction:
        what two songs share, a blend of them keeps. Interpolants that invent notes where both songs are
        silent break the morph's monotonicity (benchmarks/experiments/bench_violations.py)."""
        notes = targets["notes"]  # (B, 4, T)
        shared = (notes == notes.flip(0)).float()
        heads = self.rep.split_logits(mix_logits.float())
        loss = mix_logits.new_zeros((), dtype=torch.float32)
        for v in range(4):
            ce = F.cross_entropy(heads["notes"][v], notes[:, v], reduction="none")
            scale = self._balance["notes"][v] if self._balance is not None else 1.0
            loss = loss + (ce * shared[:, v]).sum() / shared[:, v].sum().clamp_min(1.0) / scale
        return loss

    def accuracy(self, logits: torch.Tensor, targets: dict) -> torch.Tensor:
        heads = self.rep.split_logits(logits)
        hits = [(heads["notes"][v].argmax(1) == targets["notes"][:, v]).float().mean() for v in range(4)]
        return torch.stack(hits).mean()

    def critic_view(self, logits: torch.Tensor) -> torch.Tensor:
        """What the critic sees of a decoded window: the probabilities, or with ``acai.hard`` the hard
        decode (straight-through: its gradient is the probabilities')."""
        if self.cfg.acai.hard:
            return self.rep.straight_through(logits)
        return self.rep.probabilities(logits)


class ImageTask:
    """MNIST (resident on the device) or the endless lines stream; images in [-1, 1], squared error."""

    kind = "image"

    def __init__(self, cfg: Config, device: torch.device, gen: torch.Generator):
        from .. import images

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
            from ..evaluate.lines import LinesEvaluator

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


def make_task(cfg: Config, device: torch.device, gen: torch.Generator) -> MusicTask | ImageTask:
    """The task of ``cfg.data.kind``: music windows for nesmdb, images for mnist and lines."""
    return MusicTask(cfg, device) if cfg.data.kind == "nesmdb" else ImageTask(cfg, device, gen)
