import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nesinterp.metrics.mnist import assign_clusters, clustering_accuracy, kmeans, linear_probe, whiten


def blobs(per_class=60, classes=10, dims=8, spread=0.3, seed=0):
    """Well-separated Gaussian blobs: centres 10 apart along the axes (and their negatives)."""
    rng = np.random.default_rng(seed)
    centres = np.concatenate([10 * np.eye(dims), -10 * np.eye(dims)])[:classes]
    labels = np.repeat(np.arange(classes), per_class)
    x = centres[labels] + spread * rng.normal(size=(len(labels), dims))
    order = rng.permutation(len(labels))
    return x[order], labels[order]


# --- clustering accuracy --------------------------------------------------------------------------

def test_clustering_accuracy_of_a_known_table():
    # Contingency (cluster x label): c0 = {a: 5, b: 4}, c1 = {a: 4}. Matching c0 -> a would score 5;
    # the Hungarian optimum is c0 -> b, c1 -> a: 8 of 13 (per-cluster majority would claim 9).
    clusters = [0] * 9 + [1] * 4
    labels = ["a"] * 5 + ["b"] * 4 + ["a"] * 4
    assert clustering_accuracy(clusters, labels) == pytest.approx(8 / 13)


def test_clustering_accuracy_ignores_cluster_ids():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 500)
    clusters = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 10, 500))
    base = clustering_accuracy(clusters, labels)
    assert 0.6 < base < 0.9
    perm = rng.permutation(10)
    assert clustering_accuracy(perm[clusters], labels) == base
    assert clustering_accuracy(1000 + 7 * clusters, labels) == base
    assert clustering_accuracy(labels, labels) == 1.0


def test_clustering_accuracy_counts_extra_clusters_as_wrong():
    # 3 clusters, 2 labels: the third cluster has nothing to match, its points are errors.
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError):
        clustering_accuracy([0, 1], [0, 1, 1])


# --- whitening ------------------------------------------------------------------------------------

def test_whiten_gives_identity_covariance_on_train_and_the_same_map_on_test():
    rng = np.random.default_rng(2)
    mix = rng.normal(size=(6, 6)) * np.array([10, 3, 1, 0.1, 5, 2])
    train = rng.normal(size=(400, 6)) @ mix + 7.0
    test = rng.normal(size=(50, 6)) @ mix + 7.0
    w_train, w_test = whiten(train, np.concatenate([train[:5], test]))
    assert w_train.shape == (400, 6) and w_test.shape == (55, 6)
    np.testing.assert_allclose(w_train.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(np.cov(w_train.T), np.eye(6), atol=1e-10)
    np.testing.assert_allclose(w_test[:5], w_train[:5], atol=1e-10)  # the training map, not a refit
    assert abs(np.cov(w_test[5:].T) - np.eye(6)).max() < 0.6  # same distribution: roughly white too


def test_whiten_drops_a_collapsed_direction_instead_of_dividing_by_zero():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 3))
    train = np.column_stack([a, a[:, 0] + a[:, 1], np.full(200, 4.0)])  # rank 3 in 5 dims
    w_train, w_test = whiten(train, train[:3])
    assert w_train.shape == (200, 3) and np.isfinite(w_train).all()
    np.testing.assert_allclose(np.cov(w_train.T), np.eye(3), atol=1e-8)
    assert whiten(train)[1] is None
    with pytest.raises(ValueError):
        whiten(np.ones((10, 4)))


# --- k-means --------------------------------------------------------------------------------------

def test_kmeans_recovers_separated_blobs():
    x, y = blobs()
    centres, labels, inertia = kmeans(x, k=10, seed=0)
    assert centres.shape == (10, 8) and labels.shape == (600,)
    assert clustering_accuracy(labels, y) == 1.0
    # Inertia is the within-cluster sum of squares of what it returns; each centre is its cluster's mean.
    assert inertia == pytest.approx(((x - centres[labels]) ** 2).sum())
    for j in range(10):
        np.testing.assert_allclose(centres[j], x[labels == j].mean(axis=0))
    # New points from the same blobs land in their blob's cluster.
    x_new, y_new = blobs(per_class=20, seed=5)
    assert clustering_accuracy(assign_clusters(x_new, centres), y_new) == 1.0
    # Whitening keeps the blobs apart.
    w, w_new = whiten(x, x_new)
    c_w, l_w, _ = kmeans(w, k=10, seed=1)
    assert clustering_accuracy(l_w, y) == 1.0
    assert clustering_accuracy(assign_clusters(w_new, c_w), y_new) == 1.0


