"""Why centring and scaling a layer's input lowers L (chapter 14, kexue.fm/archives/6992).

Article: 苏剑林, BN究竟起了什么作用？一个闭门造车的分析 (2019). For least squares the Hessian of
the loss is E[x̃x̃ᵀ] (x̃ = [x, 1]); for logistic regression it is E[σ'(h) x̃x̃ᵀ] ⪯ ¼E[x̃x̃ᵀ], with
equality at θ = 0. Either way the descent lemma's global L, and with it the guaranteed step
2/L, is set by λ_max(E[x̃x̃ᵀ]). Subtracting the mean removes the spike an offset puts there;
dividing by the standard deviation puts every input on the scale of the bias's constant 1
(article eqs. (14) and (16)), which for a linear model is the same as giving weight i its own
learning rate η/σᵢ².

* :func:`standardize`, :func:`second_moment`, :func:`logistic_gd`: centred and standardised
  inputs, their second moments, and gradient descent at η = 1/L on real data;
* :func:`conditioning_problem`, :func:`gd_trajectory`, :func:`steps_to_tol`: the 2-D
  regression behind the exploration ``kexue_lab.views.ch14.conditioning``.

BatchNorm itself (its backward pass, the landscape measurements, the training sweep) is in
:mod:`kexue_lab.architecture.normalization`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from .. import _validate

Prep = Literal["raw", "centred", "standardised"]
PREPS: tuple[str, ...] = ("raw", "centred", "standardised")


# ---- conditioning of centred and standardised inputs ----
def _matrix(name: str, X: Any) -> np.ndarray:
    arr = np.asarray(X.detach().cpu() if torch.is_tensor(X) else X)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(
            f"{name} must have shape (samples, features) with at least 2 samples, got {arr.shape}"
        )
    return arr.astype(np.float64)


def standardize(X: Any, center: bool = True, scale: bool = True) -> np.ndarray:
    """x → (x − μ)/σ per feature (μ the mean, σ the population std); either step can be skipped.

    A constant feature keeps σ = 1 (it is only centred). Article eqs. (14) and (16); chapter 14.
    """
    arr = _matrix("X", X)
    if center:
        arr = arr - arr.mean(0)
    if scale:
        sd = arr.std(0)
        arr = arr / np.where(sd > 0, sd, 1.0)
    return arr


def second_moment(X: Any, *, bias: bool = False) -> np.ndarray:
    """E[x xᵀ] over the rows of X (with a constant 1 appended to every row if ``bias``).

    For least squares the Hessian of the loss is E[x̃x̃ᵀ]; for logistic regression it is
    E[σ'(h) x̃x̃ᵀ] ⪯ ¼E[x̃x̃ᵀ] (σ' ≤ ¼, equality at θ = 0), so the largest eigenvalue sets the
    descent lemma's global L. Chapter 14.
    """
    arr = _matrix("X", X)
    if bias:
        arr = np.hstack([arr, np.ones((len(arr), 1))])
    return arr.T @ arr / len(arr)


def logistic_gd(X: Any, y: Any, *, steps: int, lr: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on logistic regression with a bias, from θ = 0.

    Loss f(θ) = mean[log(1 + e^{h}) − y·h], h = ⟨θ, x̃⟩, x̃ = [x, 1], y ∈ {0, 1}. Its Hessian is
    E[σ'(h) x̃x̃ᵀ] ⪯ ¼E[x̃x̃ᵀ] (equal at θ = 0), so L = λ_max(E[x̃x̃ᵀ])/4 and the default step
    is η = 1/L. ``lr`` may also be one positive step per parameter (d + 1 of them, the
    bias's last): θ ← θ − lr ⊙ ∇f, a diagonal preconditioner. Returns (θ, losses) with
    ``losses[t]`` = f(θ_t), t = 0..steps. Chapter 14.
    """
    arr = _matrix("X", X)
    target = np.asarray(y, dtype=np.float64).reshape(-1)
    if target.shape != (len(arr),) or not np.isin(target, (0.0, 1.0)).all():
        raise ValueError(
            f"y must hold one label in {{0, 1}} per row of X ({len(arr)}), got shape {target.shape}"
        )
    steps = _validate.positive_int("steps", steps)
    Xt = np.hstack([arr, np.ones((len(arr), 1))])
    if lr is None:
        lr = 4.0 / np.linalg.eigvalsh(Xt.T @ Xt / len(Xt))[-1]
    if np.ndim(lr) == 0:
        lr = _validate.positive("lr", lr)
    else:
        lr = np.asarray(lr, dtype=np.float64)
        if lr.shape != (Xt.shape[1],) or not np.all(lr > 0):
            raise ValueError(
                f"lr must be a positive number or {Xt.shape[1]} positive per-parameter steps "
                f"(features + bias), got shape {lr.shape}"
            )
    theta, losses = np.zeros(Xt.shape[1]), np.empty(steps + 1)
    for t in range(steps + 1):
        h = Xt @ theta
        losses[t] = np.mean(np.logaddexp(0.0, h) - target * h)
        if t < steps:
            theta = theta - lr * (Xt.T @ (1.0 / (1.0 + np.exp(-h)) - target)) / len(Xt)
    return theta, losses


