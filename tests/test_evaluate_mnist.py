import json

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from nesinterp.config import load_config
from nesinterp.evaluate.mnist import REPORT_FILES, EvalError, evaluate_mnist, interpolation_paths
from nesinterp.images import load_mnist
from nesinterp.checkpoint import load_autoencoder
from nesinterp.train import train

from .conftest import shared_data_dir

LIMIT = 2000  # images of each split: the full 70000 take a minute or more to encode on a small CPU


@pytest.fixture(scope="module")
def mnist_dir():
    folder = shared_data_dir() / "mnist"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found under {folder} (set NESINTERP_SHARED_DATA to the shared data folder)")
    return folder


@pytest.fixture(scope="module")
def mnist_run(mnist_dir, tmp_path_factory):
    """A narrow MNIST autoencoder (the real d_z = 32 latent) trained for a few steps."""
    run = tmp_path_factory.mktemp("mnist-eval") / "run"
    cfg = load_config("mnist", [f"data.path={mnist_dir}", "model.width=4", "train.steps=20", "train.batch=16",
                                "train.log_every=10", "train.checkpoint_every=20", "train.sample_every=1000",
                                "train.threads=1", "train.device=cpu"])
    train(cfg, run, progress=False)
    return run


def test_evaluate_mnist_writes_report_grid_and_summary(mnist_run):
    report = evaluate_mnist(mnist_run, limit=LIMIT)  # data from the run's config, report into RUN_DIR/eval
    out = mnist_run / "eval"
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)  # and no temporary files left behind
    assert json.loads((out / "report.json").read_text()) == report
    assert report["benchmark"] == "mnist" and report["config"] == "mnist"
    assert report["latent_dim"] == 32 and report["step"] == 20
    assert report["train_images"] == LIMIT and report["test_images"] == LIMIT
    probe, clusters = report["probe"], report["clustering"]
    for value in (probe["test_accuracy"], probe["train_accuracy"], clusters["test_accuracy"],
                  clusters["train_accuracy"]):
        assert 0.0 <= value <= 1.0
    assert probe["test_accuracy"] > 0.4  # chance is ~0.11; even barely trained conv features beat it
    assert clusters["test_accuracy"] > 0.15 and clusters["k"] == 10 and clusters["whitened_dims"] <= 32
    pairs = report["interpolation_grid"]["test_indices"]
    assert len(pairs) == 8 and len({a for a, _b in pairs}) == 8
    _x, labels = load_mnist(report["arguments"]["data_dir"], "test")
    assert all(labels[a] != labels[b] for a, b in pairs)  # each pair morphs one digit into another
    grid = imread(out / "interpolation_grid.png")
    assert grid.ndim == 3 and grid.shape[1] > grid.shape[0]  # 8 rows x 12 columns (A, 10 steps, B)
    summary = (out / "summary.md").read_text()
    assert "98.25 %" in summary and f"{100 * probe['test_accuracy']:.2f} %" in summary


def test_interpolation_paths_run_straight_between_the_reconstructions(mnist_run, mnist_dir):
    autoencoder, _meta, _cfg = load_autoencoder(mnist_run, task="image")
    images, _labels = load_mnist(mnist_dir, "test")
    a, b = images[:3], images[3:6]
    paths = interpolation_paths(autoencoder, a, b, steps=5)
    assert paths.shape == (3, 5, 1, 32, 32)
    with torch.no_grad():
        za, zb = autoencoder.encode(torch.from_numpy(a)), autoencoder.encode(torch.from_numpy(b))
        ends = autoencoder.decode(torch.cat([za, zb])).numpy()
        middle = autoencoder.decode((za + zb) / 2).numpy()
    np.testing.assert_allclose(paths[:, 0], ends[:3], atol=1e-5)
    np.testing.assert_allclose(paths[:, -1], ends[3:], atol=1e-5)
    np.testing.assert_allclose(paths[:, 2], middle, atol=1e-5)


def test_evaluate_mnist_refuses_to_overwrite_unless_forced(mnist_run, tmp_path):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "summary.md").write_text("earlier notes\n")
    with pytest.raises(EvalError, match="summary.md exists"):
        evaluate_mnist(mnist_run, out_dir=out, limit=500)
    assert [p.name for p in out.iterdir()] == ["summary.md"]  # nothing written, the old file untouched
    assert (out / "summary.md").read_text() == "earlier notes\n"
    first = evaluate_mnist(mnist_run, out_dir=out, limit=500, force=True, seed=3)
    assert (out / "summary.md").read_text() != "earlier notes\n"
    with pytest.raises(EvalError, match="report.json exists"):
        evaluate_mnist(mnist_run, out_dir=out, limit=500, seed=3)
    again = evaluate_mnist(mnist_run, out_dir=out, limit=500, force=True, seed=3)
    assert again == first  # deterministic given the seed
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)


def test_evaluate_mnist_names_missing_data(mnist_run, tmp_path):
    with pytest.raises(EvalError, match="nowhere"):
        evaluate_mnist(mnist_run, data_dir=tmp_path / "nowhere", out_dir=tmp_path / "eval")
    assert not (tmp_path / "eval").exists()


def test_evaluate_mnist_refuses_runs_that_are_not_mnist(tmp_path):
    # Needs no MNIST: a lines model is an image model, but not one trained on MNIST.
    cfg = load_config("lines", ["model.width=4", "train.steps=1", "train.batch=4", "train.log_every=1",
                                "train.checkpoint_every=1", "train.sample_every=1000", "train.threads=1",
                                "train.device=cpu"])
    train(cfg, tmp_path / "lines", progress=False)
    with pytest.raises(EvalError, match="a lines run, not an MNIST run"):
        evaluate_mnist(tmp_path / "lines")
    with pytest.raises(EvalError, match="no-such-run"):
        evaluate_mnist(tmp_path / "no-such-run")
    assert not (tmp_path / "lines" / "eval").exists()
