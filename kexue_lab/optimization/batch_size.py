"""Batch size and the optimal learning rate (chapter 22).

The loss view of McCandlish et al. (2018), as the article presents it: expand the expected loss
after one SGD step with a minibatch gradient g̃_B (mean g, covariance Σ/B) to second order,

    E[L(w − η g̃_B)] ≈ L(w) − η gᵀg + ½ η² (gᵀHg + tr(ΣH)/B),

and minimise over η:

    η*(B) = gᵀg / (gᵀHg + tr(ΣH)/B) = η_max / (1 + B_noise/B),
    η_max = gᵀg / gᵀHg,   B_noise = tr(ΣH) / gᵀHg.

For SignSGD (the article's stand-in for Adam) with Gaussian, coordinate-wise independent noise,
E[sign(g̃_B)]_i = erf((g_i/σ_i)·√(B/2)) and E[sign(g̃_B)_i²] = 1, so

    η*(B) = Σ μ_i g_i / (Σ H_ii + Σ_{i≠j} μ_i μ_j H_ij),   μ_i = E[sign(g̃_B)]_i.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import erf

from .. import _validate

__all__ = ["optimal_lr", "noise_scale", "sign_mean", "sign_optimal_lr"]


def _vector(name: str, value: Any) -> np.ndarray:
    arr = _validate.real_array(name, value)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector, got shape {arr.shape}")
    return arr


def _symmetric(name: str, value: Any, d: int) -> np.ndarray:
    arr = _validate.real_array(name, value)
    if arr.shape != (d, d):
        raise ValueError(f"{name} must be a {d}×{d} matrix (d = len(g)), got shape {arr.shape}")
    scale = max(float(np.abs(arr).max()), 1e-300)
    if np.abs(arr - arr.T).max() > 1e-10 * scale:
        raise ValueError(f"{name} must be symmetric, got {value!r}")
    return arr


def _problem(g: Any, H: Any, Sigma: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = _vector("g", g)
    H = _symmetric("H", H, g.size)
    Sigma = _symmetric("Sigma", Sigma, g.size)
    eig = np.linalg.eigvalsh(Sigma)  # rounding may leave eigenvalues of order −1e-16·d·max
    if eig.min() < -1e-12 * g.size * max(float(np.abs(eig).max()), 1e-300):
        raise ValueError(f"Sigma must be positive semi-definite (a covariance), got {Sigma!r}")
    return g, H, Sigma


def optimal_lr(g: Any, H: Any, Sigma: Any, B: Any) -> Any:
    """The SGD learning rate that minimises the expected second-order loss (chapter 22).

    η*(B) = gᵀg / (gᵀHg + tr(ΣH)/B)  (article, "单调有界"; McCandlish et al. 2018),
    where g is the full gradient, H the Hessian, Σ the covariance of one example's gradient and
    B the batch size (a number, or an array of batch sizes, giving an array). The expected loss
    is a parabola in η only if its curvature gᵀHg + tr(ΣH)/B is positive; otherwise there is no
    minimiser and a ``ValueError`` is raised.
    """
    g, H, Sigma = _problem(g, H, Sigma)
    if np.ndim(B) == 0:
        B = _validate.positive("B", B)
    else:
        B = _validate.real_array("B", B)
        if np.any(B <= 0):
            raise ValueError(f"B must be > 0 everywhere, got {B!r}")
    curvature = g @ H @ g + np.trace(Sigma @ H) / B
    if np.any(curvature <= 0):
        raise ValueError(
            "the expected loss has no minimum over η: gᵀHg + tr(ΣH)/B = "
            f"{np.min(curvature):.3g} must be > 0 (use a positive-definite H)"
        )
    out = float(g @ g) / curvature
    return float(out) if np.ndim(out) == 0 else out


def noise_scale(g: Any, H: Any, Sigma: Any) -> float:
    """The gradient noise scale B_noise = tr(ΣH) / gᵀHg (chapter 22).

    At B = B_noise the optimal SGD learning rate is half its large-batch limit η_max
    (article, "单调有界"; McCandlish et al. 2018). Requires gᵀHg > 0.
    """
    g, H, Sigma = _problem(g, H, Sigma)
    ghg = float(g @ H @ g)
    if ghg <= 0:
        raise ValueError(f"B_noise needs gᵀHg > 0, got {ghg:.3g} (g = 0 or H not positive)")
    return float(np.trace(Sigma @ H)) / ghg


def sign_mean(g: Any, sigma: Any, B: float) -> np.ndarray:
    """E[sign(g + σz/√B)] = erf((g/σ)·√(B/2)) for z ~ N(0, 1), element-wise (chapter 22).

    The mean of the SignSGD direction when a coordinate's minibatch gradient is Gaussian with
    mean g and variance σ²/B (article, "符号近似"). ``sigma`` must be > 0.
    """
    g = _validate.real_array("g", g)
    sigma = _validate.real_array("sigma", sigma)
    if np.any(sigma <= 0):
        raise ValueError(f"sigma must be > 0 everywhere, got {sigma!r}")
    B = _validate.positive("B", B)
    return erf(g / sigma * np.sqrt(B / 2.0))


def sign_optimal_lr(g: Any, sigma: Any, H: Any, B: float, mu: Any = None) -> float:
    """The SignSGD learning rate minimising the expected second-order loss (chapter 22).

    η* = Σ μ_i g_i / (Σ H_ii + Σ_{i≠j} μ_i μ_j H_ij) with μ = E[sign(g̃_B)] (article,
    "符号近似"), exact for Gaussian noise with independent coordinates (Σ = diag σ²).
    ``mu`` overrides the exact μ = erf((g/σ)√(B/2)), e.g. with the article's mean-field
    sign(g)/√(1 + πκ²/(2B)). The denominator must be positive.
    """
    g = _vector("g", g)
    H = _symmetric("H", H, g.size)
    mu = sign_mean(g, sigma, B) if mu is None else _vector("mu", mu)
    if mu.shape != g.shape:
        raise ValueError(f"mu must have the shape of g {g.shape}, got {mu.shape}")
    diag = np.diag(H)
    curvature = float(diag.sum() + mu @ H @ mu - (mu**2 * diag).sum())
    if curvature <= 0:
        raise ValueError(f"the expected loss has no minimum over η: curvature {curvature:.3g}")
    return float(mu @ g) / curvature
