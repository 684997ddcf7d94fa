"""The loss terms against the properties and reference values of models.md (float64)."""

import math

import pytest
import torch

from nesinterp.losses import (
    REGULARIZERS, Adversary, LatentDiscriminator, Regularizer, acai_alpha, acai_autoencoder_term, acai_blend,
    acai_critic_loss, acai_mix, cramer_wold, gan_terms, gaussian_w2, gaussian_w2_between, imq_mmd, rbf_mmd,
    sliced_wasserstein,
)


def normal(n, d, seed, shift=0.0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    z[:, 0] += shift
    return z


def spread(fn, trials=40, **kw):
    vals = torch.tensor([fn(seed) for seed in range(trials)], dtype=torch.float64)
    return vals.mean().item(), vals.std().item()


def test_acai_alpha_and_mix():
    g = torch.Generator().manual_seed(0)
    alpha = acai_alpha(10000, g)
    assert alpha.shape == (10000,) and alpha.min() >= 0 and alpha.max() <= 0.5
    assert alpha.mean().item() == pytest.approx(0.25, abs=0.01)
    z = torch.arange(12.0).reshape(4, 3)
    a = torch.tensor([0.0, 0.5, 0.25, 0.1])
    mixed = acai_mix(z, a)
    assert mixed.shape == (4, 3)  # never (4, 4, 3) or (4, 4)
    assert torch.allclose(mixed[0], z[3]) and torch.allclose(mixed[1], (z[1] + z[2]) / 2)
    assert torch.allclose(mixed[2], 0.25 * z[2] + 0.75 * z[1])


def test_acai_losses():
    alpha = torch.tensor([0.1, 0.4])
    assert acai_critic_loss(alpha.clone(), alpha, torch.zeros(2)) == 0  # a perfect critic
    assert acai_critic_loss(torch.zeros(2), alpha, torch.ones(2)).item() == pytest.approx((0.01 + 0.16) / 2 + 1)
    assert acai_critic_loss(torch.zeros(2, 1), alpha, torch.zeros(2, 1)).shape == ()  # (n,1) is not (n,n)
    assert acai_autoencoder_term(torch.tensor([0.5, -0.5])).item() == pytest.approx(0.25)
    x, r = torch.ones(3), torch.zeros(3, requires_grad=True)
    blend = acai_blend(x, r, gamma=0.2)
    assert torch.allclose(blend, torch.full((3,), 0.2)) and not blend.requires_grad


def test_w2_closed_forms():
    d = 6
    m = torch.tensor([1.0, 2.0, 0, 0, 0, 0], dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    zero = torch.zeros(d, dtype=torch.float64)
    assert gaussian_w2_between(zero, eye, zero, eye).item() == pytest.approx(0, abs=1e-12)
    assert gaussian_w2_between(m, eye, zero, eye).item() == pytest.approx(5.0)
    assert gaussian_w2_between(zero, 4 * eye, zero, eye).item() == pytest.approx(d)
    a, b = torch.rand(d, dtype=torch.float64) + 0.5, torch.rand(d, dtype=torch.float64) + 0.5
    exact = ((a.sqrt() - b.sqrt()) ** 2).sum().item()
    assert gaussian_w2_between(zero, torch.diag(a), zero, torch.diag(b)).item() == pytest.approx(exact)
    assert gaussian_w2_between(zero, torch.diag(b), zero, torch.diag(a)).item() == pytest.approx(exact)


def whitened(n, d, seed):
    """n codes with mean exactly 0 and covariance exactly I (so repeated eigenvalues)."""
    z = normal(n, d, seed)
    q = torch.linalg.qr(z - z.mean(0))[0]  # orthonormal columns, each orthogonal to the ones vector
    return q * math.sqrt(n - 1)


def test_wwae_on_batches():
    # ||m||^2 = 5 with identity covariance: about 5 plus the sampling error of the covariance (not 40).
    # A batch whitened to mean m, covariance exactly I: the value is ||m||^2 = 5 (the seed's bug gave 40.3).
    m = torch.tensor([1.0, 2.0, 0, 0, 0, 0, 0, 0], dtype=torch.float64)
    z = whitened(512, 8, 0) + m
    assert gaussian_w2(z, jitter=0).item() == pytest.approx(5.0, abs=1e-9)
    z = normal(4096, 8, 0) + m
    # the fitted Gaussian itself: exactly the general formula against N(0, I)
    m, s = z.mean(0), torch.cov(z.T)
    ref = gaussian_w2_between(m, s, torch.zeros(8, dtype=torch.float64), torch.eye(8, dtype=torch.float64))
    assert gaussian_w2(z, jitter=0).item() == pytest.approx(ref.item(), rel=1e-6)
    assert gaussian_w2(normal(4096, 8, 1, scale=2.0)).item() == pytest.approx(8.0, rel=0.05)


def test_wwae_gradient_is_finite_at_identity_covariance():
    # An orthonormal batch has covariance exactly I (repeated eigenvalues): eigvalsh keeps gradients finite.
    d = 4
    z = whitened(64, d, 0).requires_grad_()
    assert torch.allclose(torch.cov(z.detach().T), torch.eye(d, dtype=torch.float64), atol=1e-9)
    gaussian_w2(z, jitter=0).backward()
    assert torch.isfinite(z.grad).all()


def test_imq_mmd_reference_values():
    mean, sd = spread(lambda s: imq_mmd(normal(100, 8, s), normal(100, 8, 1000 + s)).item())
    assert abs(mean) < 3 * 0.012 and sd == pytest.approx(0.012, rel=0.5)
    mean, sd = spread(lambda s: imq_mmd(normal(100, 8, s, shift=1.0), normal(100, 8, 1000 + s)).item())
    assert mean == pytest.approx(0.133, abs=0.03)
    mean, _ = spread(lambda s: imq_mmd(normal(100, 64, s, shift=1.0), normal(100, 64, 1000 + s)).item(), trials=20)
    assert mean == pytest.approx(0.018, abs=0.006)


def test_rbf_mmd_separates_shifted_samples():
    same, _ = spread(lambda s: rbf_mmd(normal(100, 8, s), normal(100, 8, 1000 + s)).item(), trials=20)
    shifted, _ = spread(lambda s: rbf_mmd(normal(100, 8, s, shift=2.0), normal(100, 8, 1000 + s)).item(), trials=20)
    assert abs(same) < 0.01 and shifted > 10 * max(abs(same), 1e-3)


def test_sliced_wasserstein():
    # In 1-D it is the sorted squared distance exactly.
    a, b = normal(50, 1, 0), normal(50, 1, 1, shift=0.7)
    exact = ((a.sort(0).values - b.sort(0).values) ** 2).mean()
    assert sliced_wasserstein(a, b, projections=5).item() == pytest.approx(exact.item())
    d = 8
    g = torch.Generator().manual_seed(3)
    value = sliced_wasserstein(normal(4000, d, 0, shift=2.0), normal(4000, d, 1), projections=400, generator=g)
    assert value.item() == pytest.approx(4.0 / d, rel=0.15)


def test_cramer_wold_reference_values():
    mean, sd = spread(lambda s: cramer_wold(normal(128, 8, s)).item())
    assert mean == pytest.approx(0.0472, abs=3 * 0.0022 / math.sqrt(40) + 0.002)
    shifted, _ = spread(lambda s: cramer_wold(normal(128, 8, s, shift=1.0)).item())
    assert shifted == pytest.approx(0.095, abs=0.01)


def penalty(kind, z, prior=None, disc=None, generator=None):
    """The regularizer ``kind`` as it enters the autoencoder loss (before its weight)."""
    entry = REGULARIZERS[kind]
    return entry.terms(z, generator, disc if entry.adversary else None, prior)[0]


@pytest.mark.parametrize("kind", list(REGULARIZERS))
def test_regularizers_are_invariant_to_permutation_and_rotation(kind):
    torch.manual_seed(0)
    z, prior = normal(64, 8, 0, shift=0.5), normal(64, 8, 1)
    disc = REGULARIZERS[kind].adversary.build(8).double() if REGULARIZERS[kind].adversary else None
    perm = torch.randperm(64)
    rot = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))[0]

    def value(zz, pp, seed=5):
        return penalty(kind, zz, pp, disc, torch.Generator().manual_seed(seed)).item()

    base = value(z, prior)
    assert value(z[perm], prior[perm.flip(0)]) == pytest.approx(base, rel=1e-9, abs=1e-12)
    if kind in ("gan", "swae"):
        return  # a discriminator and random projections are not rotation-invariant by construction
    assert value(z @ rot, prior @ rot) == pytest.approx(base, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("kind", list(REGULARIZERS))
def test_gradients_are_finite(kind):
    z = normal(32, 8, 0).requires_grad_()
    disc = LatentDiscriminator(8).double()
    value, disc_loss = REGULARIZERS[kind].terms(z, torch.Generator().manual_seed(123), disc)
    assert value.shape == () and torch.isfinite(value)
    value.backward(retain_graph=disc_loss is not None)
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    if disc_loss is not None:
        disc.zero_grad()
        disc_loss.backward(inputs=list(disc.parameters()))
        assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in disc.parameters())


