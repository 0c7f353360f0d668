"""EM as alternating minimisation of a joint KL: Gaussian mixtures and the two-coin problem.

Chapter 01 (kexue.fm/archives/5239). With data x_i, a latent component j and the model
p_θ(x, j) = π_j N(x; μ_j, Σ_j), EM minimises the joint objective of the article's eq. (17),

    J(q, θ) = (1/n) Σ_i Σ_j q(j|x_i) log[q(j|x_i) / p_θ(x_i, j)]
            = −(1/n) Σ_i log p_θ(x_i) + (1/n) Σ_i KL(q(·|x_i) ‖ p_θ(·|x_i)),

(the joint KL minus the constant entropy of the data) by turns:

* E-step, eq. (20): q(j|x_i) = p_θ(j|x_i) = softmax_j log p_θ(x_i, j) (:func:`e_step`), which
  makes the gap, the mean KL of the second line, zero (:func:`posterior_gap`);
* M-step, eq. (18): θ = argmax_θ Σ_i Σ_j q(j|x_i) log p_θ(x_i, j); for a Gaussian mixture
  π_j = n_j/n, μ_j = Σ_i q_ij x_i / n_j, Σ_j = Σ_i q_ij (x_i − μ_j)(x_i − μ_j)ᵀ / n_j with
  n_j = Σ_i q_ij (:func:`m_step`).

:func:`em_gmm` runs the two steps; :func:`em_coins` is the binomial mixture of Do & Batzoglou
(Nature Biotechnology 26, 2008), the chapter's worked example. Everything is vectorised over
samples and components (float64 torch; NumPy in, NumPy out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..maths.entropy import kl_discrete

COVARIANCE_TYPES = ("full", "diag", "spherical")
#: Added to every variance in the M-step (scikit-learn's default ``reg_covar``): the mixture
#: likelihood is unbounded, and a component that collapses onto one point would otherwise
#: reach a singular covariance.
REG_COVAR = 1e-6
_LOG_2PI = math.log(2 * math.pi)
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class GMMResult:
    """What :func:`em_gmm` returns (NumPy arrays for NumPy input, tensors for tensor input).

    ``weights`` (k,), ``means`` (k, d), ``covariances`` (k, d, d) (full matrices whatever the
    covariance type), ``resp`` (n, k) the posterior p_θ(j|x_i) at the final parameters,
    ``loglik`` (iters,) the mean log-likelihood per sample after each iteration, and the
    starting point: ``loglik_init`` and ``init_weights``, ``init_means``, ``init_covariances``.
    """

    weights: Any
    means: Any
    covariances: Any
    resp: Any
    loglik: Any
    loglik_init: float
    init_weights: Any
    init_means: Any
    init_covariances: Any
    cov: str


@dataclass
class CoinsEM:
    """What :func:`em_coins` returns: ``thetas`` (iters + 1, 2), the heads probabilities of coins
    A and B before and after each iteration, and ``weights`` (iters, m, 2), the E-step posteriors
    p(coin | set) each iteration used."""

    thetas: np.ndarray
    weights: np.ndarray


# ---- input checks ---------------------------------------------------------------------------
def _as_data(name: str, x: Any) -> tuple[torch.Tensor, bool]:
    """``x`` as a float64 tensor (on its own device if it was a tensor) and whether it was one."""
    if torch.is_tensor(x):
        if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"{name} must be a real-valued tensor, got dtype {x.dtype}")
        t, was_tensor = x.detach().to(torch.float64), True
    else:
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"{name} must be an array of numbers, got {x!r}")
        t, was_tensor = torch.from_numpy(_validate.real_array(name, x).copy()), False
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must hold finite numbers only (found NaN or ±inf)")
    return t, was_tensor


def _data_matrix(x: Any) -> tuple[torch.Tensor, bool]:
    t, was_tensor = _as_data("x", x)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(
            f"x must be a 2-D array of shape (n, d) with n, d >= 1, got shape {tuple(t.shape)}"
        )
    return t, was_tensor


def _out(t: torch.Tensor, as_tensor: bool) -> Any:
    return t if as_tensor else t.cpu().numpy()


# ---- the two steps ----------------------------------------------------------------------------
def gmm_log_joint(x: Any, weights: Any, means: Any, covariances: Any) -> torch.Tensor:
    """log p_θ(x_i, j) = log π_j + log N(x_i; μ_j, Σ_j), shape (n, k) (article eq. (14)).

    ``covariances`` are full (k, d, d) matrices; the Gaussian log-density uses their Cholesky
    factors L_j: log N = −½[d log 2π + 2 Σ log diag L_j + ‖L_j⁻¹(x − μ_j)‖²]. Returns float64
    tensors; raises if a covariance is not positive definite.
    """
    xt, _ = _data_matrix(x)
    w, _ = _as_data("weights", weights)
    mu, _ = _as_data("means", means)
    sigma, _ = _as_data("covariances", covariances)
    k, d = mu.shape[0] if mu.ndim == 2 else -1, xt.shape[1]
    if mu.ndim != 2 or mu.shape[1] != d:
        raise ValueError(f"means must have shape (k, {d}), got {tuple(mu.shape)}")
    if w.shape != (k,) or bool((w < 0).any()):
        raise ValueError(f"weights must be {k} non-negative numbers, got shape {tuple(w.shape)}")
    if sigma.shape != (k, d, d):
        raise ValueError(f"covariances must have shape ({k}, {d}, {d}), got {tuple(sigma.shape)}")
    dev = xt.device
    return _log_joint(xt, w.to(dev), mu.to(dev), sigma.to(dev))


def _log_joint(
    xt: torch.Tensor, w: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, diagonal: bool = False
) -> Any:
    if diagonal:  # Σ_j = diag(v_j): Σ_d (x_d − μ_jd)²/v_jd expanded into three products
        prec = 1 / torch.diagonal(sigma, dim1=-2, dim2=-1)  # (k, d)
        maha = (xt * xt) @ prec.T - 2 * xt @ (mu * prec).T + (mu * mu * prec).sum(1)  # (n, k)
        log_normal = -0.5 * (xt.shape[1] * _LOG_2PI - torch.log(prec).sum(1) + maha)
        return torch.log(w) + log_normal
    chol, info = torch.linalg.cholesky_ex(sigma)
    if bool((info != 0).any()):
        raise ValueError("covariances must be symmetric positive definite (Cholesky failed)")
    eye = torch.eye(xt.shape[1], dtype=xt.dtype, device=xt.device).expand_as(chol)
    prec_chol = torch.linalg.solve_triangular(chol, eye, upper=False).transpose(1, 2)  # L⁻ᵀ
    z = xt @ prec_chol - mu[:, None] @ prec_chol  # (k, n, d): rows L⁻¹(x_i − μ_j)
    maha = (z * z).sum(-1)  # (k, n)
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (k,)
    log_normal = -0.5 * (xt.shape[1] * _LOG_2PI + logdet[:, None] + maha)
    return (torch.log(w)[:, None] + log_normal).T


def e_step(log_joint: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The E-step (article eq. (20)): q(j|x_i) = softmax_j log p_θ(x_i, j), by log-sum-exp.

    Returns the responsibilities (n, k) and the mean log-likelihood (1/n) Σ_i log p_θ(x_i).
    """
    if not torch.is_tensor(log_joint) or log_joint.ndim != 2:
        raise TypeError("log_joint must be a 2-D tensor (n, k) of log p(x_i, j)")
    log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)
    return torch.exp(log_joint - log_px), float(log_px.mean())


