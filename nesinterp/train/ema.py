"""An exponential moving average of the autoencoder's weights (``train.ema``): the weights a run exports
and blends with, steadier than the last step's. Training goes on with the live weights, which the
checkpoint keeps beside the average so a resumed run continues exactly."""

from __future__ import annotations

from copy import deepcopy

import torch
from torch import nn

LIVE = "live."  # prefix of the live weights in train_state.safetensors


class WeightAverage:
    """ema <- d ema + (1 - d) weights after every step, d = min(decay, (1 + step) / (10 + step)) so the
    first steps are not held back by the random start."""

    def __init__(self, module: nn.Module, decay: float):
        self.module, self.decay = module, decay
        self.average = {k: v.detach().clone().float() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for key, value in self.module.state_dict().items():
            if value.is_floating_point():
                self.average[key].lerp_(value.float(), 1 - d)
            else:
                self.average[key].copy_(value)

    def weights(self) -> dict:
        """The averaged weights, as the module's own state dict names and dtypes them."""
        live = self.module.state_dict()
        return {k: v.to(live[k].dtype) for k, v in self.average.items()}

    def averaged_module(self) -> nn.Module:
        """A copy of the module holding the averaged weights: what is exported, to calibrate or score."""
        copy = deepcopy(self.module)
        copy.load_state_dict(self.weights())
        return copy

    def live_tensors(self) -> dict:
        """The live weights for the checkpoint's training state."""
        return {LIVE + k: v for k, v in self.module.state_dict().items()}

    def restore(self, model_file: dict, state: dict) -> None:
        """After loading a checkpoint: the average from its model file, the live weights from its state
        (a checkpoint written without an average: both from the model file)."""
        self.average = {k: v.detach().clone().float() for k, v in model_file.items()}
        live = {k[len(LIVE):]: v for k, v in state.items() if k.startswith(LIVE)}
        if live:
            self.module.load_state_dict(live)