def test_kmeans_is_deterministic_and_restarts_only_help():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 3))  # no structure: seedings land in different local optima
    c1, l1, i1 = kmeans(x, k=7, restarts=3, seed=11)
    c2, l2, i2 = kmeans(x, k=7, restarts=3, seed=11)
    assert i1 == i2 and np.array_equal(l1, l2) and np.array_equal(c1, c2)
    # The first restart of a run draws what a single-restart run draws: more restarts never lose.
    assert kmeans(x, k=7, restarts=8, seed=11)[2] <= kmeans(x, k=7, restarts=1, seed=11)[2]
    # Stopping at the iteration limit still returns labels consistent with the returned centres.
    c, labels, inertia = kmeans(x, k=7, restarts=1, iterations=1, seed=0)
    assert np.array_equal(labels, assign_clusters(x, c))
    with pytest.raises(ValueError):
        kmeans(x[:3], k=5)


def test_kmeans_with_more_clusters_than_distinct_points():
    x = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 10, axis=0)
    centres, labels, inertia = kmeans(x, k=3, restarts=2, seed=0)
    assert inertia == pytest.approx(0.0) and np.isfinite(centres).all()
    assert clustering_accuracy(labels, np.repeat([0, 1], 10)) == 1.0


# --- linear probe ---------------------------------------------------------------------------------

def test_linear_probe_separates_separable_classes():
    x, y = blobs(per_class=100, spread=1.0, seed=6)
    xt, yt = blobs(per_class=50, spread=1.0, seed=7)
    result = linear_probe(x, y, xt, yt, batch=32, epochs=4, seed=0)
    assert result["test_accuracy"] > 0.98 and result["train_accuracy"] > 0.98
    assert result["steps"] == 4 * 32 and result["lr"] == 1e-4  # 1000 points / batch 32 -> 32 steps an epoch
    # Deterministic given the seed; torch tensors are accepted like arrays.
    again = linear_probe(torch.tensor(x), torch.tensor(y), xt, yt, batch=32, epochs=4, seed=0)
    assert again == result


def test_linear_probe_is_at_chance_on_random_labels():
    rng = np.random.default_rng(8)
    x, xt = rng.normal(size=(3000, 16)), rng.normal(size=(3000, 16))
    y, yt = rng.integers(0, 10, 3000), rng.integers(0, 10, 3000)
    result = linear_probe(x, y, xt, yt, lr=1e-3, batch=64, epochs=3, seed=0)
    assert 0.06 < result["test_accuracy"] < 0.14


def test_linear_probe_steps_as_autograd_and_torch_adam_do():
    # Full batch (no shuffling involved): the hand-written gradient and Adam must match PyTorch's.
    rng = np.random.default_rng(9)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0.3)
    ours = linear_probe(x, y, x, y, lr=1e-2, batch=300, epochs=40, whiten_inputs=False)
    layer = torch.nn.Linear(5, 4)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(40):
        loss = F.cross_entropy(layer(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ours["train_loss"] == pytest.approx(loss.item(), rel=1e-5)  # loss before the 40th step
    with torch.no_grad():
        assert ours["train_accuracy"] == pytest.approx((layer(xt).argmax(1) == yt).double().mean().item())


def test_linear_probe_whitening_makes_the_budget_independent_of_the_latent_scale():
    # Codes of std ~0.005 (a young model): Adam at 1e-4 cannot grow raw weights to ~1 / 0.005 in a few
    # hundred steps, but whitened codes need only O(1) weights. Same classifiers, same data.
    x, y = blobs(per_class=100, spread=3.0, seed=10)
    xt, yt = blobs(per_class=50, spread=3.0, seed=11)
    big = linear_probe(x, y, xt, yt, batch=32, epochs=5)
    tiny = linear_probe(x * 5e-4, y, xt * 5e-4, yt, batch=32, epochs=5)
    raw = linear_probe(x * 5e-4, y, xt * 5e-4, yt, batch=32, epochs=5, whiten_inputs=False)
    assert tiny["test_accuracy"] == pytest.approx(big["test_accuracy"], abs=0.01) and tiny["test_accuracy"] > 0.8
    assert raw["test_accuracy"] < tiny["test_accuracy"] - 0.2 and raw["whitened"] is False


def test_probe_and_kmeans_leave_torch_thread_setting_as_they_found_it():
    before = torch.get_num_threads()
    x, y = blobs(per_class=10)
    linear_probe(x, y, x, y, epochs=1)
    kmeans(x, k=10, restarts=1)
    assert torch.get_num_threads() == before