def m_step(
    x: Any, resp: Any, cov: str = "full", *, reg_covar: float = REG_COVAR
) -> tuple[torch.Tensor, ...]:
    """The M-step of a Gaussian mixture (article eq. (18); the closed forms of the module docs).

    ``resp`` (n, k) are the responsibilities q(j|x_i). ``cov`` restricts Σ_j: ``"full"``,
    ``"diag"`` (the per-coordinate variances) or ``"spherical"`` (their mean, times I). Every
    variance gets ``reg_covar`` added (:data:`REG_COVAR`, scikit-learn's default; 0 gives the
    exact M-step), and n_j gets 10·eps, as in scikit-learn. Returns
    (weights (k,), means (k, d), covariances (k, d, d)) as float64 tensors.
    """
    xt, _ = _data_matrix(x)
    q, _ = _as_data("resp", resp)
    _validate.choice("cov", cov, COVARIANCE_TYPES)
    if q.ndim != 2 or q.shape[0] != xt.shape[0]:
        raise ValueError(f"resp must have shape ({xt.shape[0]}, k), got {tuple(q.shape)}")
    reg_covar = _validate.non_negative("reg_covar", reg_covar)
    return _m_step(xt, q.to(xt.device), cov, reg_covar)


def _m_step(xt: torch.Tensor, q: torch.Tensor, cov: str, reg: float) -> tuple[torch.Tensor, ...]:
    d = xt.shape[1]
    nk = q.sum(0) + 10 * _EPS  # (k,)
    means = (q.T @ xt) / nk[:, None]
    if cov == "full":
        diff = xt[None] - means[:, None]  # (k, n, d)
        weighted = q.T[:, :, None] * diff
        eye = torch.eye(d, dtype=xt.dtype, device=xt.device)
        covs = weighted.transpose(1, 2) @ diff / nk[:, None, None] + reg * eye
    else:  # Σ_i q_ij (x_i − μ_j)² / n_j = Σ_i q_ij x_i² / n_j − μ_j², per coordinate
        var = (q.T @ (xt * xt)) / nk[:, None] - means * means  # (k, d)
        if cov == "spherical":
            var = var.mean(1, keepdim=True).expand(-1, d)
        covs = torch.diag_embed(var + reg)
    return nk / xt.shape[0], means, covs


