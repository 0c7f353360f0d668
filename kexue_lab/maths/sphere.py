"""The angle between random directions in ℝ^d, and the entropy gap h_d (chapters 16, 17, 18).

For a fixed unit vector and a uniform random one in ℝ^d, the angle θ has density

    p_d(θ) = Γ(d/2) / (Γ((d−1)/2) √π) · sin^{d−2} θ   on [0, π],

and (1 + cos θ)/2 ~ Beta((d−1)/2, (d−1)/2). With logits κ cos θ (κ = λd for scores λ·q·k
between vectors of norm √d), the mean-field attention entropy over n keys is
H ≈ log n + h_d(λ), where

    h_d(λ) = log E[e^{λd cos θ}] − λd · E_w[cos θ],   w ∝ p_d(θ) e^{λd cos θ}.

Laplace's method gives h_d(λ)/d → ½ log(1 − c²) with c = (√(1+4λ²) − 1)/(2λ), which is
−½ log φ ≈ −0.2406 at λ = 1 (φ the golden ratio).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate


def _dims(d: Any, lo: float = 2.0) -> np.ndarray:
    arr = _validate.real_array("d", d)
    if np.any(arr < lo):
        raise ValueError(f"d must be >= {lo:g} (the dimension of the space), got {d!r}")
    return arr


def _out(arr: np.ndarray) -> Any:
    return float(arr) if arr.ndim == 0 else arr


def log_normaliser(d: Any) -> Any:
    """log Γ(d/2) − log Γ((d−1)/2) − ½ log π: the log of p_d's constant (d ≥ 2)."""
    from scipy.special import gammaln

    dd = _dims(d)
    return _out(gammaln(dd / 2) - gammaln((dd - 1) / 2) - 0.5 * math.log(math.pi))


def angle_density(theta: Any, d: Any) -> Any:
    """p_d(θ) = Γ(d/2)/(Γ((d−1)/2)√π) · sin^{d−2}θ on [0, π], 0 outside.

    Chapter 16 (article eq. (8)) and chapter 18 (article eq. (5)).

    ``theta`` and ``d`` (≥ 2) broadcast against each other.
    """
    th = _validate.real_array("theta", theta)
    dd = _dims(d)
    logc = np.asarray(log_normaliser(dd))
    inside = (th >= 0) & (th <= math.pi)
    s = np.sin(np.clip(th, 0.0, math.pi))
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(inside, np.exp(logc + (dd - 2) * np.log(s)), 0.0)
    if np.any(dd == 2):  # sin^0 = 1, also at the end points
        val = np.where(inside & (dd == 2), np.exp(logc), val)
    return _out(val)


def cosine_cdf(t: Any, d: Any) -> Any:
    """P(cos θ ≤ t) for a uniform direction in ℝ^d: the regularised incomplete beta of (1 + t)/2."""
    from scipy.special import betainc

    dd = _dims(d)
    tt = np.clip(_validate.real_array("t", t), -1.0, 1.0)
    return _out(betainc((dd - 1) / 2, (dd - 1) / 2, (1 + tt) / 2))


def random_cosines(d: int, size: Any, rng: np.random.Generator) -> np.ndarray:
    """cos θ for uniform directions in ℝ^d, drawn exactly as 2·Beta((d−1)/2, (d−1)/2) − 1.

    No d-dimensional vectors are needed (chapters 16 and 17's planted-key toys).
    """
    d = _validate.int_at_least("d", d, 2, "an angle needs two dimensions")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        )
    return 2.0 * rng.beta((d - 1) / 2, (d - 1) / 2, size=size) - 1.0


def log_mean_exp_cos(d: Any, kappa: Any) -> Any:
    """log E[e^{κ cos θ}] for a uniform direction in ℝ^d, in closed form (2 ≤ d ≤ 2000):

        E[e^{κ cos θ}] = Γ(d/2) (2/κ)^{d/2−1} I_{d/2−1}(κ),

    with SciPy's exponentially scaled Bessel function ``ive`` (κ > 0).
    """
    from scipy.special import gammaln, ive

    dd = _dims(d)
    k = _validate.real_array("kappa", kappa)
    if np.any(k <= 0):
        raise ValueError(f"kappa must be > 0, got {kappa!r}")
    if np.any(dd > 2000):
        raise ValueError(
            f"d must be <= 2000 for the Bessel form (ive underflows beyond), got {d!r}"
        )
    nu = dd / 2 - 1
    return _out(gammaln(dd / 2) + nu * np.log(2 / k) + np.log(ive(nu, k)) + k)


def h_bessel(d: Any, lam: float = 1.0) -> Any:
    """h_d(λ) in closed form (2 ≤ d ≤ 2000): log E[e^{κ cos θ}] − κ I_{d/2}(κ)/I_{d/2−1}(κ), κ = λd.

    Uses d/dκ log E[e^{κ cos θ}] = I_{d/2}(κ)/I_{d/2−1}(κ) = E_w[cos θ].
    """
    from scipy.special import ive

    dd = _dims(d)
    kappa = _validate.positive("lam", lam) * dd
    ratio = ive(dd / 2, kappa) / ive(dd / 2 - 1, kappa)
    return _out(np.asarray(log_mean_exp_cos(dd, kappa)) - kappa * ratio)


def h_quadrature(d: Any, lam: float = 1.0, *, points: int = 40001) -> Any:
    """h_d(λ) by the trapezoid rule on ``points`` angles in [0, π], stabilised by log-sum-exp.

        h_d(λ) = log ∫ sin^{d−2}θ e^{λd cos θ} dθ − log ∫ sin^{d−2}θ dθ − λd · E_w[cos θ].

    Spectrally accurate here (the integrands vanish to high order at both ends), vectorised
    over ``d`` (≥ 3); no upper limit on d. Agrees with :func:`h_bessel` to ~1e-11 for
    d ≥ 8 (5e-10 at d = 3, where sin θ vanishes only to first order at the ends).
    """
    points = _validate.positive_int("points", points)
    if points < 101:
        raise ValueError(f"points must be >= 101 for an accurate quadrature, got {points}")
    lam = _validate.positive("lam", lam)
    dd = _dims(d, 3.0)
    th = np.linspace(0.0, math.pi, points)[1:-1]
    flat = dd.reshape(-1, 1)
    base = (flat - 2) * np.log(np.sin(th))
    tilt = base + lam * flat * np.cos(th)
    b0, t0 = base.max(axis=1, keepdims=True), tilt.max(axis=1, keepdims=True)
    w0, w = np.exp(base - b0), np.exp(tilt - t0)
    z = w.sum(axis=1)
    mean_cos = (w * np.cos(th)).sum(axis=1) / z
    out = (np.log(z) + t0[:, 0]) - (np.log(w0.sum(axis=1)) + b0[:, 0]) - lam * flat[:, 0] * mean_cos
    return _out(out.reshape(dd.shape))


def laplace_peak(lam: float) -> float:
    """cos θ* = (√(1+4λ²) − 1)/(2λ), the maximiser of λ cos θ + log sin θ on (0, π)."""
    lam = _validate.positive("lam", lam)
    return (math.sqrt(1.0 + 4.0 * lam * lam) - 1.0) / (2.0 * lam)


def laplace_limit(lam: float = 1.0) -> float:
    """lim_{d→∞} h_d(λ)/d = ½ log(1 − c²) with c = :func:`laplace_peak` (λ); −½ log φ at λ = 1."""
    c = laplace_peak(lam)
    return 0.5 * math.log1p(-c * c)
