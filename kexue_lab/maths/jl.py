"""Random projections and the Johnson–Lindenstrauss lemma (chapters 17, 18).

Chapter 17 (kexue.fm/archives/9588, with the JL background of archives/8679) links the
entropy-invariant scale log₅₁₂ n of attention to the JL lemma: N points fit in O(log N)
dimensions. This module holds the JL mathematics the chapters measure.

* A Gaussian random projection P ∈ ℝ^{D×k}, P_ij ~ N(0, 1/k), maps x ↦ xP. For a
  fixed pair, ‖(x−y)P‖²/‖x−y‖² is distributed as χ²_k/k, whatever x − y is.
  :func:`squared_distance_ratios` and :func:`jl_distortion` measure it on data.
* The failure probability of one pair, P(|χ²_k/k − 1| ≥ ε): exactly
  (:func:`chi2_tail`, :func:`chi2_tail_curve`), by the optimal Cramér–Chernoff bound
  (:func:`chernoff_tail`) and by the article's closed bound 2·exp(−kε²/8)
  (:func:`jl_bound`, :func:`jl_bound_curve`).
* N points: :func:`distortion_level` (exact tail and a union bound) and
  :func:`jl_dimension` (the lemma's const·log N/ε²).

The attention side of chapter 17 (sharpening, the ideal key size, the planted-key toy)
lives in :mod:`kexue_lab.architecture.attention`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .. import _validate


# ---- checks ---------------------------------------------------------------------------------
def _eps(eps: Any) -> float:
    out = _validate.real("eps", eps)
    if not 0.0 < out < 1.0:
        raise ValueError(
            f"eps must lie in the open interval (0, 1) (a relative distortion), got {eps!r}"
        )
    return out


def _points(points: Any) -> torch.Tensor:
    if torch.is_tensor(points):
        if not (points.is_floating_point() or points.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"points must be a real tensor, got dtype {points.dtype}")
        x = points.to(torch.float64)
    else:
        arr = np.asarray(points)
        if arr.dtype.kind not in "fiu":
            raise TypeError(
                f"points must be numeric (a tensor or array of shape (N, D)), got dtype {arr.dtype}"
            )
        x = torch.from_numpy(arr.astype(np.float64))
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(
            "points must have shape (N, D) with N >= 2 points and D >= 1, "
            f"got shape {tuple(x.shape)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError("points must be finite (found NaN or infinity)")
    return x


# ---- random projections ----------------------------------------------------------------------
def squared_distance_ratios(points: Any, dim: int, seed: int = 0, repeats: int = 1) -> torch.Tensor:
    """‖(x_i − x_j)P‖² / ‖x_i − x_j‖² for every pair i < j, for ``repeats`` independent P.

    P ∈ ℝ^{D×dim} has iid N(0, 1/dim) entries (a standard Gaussian matrix scaled by
    1/√dim), so each ratio has mean 1 and the law χ²_dim/dim (chapter 17, eq. (3)).
    ``points`` is an (N, D) tensor or array; the result is a float64 tensor of shape
    (repeats, N(N−1)/2) on the points' device, pairs in ``torch.pdist`` order.
    The projections are drawn on the CPU from ``seed``, so every device gives the
    same numbers. Raises ``ValueError`` for duplicate points (zero distance).
    """
    x = _points(points)
    dim = _validate.positive_int("dim", dim)
    seed = _validate.non_negative_int("seed", seed)
    repeats = _validate.positive_int("repeats", repeats)
    before = torch.pdist(x) ** 2
    if (before == 0).any():
        i, j = torch.triu_indices(x.shape[0], x.shape[0], 1)
        k = int(torch.nonzero(before == 0)[0])
        raise ValueError(
            f"points must be distinct: rows {int(i[k])} and {int(j[k])} coincide "
            "(a zero distance has no relative distortion)"
        )
    gen = torch.Generator().manual_seed(seed)
    proj = torch.randn(repeats, x.shape[1], dim, generator=gen, dtype=torch.float64) / math.sqrt(
        dim
    )
    y = x.unsqueeze(0) @ proj.to(x.device)  # (repeats, N, dim)
    i, j = torch.triu_indices(x.shape[0], x.shape[0], 1, device=x.device)
    after = torch.cdist(y, y, compute_mode="donot_use_mm_for_euclid_dist")[:, i, j] ** 2
    return after / before


def jl_distortion(points: Any, dim: int, seed: int = 0) -> float:
    """The largest relative distortion of a squared distance under one random projection.

    max over pairs i < j of |‖(x_i − x_j)P‖² / ‖x_i − x_j‖² − 1|, with P ∈ ℝ^{D×dim},
    P_ij ~ N(0, 1/dim) drawn from ``seed`` (see :func:`squared_distance_ratios`).
    The JL lemma (chapter 17, eq. (5)) says this is below ε with probability
    ≥ 1 − 1/N once dim > 24 log N / ε². ``points``: (N, D), N ≥ 2 distinct points.
    """
    return float((squared_distance_ratios(points, dim, seed) - 1.0).abs().max())


# ---- one pair: exact tail and bounds ---------------------------------------------------
def _dims_array(dims: Any) -> np.ndarray:
    arr = np.asarray(dims)
    if arr.dtype.kind not in "iu" or (arr < 1).any():
        raise ValueError(
            f"dims must be positive integers (an array of projected dimensions), got {dims!r}"
        )
    return arr.astype(np.float64)


def chi2_tail_curve(dims: Any, eps: float) -> np.ndarray:
    """:func:`chi2_tail` for an array of dimensions: cdf(k(1−ε)) + sf(k(1+ε)) of χ²_k."""
    from scipy.stats import chi2

    k, eps = _dims_array(dims), _eps(eps)
    return chi2.cdf(k * (1.0 - eps), k) + chi2.sf(k * (1.0 + eps), k)


def jl_bound_curve(dims: Any, eps: float) -> np.ndarray:
    """:func:`jl_bound` for an array of dimensions: 2·exp(−k·ε²/8), elementwise."""
    return 2.0 * np.exp(-_dims_array(dims) * _eps(eps) ** 2 / 8.0)


def chi2_tail(dim: int, eps: float) -> float:
    """Exact P(|χ²_dim/dim − 1| ≥ ε): the failure probability of one pair (scipy ``chi2``).

    It is the probability that one squared distance is distorted by at least a factor
    1 ± ε under a Gaussian projection to ``dim`` dimensions (chapter 17, eq. (3)).
    """
    return float(chi2_tail_curve(_validate.positive_int("dim", dim), eps))


def chernoff_tail(dim: int, eps: float) -> float:
    """The optimal Cramér–Chernoff bound on P(|χ²_dim/dim − 1| ≥ ε), both tails added:

    exp(dim·(log(1+ε) − ε)/2) + exp(dim·(log(1−ε) + ε)/2)   (article 8679, before relaxing).

    It lies between :func:`chi2_tail` and :func:`jl_bound` (chapter 17, eq. (4)).
    """
    dim, eps = _validate.positive_int("dim", dim), _eps(eps)
    return math.exp(dim * (math.log1p(eps) - eps) / 2) + math.exp(
        dim * (math.log1p(-eps) + eps) / 2
    )


def jl_bound(dim: int, eps: float) -> float:
    """The JL failure-probability bound for one pair: 2·exp(−dim·ε²/8).

    This is the form of the JL background article (kexue.fm/archives/8679, "unit-norm
    lemma"), from which the article's dim > 24 log N/ε² follows by a union bound over the
    N(N−1)/2 pairs. Derivation (chapter 17, eq. (4)): the optimal Chernoff bounds are
    exp(dim(log(1+ε) − ε)/2) for the upper tail and exp(dim(log(1−ε) + ε)/2) for the lower;
    log(1−ε) + ε ≤ log(1+ε) − ε ≤ −ε²/4 on (0, 1) turns both into exp(−dim·ε²/8).
    Valid for 0 < ε < 1. The value may exceed 1, in which case the bound says nothing.
    (Dasgupta–Gupta's 2·exp(−dim(ε²/2 − ε³/3)/2) is tighter for ε < 3/4.)
    """
    return float(jl_bound_curve(_validate.positive_int("dim", dim), eps))


def distortion_level(n_points: int, dim: int, alpha: float = 0.01) -> float:
    """The ε at which the worst distortion of N points is exceeded with probability ≤ ``alpha``.

    Union bound with the exact tail: the smallest ε with
    N(N−1)/2 · P(|χ²_dim/dim − 1| ≥ ε) ≤ alpha (ε may exceed 1 for small ``dim``).
    A measured :func:`jl_distortion` above this level happens with probability at most ``alpha``.
    """
    from scipy.optimize import brentq
    from scipy.stats import chi2

    n_points, dim = _validate.positive_int("n_points", n_points), _validate.positive_int("dim", dim)
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2 (a pair is needed), got {n_points}")
    alpha = _validate.real("alpha", alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    pairs = n_points * (n_points - 1) / 2

    def excess(eps: float) -> float:
        return pairs * (chi2.cdf(dim * (1 - eps), dim) + chi2.sf(dim * (1 + eps), dim)) - alpha

    return float(brentq(excess, 1e-12, 1e3, xtol=1e-12))


def jl_dimension(n_points: Any, eps: float, const: float = 24.0) -> Any:
    """The dimension the JL lemma asks for: const·ln N / ε² (chapters 17, 18).

    With const = 24 (the article's distance version) a Gaussian projection to more
    dimensions preserves every pairwise squared distance of N points within 1 ± ε with
    probability ≥ 1 − 1/N; 16 still gives existence. ``n_points`` (≥ 2) may be an array.
    """
    arr = np.asarray(n_points, dtype=np.float64) if not isinstance(n_points, bool) else None
    if arr is None or not np.all(np.isfinite(arr)) or np.any(arr < 2):
        raise ValueError(
            f"n_points must be >= 2 (a pair is needed), a number or an array, got {n_points!r}"
        )
    out = _validate.positive("const", const) * np.log(arr) / _eps(eps) ** 2
    return float(out) if out.ndim == 0 else out