# ---- the exploration's problem: GD at η = 1/L on a 2-D linear regression ----
VIEW_RHO = 0.5  #: correlation of the two input features in the exploration
VIEW_W = np.array([1.0, -1.0])  #: true weights (raw units) of the exploration's regression
VIEW_B = 0.5  #: true bias
VIEW_TOL = 1e-10  #: "converged": the loss gap has fallen by this factor


def conditioning_problem(
    offset: float, ratio: float, prep: Prep
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The exploration's problem: least squares for y = ⟨w*, x⟩ + b*, with population moments.

    x ~ N(c·1, diag(1, r)·R·diag(1, r)) in 2-D, R with correlation ``VIEW_RHO``, c = ``offset``,
    r = ``ratio``. The model sees x, x − μ or (x − μ)/σ (``prep``) plus a bias, so its loss is
    f(θ) = ½(θ − θ*)ᵀH(θ − θ*) with H = E[x̃x̃ᵀ]. Returns (H, θ*, A, m): the raw-unit weights
    and bias of parameters θ are Aθ, and m is the mean of the transformed input. Chapter 14.
    """
    c = _validate.non_negative("offset", offset)
    r = _validate.positive("ratio", ratio)
    _validate.choice("prep", prep, PREPS)
    mu = np.array([c, c])
    sd = np.array([1.0, r])
    cov = np.outer(sd, sd) * np.array([[1.0, VIEW_RHO], [VIEW_RHO, 1.0]])
    shift = mu if prep != "raw" else np.zeros(2)
    scale = sd if prep == "standardised" else np.ones(2)
    m = (mu - shift) / scale  # mean of the transformed input
    S = cov / np.outer(scale, scale)
    H = np.block([[S + np.outer(m, m), m[:, None]], [m[None, :], np.ones((1, 1))]])
    # raw (w, b) from transformed θ: w = θ_w/scale, b = θ_b − ⟨θ_w/scale, shift⟩
    A = np.zeros((3, 3))
    A[:2, :2] = np.diag(1.0 / scale)
    A[2, :2] = -shift / scale
    A[2, 2] = 1.0
    theta_star = np.linalg.solve(A, np.append(VIEW_W, VIEW_B))
    return H, theta_star, A, m


def _gd_gap(lam: np.ndarray, z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Relative loss gap of GD at η = 1/λ_max after t steps: Σλ(1−λ/L)^{2t}z² / Σλz²."""
    q = (1.0 - lam / lam.max())[None, :] ** (2 * t[:, None])
    return (q * lam * z**2).sum(1) / (lam * z**2).sum()


def gd_trajectory(H: Any, theta_star: Any, steps: Any) -> tuple[np.ndarray, np.ndarray]:
    """GD at η = 1/λ_max(H) on f(θ) = ½(θ − θ*)ᵀH(θ − θ*) from θ = 0, in closed form (chapter 14).

    With H = V diag(λ) Vᵀ and z = Vᵀ(0 − θ*), after t steps θ_t = θ* + V diag((1 − λ/L)^t) z and
    the relative loss gap is (f − f*)/(f₀ − f*) = Σλ(1 − λ/L)^{2t}z² / Σλz², L = λ_max.
    Returns (gap, θ) for every t in ``steps`` (shapes (T,) and (T, dim)).
    """
    H = np.asarray(H, dtype=np.float64)
    star = np.asarray(theta_star, dtype=np.float64).reshape(-1)
    if H.ndim != 2 or H.shape != (len(star), len(star)) or not np.allclose(H, H.T):
        raise ValueError(
            f"H must be a symmetric ({len(star)}, {len(star)}) matrix, got shape {H.shape}"
        )
    t = np.asarray(steps, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(t >= 0):
        raise ValueError(f"steps must be a non-empty array of step counts >= 0, got {steps!r}")
    lam, V = np.linalg.eigh(H)
    if lam[0] <= 0:
        raise ValueError(f"H must be positive definite, got smallest eigenvalue {lam[0]:.3g}")
    z = V.T @ (-star)
    decay = (1.0 - lam / lam.max())[None, :] ** t[:, None]
    return _gd_gap(lam, z, t), star[None, :] + (decay * z[None, :]) @ V.T


def steps_to_tol(
    H: np.ndarray, theta0_minus_star: np.ndarray, tol: float = VIEW_TOL, cap: int = 10**9
) -> int | None:
    """Fewest GD steps at η = 1/λ_max(H) after which f − f* ≤ tol·(f₀ − f*) (chapter 14).

    ``None`` if more than ``cap`` steps are needed; the gap is that of :func:`gd_trajectory`.
    """
    tol = _validate.positive("tol", tol)
    cap = _validate.positive_int("cap", cap)
    lam, V = np.linalg.eigh(H)
    z = V.T @ theta0_minus_star
    if _gd_gap(lam, z, np.array([cap]))[0] > tol:
        return None
    lo, hi = 0, cap  # the gap decreases monotonically in t: bisection
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _gd_gap(lam, z, np.array([mid]))[0] > tol else (lo, mid)
    return hi
