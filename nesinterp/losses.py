"""Loss terms: ACAI's critic and autoencoder terms, and the latent regularizers D_Z(Q_Z, N(0, I)).

Each function takes a batch of codes ``z`` of shape (n, d) (and where needed a prior sample) and returns
a scalar tensor. ``REGULARIZERS`` names each regularizer once, with what it needs; config validation and
training read it, so a new regularizer is one function and one entry. Formulas and reference values:
docs/models.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


# --- ACAI ---------------------------------------------------------------------------------------------

def acai_alpha(batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Mixing coefficients alpha = 0.5 - |u - 0.5| ~ U[0, 0.5], shape (batch,)."""
    u = torch.rand(batch, generator=generator, device=device)
    return 0.5 - (u - 0.5).abs()


def acai_mix(z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """alpha * z + (1 - alpha) * z of the reversed batch (sample i mixes with sample n - 1 - i)."""
    a = alpha.reshape(-1, *([1] * (z.dim() - 1)))  # (n, 1, ...) so it never broadcasts to (n, n)
    return a * z + (1 - a) * z.flip(0)


def acai_critic_loss(critic_on_mix: torch.Tensor, alpha: torch.Tensor,
                     critic_on_blend: torch.Tensor) -> torch.Tensor:
    """mean((d(x_mix) - alpha)^2) + mean(d(gamma x + (1 - gamma) g(f(x)))^2).

    ``critic_on_mix`` must come from a decoded mix detached from the autoencoder's graph, and
    ``critic_on_blend`` from the real/reconstruction blend (see ``acai_blend``); both shape (n,).
    """
    return ((critic_on_mix.reshape(-1) - alpha.reshape(-1)) ** 2).mean() + (critic_on_blend.reshape(-1) ** 2).mean()


def acai_blend(x: torch.Tensor, reconstruction: torch.Tensor, gamma: float = 0.2) -> torch.Tensor:
    """gamma * x + (1 - gamma) * g(f(x)): the critic's regularizing input, detached from the autoencoder."""
    return gamma * x + (1 - gamma) * reconstruction.detach()


def acai_autoencoder_term(critic_on_mix: torch.Tensor) -> torch.Tensor:
    """mean(d(x_mix)^2): the autoencoder wants the critic to see alpha = 0 in its interpolants."""
    return (critic_on_mix.reshape(-1) ** 2).mean()


# --- latent regularizers ------------------------------------------------------------------------------

def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # |a|^2 + |b|^2 - 2 a.b: one matmul and (n, n) memory instead of an (n, n, d) tensor of differences
    # (1000x less time at n = 1024); clamped because rounding can make a zero distance slightly negative.
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return sq.clamp_min(0.0)


def _mmd(kernel_qq, kernel_pp, kernel_qp, n: int) -> torch.Tensor:
    off_diagonal = 1 - torch.eye(n, dtype=kernel_qq.dtype, device=kernel_qq.device)
    within = ((kernel_qq * off_diagonal).sum() + (kernel_pp * off_diagonal).sum()) / (n * n - n)
    return within - 2 * kernel_qp.sum() / (n * n)


def imq_mmd(z: torch.Tensor, prior: torch.Tensor, scales=IMQ_SCALES, sigma2_p: float = 1.0) -> torch.Tensor:
    """WAE-MMD with the inverse multiquadratic kernel summed over scales (the official estimator):
    unbiased within-sample terms and all n^2 cross pairs."""
    n, d = z.shape
    dqq, dpp, dqp = _squared_distances(z, z), _squared_distances(prior, prior), _squared_distances(z, prior)
    total = z.new_zeros(())
    for s in scales:
        c = 2.0 * d * sigma2_p * s
        total = total + _mmd(c / (c + dqq), c / (c + dpp), c / (c + dqp), n)
    return total


def rbf_mmd(z: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """WAE-MMD with a Gaussian kernel whose width comes from the median pairwise squared distance."""
    n = z.shape[0]
    dqq, dpp, dqp = _squared_distances(z, z), _squared_distances(prior, prior), _squared_distances(z, prior)
    with torch.no_grad():
        pooled = torch.cat([dqq.flatten(), dpp.flatten(), dqp.flatten()])
        sigma2 = pooled.median().clamp_min(1e-6) / 2  # median heuristic: 2 sigma^2 = median distance
    k = lambda d2: torch.exp(-d2 / (2 * sigma2))  # noqa: E731
    return _mmd(k(dqq), k(dpp), k(dqp), n)


def gaussian_w2(z: torch.Tensor, jitter: float = 1e-6) -> torch.Tensor:
    """Squared 2-Wasserstein distance between a Gaussian fitted to the codes and N(0, I):
    ||m||^2 + sum_i (sqrt(lambda_i) - 1)^2 over the eigenvalues of the codes' covariance.

    eigvalsh has finite gradients at repeated eigenvalues (e.g. S = I), unlike an eigh-based matrix
    square root; clamping keeps sqrt's gradient finite at zero eigenvalues.
    """
    n, d = z.shape
    mean = z.mean(0)
    centered = z - mean
    cov = centered.T @ centered / max(n - 1, 1)
    cov = cov + jitter * torch.eye(d, dtype=z.dtype, device=z.device)
    eigenvalues = torch.linalg.eigvalsh(cov).clamp_min(1e-12)
    return (mean ** 2).sum() + ((eigenvalues.sqrt() - 1) ** 2).sum()


def gaussian_w2_between(m1, s1, m2, s2) -> torch.Tensor:
    """W2^2 between N(m1, S1) and N(m2, S2) in general (used to check ``gaussian_w2``):
    ||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)."""
    def sqrtm(a):
        w, v = torch.linalg.eigh(a)
        return v @ torch.diag(w.clamp_min(0).sqrt()) @ v.T
    r1 = sqrtm(s1)
    return ((m1 - m2) ** 2).sum() + torch.trace(s1 + s2 - 2 * sqrtm(r1 @ s2 @ r1))


def sliced_wasserstein(z: torch.Tensor, prior: torch.Tensor, projections: int = 50,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """SWAE: mean squared difference of the sorted projections on random unit directions."""
    d = z.shape[1]
    theta = torch.randn(d, projections, generator=generator, dtype=z.dtype, device=z.device)
    theta = theta / theta.norm(dim=0, keepdim=True)
    pz = torch.sort(z @ theta, dim=0).values
    pp = torch.sort(prior @ theta, dim=0).values
    return ((pz - pp) ** 2).mean()


def cramer_wold(z: torch.Tensor) -> torch.Tensor:
    """CWAE's closed-form Cramer-Wold distance to N(0, I) (no prior sample); the loss uses its log."""
    n, d = z.shape
    gamma = (4.0 / (3.0 * n)) ** 0.4
    k = 1.0 / (2.0 * d - 3.0)
    pairwise = (gamma + k * _squared_distances(z, z)).rsqrt().sum() / (n * n)
    to_prior = (gamma + 0.5 + k * (z ** 2).sum(1)).rsqrt().sum() * 2.0 / n
    return 1.0 / math.sqrt(1.0 + gamma) + pairwise - to_prior


class LatentDiscriminator(nn.Module):
    """WAE-GAN's discriminator: an MLP (4 hidden layers of 512, ReLU) giving one logit per code."""

    def __init__(self, latent_dim: int, hidden: int = 512, layers: int = 4):
        super().__init__()
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(-1)


def gan_terms(code_logits: torch.Tensor, prior_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(encoder penalty BCE(D(z_q), 1), discriminator loss BCE(D(z_p), 1) + BCE(D(z_q), 0))."""
    ones, zeros = torch.ones_like(code_logits), torch.zeros_like(code_logits)
    encoder = F.binary_cross_entropy_with_logits(code_logits, ones)
    disc = (F.binary_cross_entropy_with_logits(prior_logits, torch.ones_like(prior_logits))
            + F.binary_cross_entropy_with_logits(code_logits, zeros))
    return encoder, disc


# --- the registry: one entry per regularizer -----------------------------------------------------------

@dataclass(frozen=True)
class Adversary:
    """A network trained beside the autoencoder to tell codes from prior samples (WAE-GAN)."""

    build: Callable[[int], nn.Module]  # latent size -> a module giving one logit per code
    terms: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    # (logits of the codes, logits of the prior samples) -> (encoder penalty, its own loss)
    betas: tuple[float, float] = (0.5, 0.999)  # its Adam betas; its learning rate is regularizer.lr


@dataclass(frozen=True)
class Regularizer:
    """A latent regularizer D_Z(Q_Z, N(0, I)): its config name, whether it compares the codes with a
    prior sample, and either a penalty of the codes or an adversary that learns one."""

    name: str
    summary: str
    needs_prior: bool = False
    penalty: Callable[[torch.Tensor, torch.Tensor | None, torch.Generator | None], torch.Tensor] | None = None
    adversary: Adversary | None = None

    def __post_init__(self):
        if (self.penalty is None) == (self.adversary is None):
            raise ValueError(f"regularizer {self.name!r} needs exactly one of a penalty and an adversary")

    def terms(self, z: torch.Tensor, generator: torch.Generator | None = None,
              discriminator: nn.Module | None = None,
              prior: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the penalty as it enters the autoencoder loss before its weight, the adversary's loss or None).

        The prior sample, where one is needed and none is given, is drawn from ``generator`` first (then
        SWAE's projections), so training consumes random numbers in one fixed order. An adversary sees
        codes and prior samples in one call; each loss takes its gradient only for its own parameters,
        so the codes need no detaching.
        """
        if self.needs_prior and prior is None:
            prior = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
        if self.adversary is None:
            return self.penalty(z, prior, generator), None
        if discriminator is None:
            raise ValueError(f"the {self.name} regularizer needs its discriminator")
        logits = discriminator(torch.cat([z, prior]))
        return self.adversary.terms(logits[: len(z)], logits[len(z):])


REGULARIZERS: dict[str, Regularizer] = {r.name: r for r in (
    Regularizer("mmd_imq", "WAE-MMD, inverse multiquadratic kernel over 7 scales", needs_prior=True,
                penalty=lambda z, prior, generator: imq_mmd(z, prior)),
    Regularizer("mmd_rbf", "WAE-MMD, Gaussian kernel of median-heuristic width", needs_prior=True,
                penalty=lambda z, prior, generator: rbf_mmd(z, prior)),
    Regularizer("gan", "WAE-GAN, a latent discriminator", needs_prior=True,
                adversary=Adversary(LatentDiscriminator, gan_terms)),
    Regularizer("wwae", "squared W2 between a Gaussian fitted to the codes and N(0, I)",
                penalty=lambda z, prior, generator: gaussian_w2(z)),
    Regularizer("swae", "sliced Wasserstein over 50 random directions", needs_prior=True,
                penalty=lambda z, prior, generator: sliced_wasserstein(z, prior, generator=generator)),
    Regularizer("cwae", "log of the closed-form Cramer-Wold distance to N(0, I)",
                penalty=lambda z, prior, generator: torch.log(cramer_wold(z).clamp_min(1e-12))),
)}
