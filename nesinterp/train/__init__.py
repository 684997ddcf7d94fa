"""`nesinterp train`: config -> run directory (checkpoints, metrics, loss curves, sample interpolations).

One job per module; read ``loop`` first:

- ``loop``: the Trainer (one training step, the loop, its checkpoints), ``train`` and ``ensure_trained``
- ``tasks``: what is learned, music windows or images, and its reconstruction loss
- ``rundir``: the run directory (new or resumed), its lock, model.json, ``is_trained``
- ``distributed``: several processes under torchrun, and the device each trains on
- ``progress``: metrics.jsonl, loss_curves.png and the sample interpolations
"""

from __future__ import annotations

from ..config import ConfigError
from ..errors import TrainError
from .distributed import Distributed, default_threads, is_main_process, pick_device
from .loop import Trainer, ensure_trained, train
from .rundir import RESUMABLE_CHANGES, RunLock, is_trained, model_description
from .tasks import ImageTask, MusicTask

__all__ = ["RESUMABLE_CHANGES", "ConfigError", "Distributed", "ImageTask", "MusicTask", "RunLock", "TrainError",
           "Trainer", "default_threads", "ensure_trained", "is_main_process", "is_trained", "model_description",
           "pick_device", "train"]
