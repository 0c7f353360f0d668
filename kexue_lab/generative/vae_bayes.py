"""The VAE from the joint distribution (chapter 04, kexue.fm/archives/5343).

The data give p̃(x), the encoder p(z|x), so p(x, z) = p̃(x) p(z|x); the generative model is
q(x, z) = q(x|z) q(z). The article minimises their KL (eq. (8)) and splits off a constant:

    KL(p(x, z) ‖ q(x, z)) = E_{p̃}[log p̃(x)] + 𝓛,
    𝓛 = E_{x~p̃} [ E_{z~p(z|x)}[−log q(x|z)] + KL(p(z|x) ‖ q(z)) ]              (eq. (13))

so 𝓛 ≥ −E log p̃ = H(p̃). Two exact tools check this and what follows from it:

* :func:`joint_kl_terms`: every term for discrete tables, and the other ways to cut 𝓛 up:
  𝓛 − H(p̃) = KL(p̃ ‖ q(x)) + E_x KL(p(z|x) ‖ q(z|x)) (the maximum-likelihood reading), and the
  information bounds reconstruction ≥ H(p̃) − I(x; z), KL term ≥ I(x; z);
* :func:`linear_vae_optimum`: the best linear-Gaussian VAE with a fixed decoder variance σ̃²
  for data with covariance eigenvalues λ_i. Direction i is used iff λ_i > σ̃²; then it costs
  ½ log(λ_i/σ̃²) nats of KL and leaves a squared error σ̃², otherwise 0 nats and λ_i. This is
  the reverse water-filling of a Gaussian source's rate–distortion function, with σ̃² as the
  water level (ours; the linear VAE is probabilistic PCA, Tipping & Bishop 1999, Lucas et al.
  2019).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate
from ..maths.entropy import entropy, kl_discrete

__all__ = ["joint_kl_terms", "linear_vae_optimum"]


def _stochastic(
    name: str, value: Any, axis: int, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    arr = _validate.real_array(name, value)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.size == 0 or bool((arr < 0).any()):
        raise ValueError(f"{name} must be non-empty with entries ≥ 0")
    sums = arr.sum(axis=axis)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-9):
        what = "entries" if arr.ndim == 1 else ("every row" if axis == 1 else "every column")
        raise ValueError(f"{name}: {what} must sum to 1, got sums {np.round(sums, 6).tolist()}")
    return arr


def joint_kl_terms(p_x: Any, p_z_given_x: Any, q_z: Any, q_x_given_z: Any) -> dict[str, float]:
    """All terms of the joint-distribution view for discrete x ∈ {1..X}, z ∈ {1..Z}, in nats.

    ``p_x`` (X,) is p̃(x); ``p_z_given_x`` (X, Z) has rows p(z|x); ``q_z`` (Z,) is the prior;
    ``q_x_given_z`` (X, Z) has columns q(x|z). Returns ``joint_kl`` = KL(p(x,z) ‖ q(x,z)),
    ``data_term`` = E log p̃(x), ``loss`` = 𝓛 of eq. (13), its ``reconstruction`` and ``kl``
    parts, ``entropy`` = H(p̃), ``information`` = I(x; z) under p, ``marginal_kl`` =
    KL(p̃ ‖ q(x)) and ``posterior_kl`` = E_x KL(p(z|x) ‖ q(z|x)) (chapter 04).
    """
    px = _stochastic("p_x", p_x, 0)
    n_x = px.shape[0]
    pzx = _stochastic("p_z_given_x", p_z_given_x, 1)
    if pzx.ndim != 2 or pzx.shape[0] != n_x:
        raise ValueError(f"p_z_given_x must have shape ({n_x}, Z), got {pzx.shape}")
    n_z = pzx.shape[1]
    qz = _stochastic("q_z", q_z, 0, (n_z,))
    qxz = _stochastic("q_x_given_z", q_x_given_z, 0, (n_x, n_z))
    p_joint, q_joint = px[:, None] * pzx, qxz * qz[None, :]
    q_x = q_joint.sum(1)
    q_post = q_joint / np.where(q_x > 0, q_x, 1.0)[:, None]  # rows q(z|x)
    p_z = p_joint.sum(0)
    with np.errstate(divide="ignore"):
        log_q = np.log(qxz)
    reconstruction = float(-(p_joint * np.where(p_joint > 0, log_q, 0.0)).sum())
    kl = float(px @ kl_discrete(pzx, np.tile(qz, (n_x, 1))))
    return {
        "joint_kl": float(kl_discrete(p_joint.ravel(), q_joint.ravel())),
        "data_term": -float(entropy(px)),
        "loss": reconstruction + kl,
        "reconstruction": reconstruction,
        "kl": kl,
        "entropy": float(entropy(px)),
        "information": float(px @ kl_discrete(pzx, np.tile(p_z, (n_x, 1)))),
        "marginal_kl": float(kl_discrete(px, q_x)),
        "posterior_kl": float(px @ kl_discrete(pzx, q_post)),
    }


def linear_vae_optimum(eigenvalues: Any, sigma2: float, z_dim: int) -> dict[str, Any]:
    """The best linear VAE with decoder variance σ̃² on data with covariance eigenvalues λ_i.

    Model: q(z) = N(0, I_d), q(x|z) = N(Wz + b, σ̃² I), encoder p(z|x) = N(Ax + c, diag v).
    Per principal direction (the d = ``z_dim`` largest λ_i can be used) the optimum has
    w_i² = max(λ_i − σ̃², 0), KL_i = ½ log(λ_i/σ̃²) if λ_i > σ̃² else 0, and the expected
    squared error of that direction is min(λ_i, σ̃²); the directions beyond d contribute λ_i.
    Eigenvalues within 1e-10 of the largest in absolute value count as 0 (rounding of
    ``eigvalsh``). Returns per-direction ``kl`` (d,), ``active`` (d,) booleans, the totals
    ``rate`` (nats), ``distortion`` (expected ‖x − Wz − b‖², summed over all D directions)
    and ``loss`` = distortion/(2σ̃²) + (D/2) log(2πσ̃²) + rate, the 𝓛 of eq. (13) per sample
    (chapter 04).
    """
    lam = _validate.real_array("eigenvalues", eigenvalues)
    if lam.ndim == 1 and lam.size:  # eigvalsh rounds exact zeros to ±1e-17: treat as 0
        lam = np.where(np.abs(lam) <= 1e-10 * np.abs(lam).max(), 0.0, lam)
    if lam.ndim != 1 or lam.size == 0 or bool((lam < 0).any()):
        raise ValueError(f"eigenvalues must be a non-empty 1-D array of values ≥ 0, got {lam!r}")
    sigma2 = _validate.positive("sigma2", sigma2)
    d = _validate.positive_int("z_dim", z_dim)
    if d > lam.size:
        raise ValueError(f"z_dim must be at most the number of eigenvalues ({lam.size}), got {d}")
    lam = np.sort(lam)[::-1]
    top = lam[:d]
    active = top > sigma2
    kl = np.where(active, 0.5 * np.log(np.where(active, top, 1.0) / sigma2), 0.0)
    distortion = float(np.minimum(top, sigma2).sum() + lam[d:].sum())
    rate = float(kl.sum())
    loss = distortion / (2 * sigma2) + 0.5 * lam.size * math.log(2 * math.pi * sigma2) + rate
    return {"kl": kl, "active": active, "rate": rate, "distortion": distortion, "loss": loss}