def joint_objective(log_joint: torch.Tensor, resp: Any) -> float:
    """J(q, θ) = (1/n) Σ_i Σ_j q_ij log(q_ij / p_θ(x_i, j)), the article's eq. (17) without its
    constant E log p̃(x) (0·log 0 = 0). It is ≥ −(1/n) Σ_i log p_θ(x_i), with equality iff q is
    the posterior."""
    q, _ = _as_data("resp", resp)
    q = q.to(log_joint.device)
    if q.shape != log_joint.shape:
        raise ValueError(f"resp must have shape {tuple(log_joint.shape)}, got {tuple(q.shape)}")
    return float((torch.special.xlogy(q, q) - q * log_joint).sum(1).mean())


def posterior_gap(log_joint: torch.Tensor, resp: Any) -> float:
    """(1/n) Σ_i KL(q(·|x_i) ‖ p_θ(·|x_i)): how far J lies above the negative log-likelihood
    (the second term of the chain rule; zero right after an E-step)."""
    q, _ = _as_data("resp", resp)
    posterior, _ = e_step(log_joint)
    return float(np.mean(kl_discrete(q.cpu().numpy(), posterior.cpu().numpy())))


# ---- EM for a Gaussian mixture ------------------------------------------------------------------
def _initial_state(
    xt: torch.Tensor, k: int, init_means: Any, cov: str, seed: int, reg: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights 1/k, the given means (or k distinct data points drawn with ``seed``), and the
    data's own covariance for every component (restricted to ``cov``), plus ``reg``."""
    n, d = xt.shape
    if init_means is None:
        pick = np.random.default_rng(seed).choice(n, size=k, replace=False)
        means = xt[torch.as_tensor(pick, device=xt.device)].clone()
    else:
        means, _ = _as_data("init_means", init_means)
        if means.shape != (k, d):
            raise ValueError(f"init_means must have shape ({k}, {d}), got {tuple(means.shape)}")
        means = means.to(xt.device).clone()
    centred = xt - xt.mean(0)
    spread = centred.T @ centred / n
    if cov != "full":
        var = torch.diagonal(spread)
        spread = torch.diag(var.mean().expand(d) if cov == "spherical" else var)
    eye = torch.eye(d, dtype=xt.dtype, device=xt.device)
    covs = (spread + reg * eye).expand(k, d, d).clone()
    weights = torch.full((k,), 1.0 / k, dtype=xt.dtype, device=xt.device)
    return weights, means, covs


def _check_em_args(
    x: Any, k: Any, iters: Any, cov: Any, seed: Any, reg_covar: Any
) -> tuple[Any, ...]:
    xt, was_tensor = _data_matrix(x)
    k = _validate.positive_int("k", k)
    if k > xt.shape[0]:
        raise ValueError(f"k={k} components need at least k samples; x has n={xt.shape[0]}")
    iters = _validate.positive_int("iters", iters)
    _validate.choice("cov", cov, COVARIANCE_TYPES)
    seed = _validate.non_negative_int("seed", seed)
    reg = _validate.non_negative("reg_covar", reg_covar)
    return xt, was_tensor, k, iters, seed, reg


def em_gmm(
    x: Any,
    k: int,
    iters: int = 100,
    init_means: Any = None,
    cov: str = "full",
    seed: int = 0,
    *,
    reg_covar: float = REG_COVAR,
) -> GMMResult:
    """EM for a k-component Gaussian mixture on x (n, d) (chapter 01, article eqs. (17)–(20)).

    Start: the means ``init_means`` (k, d), or k distinct data points drawn with ``seed``;
    weights 1/k; every covariance the data's own (its diagonal for ``"diag"``, the mean
    variance for ``"spherical"``), plus ``reg_covar``. Then ``iters`` rounds of M-step
    (:func:`m_step`, every variance + ``reg_covar``) and E-step (:func:`e_step`), each followed
    by the mean log-likelihood, which exact EM (``reg_covar=0``) never lowers; the default floor
    :data:`REG_COVAR` can lower it by ~1e-11 near convergence. The same start given to
    ``sklearn.mixture.GaussianMixture`` (``weights_init``, ``means_init``, ``precisions_init``,
    ``tol=0``, ``reg_covar``) gives the same result. Vectorised over samples and components.
    """
    xt, was_tensor, k, iters, seed, reg = _check_em_args(x, k, iters, cov, seed, reg_covar)
    weights, means, covs = _initial_state(xt, k, init_means, cov, seed, reg)
    diagonal = cov != "full"
    init = (weights.clone(), means.clone(), covs.clone())
    loglik = torch.empty(iters, dtype=torch.float64)
    resp, loglik_init = e_step(_log_joint(xt, weights, means, covs, diagonal))
    for t in range(iters):
        weights, means, covs = _m_step(xt, resp, cov, reg)
        resp, loglik[t] = e_step(_log_joint(xt, weights, means, covs, diagonal))
    return GMMResult(
        weights=_out(weights, was_tensor),
        means=_out(means, was_tensor),
        covariances=_out(covs, was_tensor),
        resp=_out(resp, was_tensor),
        loglik=_out(loglik, was_tensor),
        loglik_init=loglik_init,
        init_weights=_out(init[0], was_tensor),
        init_means=_out(init[1], was_tensor),
        init_covariances=_out(init[2], was_tensor),
        cov=cov,
    )


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


def sklearn_init(result: GMMResult) -> dict[str, np.ndarray]:
    """The start of ``result`` as keyword arguments of ``sklearn.mixture.GaussianMixture``:
    ``weights_init``, ``means_init`` and ``precisions_init`` in the shape its
    ``covariance_type=result.cov`` expects (with ``tol=0`` it then repeats our iterations)."""
    prec = np.linalg.inv(_numpy(result.init_covariances))
    shaped = {"full": prec, "diag": np.diagonal(prec, axis1=1, axis2=2), "spherical": prec[:, 0, 0]}
    return {
        "weights_init": _numpy(result.init_weights),
        "means_init": _numpy(result.init_means),
        "precisions_init": shaped[result.cov].copy(),
    }


def fit_difference(result: GMMResult, weights: Any, means: Any, covariances: Any) -> float:
    """The largest |Δ| between the fit of ``result`` and another (weights (k,), means (k, d),
    covariances in scikit-learn's shape for ``result.cov``), after matching the components by
    their means (Hungarian method): mixtures have no order, so fits agree only up to permutation."""
    from scipy.optimize import linear_sum_assignment

    ours = [_numpy(getattr(result, a)) for a in ("weights", "means", "covariances")]
    other = [
        _validate.real_array(n, v)
        for n, v in zip(("weights", "means", "covariances"), (weights, means, covariances))
    ]
    k, d = ours[1].shape
    if other[0].shape != (k,) or other[1].shape != (k, d):
        raise ValueError(f"weights and means must have shapes ({k},) and ({k}, {d})")
    if result.cov == "diag":
        other[2] = other[2][:, :, None] * np.eye(d)
    elif result.cov == "spherical":
        other[2] = other[2].reshape(k, 1, 1) * np.eye(d)
    rows, cols = linear_sum_assignment(((ours[1][:, None] - other[1][None]) ** 2).sum(-1))
    return max(float(np.abs(a[rows] - b[cols]).max()) for a, b in zip(ours, other))


@dataclass
class HalfStep:
    """One state (θ, q) of EM seen as coordinate descent (:func:`em_half_steps`), as NumPy.

    ``step`` is "start", "M r" or "E r"; ``objective`` is J(q, θ) (:func:`joint_objective`),
    ``nll`` the mean negative log-likelihood −(1/n) Σ log p_θ(x_i), ``gap`` = J − nll computed
    as the mean KL(q ‖ p_θ(·|x)) (:func:`posterior_gap`).
    """

    step: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    resp: np.ndarray
    objective: float
    nll: float
    gap: float


def em_half_steps(
    x: Any,
    k: int,
    iters: int = 20,
    init_means: Any = None,
    cov: str = "full",
    seed: int = 0,
    *,
    reg_covar: float = REG_COVAR,
) -> list[HalfStep]:
    """EM as alternating minimisation of J(q, θ): the start (θ₀, q₀ = p_θ₀(·|x)), then for
    r = 1 … iters the state after the M-step (θ_r, q_{r−1}) and after the E-step (θ_r, q_r).

    Same start and steps as :func:`em_gmm` (2·iters + 1 states); for plots and checks of the
    article's eqs. (17)–(20): J falls at every half step, and the gap is zero after each E-step.
    """
    xt, _, k, iters, seed, reg = _check_em_args(x, k, iters, cov, seed, reg_covar)
    theta = _initial_state(xt, k, init_means, cov, seed, reg)
    states: list[HalfStep] = []

    def record(step: str, theta: tuple[torch.Tensor, ...], q: torch.Tensor) -> None:
        log_joint = _log_joint(xt, *theta)
        _, loglik = e_step(log_joint)
        arrays = [t.cpu().numpy() for t in (*theta, q)]
        objective, gap = joint_objective(log_joint, q), posterior_gap(log_joint, q)
        states.append(HalfStep(step, *arrays, objective, -loglik, gap))  # type: ignore[arg-type]

    q, _ = e_step(_log_joint(xt, *theta))
    record("start", theta, q)
    for r in range(1, iters + 1):
        theta = _m_step(xt, q, cov, reg)
        record(f"M {r}", theta, q)
        q, _ = e_step(_log_joint(xt, *theta))
        record(f"E {r}", theta, q)
    return states


# ---- the two-coin problem ----------------------------------------------------------------------
def binomial_log_joint(heads: Any, tosses: Any, thetas: Any, prior: Any = (0.5, 0.5)) -> Any:
    """log p_θ(h_i, c) = log π_c + log C(n_i, h_i) + h_i log θ_c + (n_i − h_i) log(1 − θ_c),
    shape (m, K): set i of n_i tosses with h_i heads, drawn with coin c (Do & Batzoglou 2008).

    ``thetas`` (K,) lie in (0, 1); ``prior`` (K,) sums to 1. Returns a float64 array.
    """
    h = _validate.real_array("heads", heads).reshape(-1)
    n = np.broadcast_to(_validate.real_array("tosses", tosses), h.shape)
    th = _validate.real_array("thetas", thetas).reshape(-1)
    pi = _validate.real_array("prior", prior).reshape(-1)
    if np.any(h < 0) or np.any(h > n) or np.any(h != np.round(h)) or np.any(n != np.round(n)):
        raise ValueError("heads and tosses must be whole numbers with 0 <= heads <= tosses")
    if np.any(th <= 0) or np.any(th >= 1):
        raise ValueError(f"thetas must lie strictly between 0 and 1, got {th}")
    if pi.shape != th.shape or np.any(pi < 0) or abs(pi.sum() - 1) > 1e-9:
        raise ValueError(f"prior must be {th.size} probabilities summing to 1, got {pi}")
    from scipy.special import gammaln

    log_choose = gammaln(n + 1) - gammaln(h + 1) - gammaln(n - h + 1)
    return (
        np.log(pi)[None]
        + log_choose[:, None]
        + h[:, None] * np.log(th)[None]
        + (n - h)[:, None] * np.log1p(-th)[None]
    )


def em_coins(heads: Any, tosses: Any, theta0: Any, iters: int = 10) -> CoinsEM:
    """EM for two coins with an equal, fixed prior (Do & Batzoglou 2008, Fig. 1b).

    E-step: the posterior of each coin for each set (:func:`binomial_log_joint`, then eq. (20));
    M-step: θ_c = Σ_i q_ic h_i / Σ_i q_ic n_i, the heads share among the expected tosses.
    """
    iters = _validate.positive_int("iters", iters)
    h = _validate.real_array("heads", heads).reshape(-1)
    n = np.broadcast_to(_validate.real_array("tosses", tosses), h.shape).astype(np.float64)
    theta = _validate.real_array("theta0", theta0).reshape(-1)
    if theta.shape != (2,):
        raise ValueError(f"theta0 must hold two probabilities (coins A and B), got {theta0!r}")
    thetas, weights = [theta], []
    for _ in range(iters):
        q, _ = e_step(torch.from_numpy(binomial_log_joint(h, n, theta)))
        q = q.numpy()
        theta = (q * h[:, None]).sum(0) / (q * n[:, None]).sum(0)
        thetas.append(theta)
        weights.append(q)
    return CoinsEM(thetas=np.array(thetas), weights=np.array(weights))