def test_registry_entries_say_what_they_need():
    assert list(REGULARIZERS) == ["mmd_imq", "mmd_rbf", "gan", "wwae", "swae", "cwae"]  # config error message order
    assert {k for k, r in REGULARIZERS.items() if r.needs_prior} == {"mmd_imq", "mmd_rbf", "gan", "swae"}
    assert [k for k, r in REGULARIZERS.items() if r.adversary] == ["gan"]
    assert all(r.name == k and r.summary for k, r in REGULARIZERS.items())
    with pytest.raises(ValueError, match="exactly one"):
        Regularizer("both", "x", penalty=lambda z, p, g: z.sum(), adversary=Adversary(LatentDiscriminator, gan_terms))
    with pytest.raises(ValueError, match="needs its discriminator"):
        REGULARIZERS["gan"].terms(normal(4, 8, 0))


def test_a_prior_is_drawn_only_where_needed_and_first():
    """Training's random stream: the prior sample comes first (then SWAE's projections), and
    regularizers without a prior draw nothing."""
    z = normal(16, 8, 0)
    for kind, entry in REGULARIZERS.items():
        gen = torch.Generator().manual_seed(7)
        disc = entry.adversary.build(8).double() if entry.adversary else None
        drawn = entry.terms(z, gen, disc)[0]
        expected_gen = torch.Generator().manual_seed(7)
        if entry.needs_prior:
            prior = torch.randn(z.shape, generator=expected_gen, dtype=z.dtype)
            assert drawn.item() == pytest.approx(entry.terms(z, expected_gen, disc, prior)[0].item(), rel=1e-12)
        assert torch.equal(gen.get_state(), expected_gen.get_state()), kind
