"""The aggregate posterior of a VAE: its moments and its distance from the prior.

Chapter 03 (kexue.fm/archives/5253, section 分布标准化, eq. (2)). The article argues that if
every posterior q(z|x) equalled N(0, I), the aggregate posterior

    q̄(z) = (1/N) Σ_n N(z; μ_n, diag σ_n²)

would be N(0, I) too, so sampling the prior would generate data. A trained VAE's posteriors are
far from N(0, I) (they are narrow), and the two numbers below say how far the aggregate is:

* :func:`aggregate_moments`: the mean and the variance of q̄ per coordinate,
  mean = (1/N) Σ μ_n and variance = (1/N) Σ (μ_n − mean)² + (1/N) Σ σ_n²;
* :func:`aggregate_kl`: a Monte Carlo estimate of KL(q̄ ‖ N(0, I)), the term of the
  decomposition (1/N) Σ_n KL(q(z|x_n) ‖ p(z)) = I(n; z) + KL(q̄ ‖ p) of Hoffman & Johnson
  (2016, "ELBO surgery"), where I(n; z) ≤ log N is the information the code keeps about which
  sample it came from. By the maximum-entropy property of the normal distribution,
  KL(q̄ ‖ N(0, I)) ≥ KL(N(mean, variance) ‖ N(0, I)).
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["aggregate_kl", "aggregate_moments"]

_LOG_2PI = math.log(2 * math.pi)


def _check(mu: Any, logvar: Any) -> tuple[torch.Tensor, torch.Tensor]:
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor, got {t!r}")
        if t.dim() != 2 or t.shape[0] == 0:
            raise ValueError(f"{name} must have shape (N, d) with N ≥ 1, got {tuple(t.shape)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite (it holds NaN or ±inf)")
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    return mu, logvar


def aggregate_moments(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, variance) of the mixture (1/N) Σ N(μ_n, diag e^{logvar_n}), each ``(d,)``.

    The variance is the law of total variance: the spread of the means plus the mean of the
    variances (population formulas, divided by N). Chapter 03.
    """
    mu, logvar = _check(mu, logvar)
    return mu.mean(0), mu.var(0, unbiased=False) + logvar.exp().mean(0)


def aggregate_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    chunk: int = 1024,
) -> tuple[float, float]:
    """Monte Carlo estimate of KL(q̄ ‖ N(0, I)) and its standard error, in nats.

    q̄ = (1/N) Σ_n N(μ_n, diag σ_n²) (``mu``, ``logvar`` of shape ``(N, d)``). One draw z_n is
    taken from each component (a stratified draw from q̄) and the estimate is the mean of
    log q̄(z_n) − log N(z_n; 0, I), with q̄ evaluated exactly by a log-sum-exp over all N
    components (two matrix products per chunk of ``chunk`` draws). The standard error is the
    standard deviation of those N terms over √N. Computed in float64. Chapter 03.
    """
    mu, logvar = _check(mu, logvar)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    mu, logvar = mu.detach().double(), logvar.detach().double()
    n, d = mu.shape
    prec = (-logvar).exp()  # 1/σ²
    eps = torch.randn(mu.shape, generator=generator, dtype=torch.float64).to(mu.device)
    z = mu + (0.5 * logvar).exp() * eps
    const = -0.5 * ((mu.square() * prec).sum(1) + logvar.sum(1) + d * _LOG_2PI)  # (N,)
    terms = []
    for start in range(0, n, chunk):
        zc = z[start : start + chunk]
        # log N(z_m; μ_n, σ_n²) = −½ Σ_i (z²/σ² − 2zμ/σ²) + const_n, for all pairs (m, n)
        quad = zc.square() @ prec.T - 2 * zc @ (mu * prec).T
        log_q = torch.logsumexp(-0.5 * quad + const, dim=1) - math.log(n)
        log_p = -0.5 * (zc.square().sum(1) + d * _LOG_2PI)
        terms.append(log_q - log_p)
    values = torch.cat(terms)
    se = float(values.std() / math.sqrt(n)) if n > 1 else float("nan")
    return float(values.mean()), se
