"""On a CUDA machine (skipped elsewhere): the v2 music model trains there in bf16 with its onset head,
temporal latent and balanced loss, and the model it writes loads and decodes on the CPU as on the GPU."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from data_prep.prep import PrepOptions, run_prep

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
EXAMPLES = Path(__file__).resolve().parents[1] / "nesinterp" / "examples"
V2 = ["data.onsets=true", "data.expressive=true", "train.recon_loss=balanced", "model.latent_layout=temporal",
      "model.block=residual", "model.upsample=learned", "model.latent_dim=64"]


def test_v2_model_trains_on_cuda_and_decodes_alike_on_cpu(tmp_path):
    from nesinterp.config import load_config
    from nesinterp.trained_model import TrainedModel
    from nesinterp.train import train

    data = tmp_path / "data"
    run_prep([str(EXAMPLES)], data, PrepOptions())
    cfg = load_config("tiny", [f"data.path={data}", "train.device=cuda", "train.amp=bf16", "train.threads=0",
                               "train.steps=60", *V2])
    last = train(cfg, tmp_path / "run", progress=False)
    assert np.isfinite(last["loss"]) and last["samples_per_s"] > 0
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["config"]["train"]["device"] == "cuda"
    from nesinterp.io.readers import read_score

    windows = TrainedModel.load(tmp_path / "run").windows_of(read_score(EXAMPLES / "overworld.mid"))
    on_cpu = TrainedModel.load(tmp_path / "run", device="cpu")
    on_gpu = TrainedModel.load(tmp_path / "run", device="cuda")
    a, b = on_cpu.reconstruct(windows), on_gpu.reconstruct(windows)
    assert np.mean(a == b) > 0.99  # fp32 on both; only near-ties may differ


def test_onset_flags_on_cuda_equal_the_cpu_ones():
    from nesinterp.articulation import onset_flags

    gen = torch.Generator().manual_seed(0)
    windows = torch.randint(0, 3, (16, 128, 4, 3), generator=gen, dtype=torch.uint8)
    assert torch.equal(onset_flags(windows.cuda()).cpu(), onset_flags(windows))
