"""What a run learns: music windows (``MusicTask``: NES-MDB one-hot channels, cross-entropy) or images
(``ImageTask``: MNIST or the endless lines stream, squared error). A task gives the trainer batches, its
reconstruction loss, what the critic sees, and the inputs of the sample interpolations."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config
from ..data import Representation, ResidentSplit, transpose
from ..errors import TrainError


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
        from ..evaluate.music import corpus_realism_reference

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
