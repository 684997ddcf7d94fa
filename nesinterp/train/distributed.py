"""Training in several processes (``torchrun --nproc_per_node N -m nesinterp train``): which process
this is, the device it trains on, and its models wrapped for DistributedDataParallel. One process is
the plain case: nothing is wrapped and no process group is made."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..errors import TrainError


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process owns the run directory (writes checkpoints, logs and samples)."""
        return self.rank == 0


def distributed_from_env() -> Distributed:
    """This process's place among torchrun's (WORLD_SIZE, RANK, LOCAL_RANK), joining the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(setting: str, dist_info: Distributed) -> torch.device:
    """The device train.device names (auto: cuda when present, else cpu); each process its own GPU."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError("train.device is cuda but no CUDA device is available")
        if setting == "cuda":  # an index: set_device refuses a bare "cuda" (torch 2.11)
            setting = f"cuda:{dist_info.local_rank if dist_info.world > 1 else torch.cuda.current_device()}"
        torch.cuda.set_device(torch.device(setting))
    if setting == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TrainError("train.device is mps but no Apple GPU (MPS) is available")
    return torch.device(setting)


def is_main_process() -> bool:
    """Whether this process is rank 0 of a torchrun launch (or not launched by torchrun at all)."""
    return int(os.environ.get("RANK", "0")) == 0


def default_threads() -> int:
    """CPU threads for training when train.threads is 0: the cores this process may use that are not
    already busy (by the 1-minute load average), at least 1. Two jobs each taking every core of a
    shared machine run many times slower than each taking its share."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(cores, cores - busy))


def replicated(module: torch.nn.Module | None, dist_info: Distributed, device: torch.device):
    """``module`` as the training step calls it: wrapped for DistributedDataParallel when there are
    several processes (its gradients then average over them), else itself."""
    if module is None or dist_info.world <= 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def leave(dist_info: Distributed) -> None:
    """End this process's part in the process group (nothing for one process)."""
    if dist_info.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
