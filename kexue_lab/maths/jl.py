"""Random projections, the Johnson–Lindenstrauss lemma and key sizes (chapter 17).

Chapter 17 (kexue.fm/archives/9588, with the JL background of archives/8679)
links the entropy-invariant scale log₅₁₂ n of attention to the JL lemma: N
points fit in O(log N) dimensions. This module holds what the chapter measures.

* A Gaussian random projection P ∈ ℝ^{D×k}, P_ij ~ N(0, 1/k), maps x ↦ xP. For a
  fixed pair, ‖(x−y)P‖²/‖x−y‖² is distributed as χ²_k/k, whatever x − y is.
  :func:`squared_distance_ratios` and :func:`jl_distortion` measure it on data.
* The failure probability of one pair, P(|χ²_k/k − 1| ≥ ε): exactly
  (:func:`chi2_tail`), by the optimal Cramér–Chernoff bound (:func:`chernoff_tail`)
  and by the article's closed bound 2·exp(−kε²/8) (:func:`jl_bound`).
* The "planted key" toy: one key at cosine ``cos`` to the query among n − 1
  keys uniform on the sphere of ℝ^d. :func:`planted_key_argmax_prob` (exact),
  :func:`planted_key_mass` (mean field) and :func:`planted_key_trials` (Monte
  Carlo) say how large d must be for attention over n keys to find the key.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..widgets import Curve, Panel, View

#: The article's reference length: d is assumed tuned for sequences of 512 tokens.
BASE_LENGTH = 512


# ---- checks ---------------------------------------------------------------------------------
def _eps(eps: Any) -> float:
    out = _validate.real("eps", eps)
    if not 0.0 < out < 1.0:
        raise ValueError(f"eps must lie in the open interval (0, 1) (a relative distortion), got {eps!r}")
    return out


def _points(points: Any) -> torch.Tensor:
    if torch.is_tensor(points):
        if not (points.is_floating_point() or points.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"points must be a real tensor, got dtype {points.dtype}")
        x = points.to(torch.float64)
    else:
        arr = np.asarray(points)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"points must be numeric (a tensor or array of shape (N, D)), got dtype {arr.dtype}")
        x = torch.from_numpy(arr.astype(np.float64))
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"points must have shape (N, D) with N >= 2 points and D >= 1, got shape {tuple(x.shape)}")
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
    proj = torch.randn(repeats, x.shape[1], dim, generator=gen, dtype=torch.float64) / math.sqrt(dim)
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


# ---- one pair: exact tail and bounds -----------------------------------------------------------
def _dims_array(dims: Any) -> np.ndarray:
    arr = np.asarray(dims)
    if arr.dtype.kind not in "iu" or (arr < 1).any():
        raise ValueError(f"dims must be positive integers (an array of projected dimensions), got {dims!r}")
    return arr.astype(np.float64)


def chi2_tail_curve(dims: Any, eps: float) -> np.ndarray:
    """:func:`chi2_tail` for an array of dimensions: cdf(k(1−ε)) + sf(k(1+ε)) of χ²_k, elementwise."""
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
    return math.exp(dim * (math.log1p(eps) - eps) / 2) + math.exp(dim * (math.log1p(-eps) + eps) / 2)


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
        raise ValueError(f"n_points must be >= 2 (a pair is needed), a number or an array, got {n_points!r}")
    out = _validate.positive("const", const) * np.log(arr) / _eps(eps) ** 2
    return float(out) if out.ndim == 0 else out


def ideal_key_size(n: float, d: float, base: float = BASE_LENGTH) -> float:
    """d_n = d·log_base(n): the key size the JL heuristic calls ideal at length n (article eq. (8)).

    ``d`` is assumed tuned for length ``base``; d_n / d = log_base n is the entropy-invariant scale.
    """
    n, d, base = _validate.positive("n", n), _validate.positive("d", d), _validate.positive("base", base)
    if n <= 1 or base <= 1:
        raise ValueError(f"n and base must be > 1 (lengths of at least 2 tokens), got n={n}, base={base}")
    return d * math.log(n) / math.log(base)


# ---- attention: sharpening -------------------------------------------------------------------
def sharpen(p: Any, a: float) -> torch.Tensor:
    """p^a / Σ p^a along the last axis: what multiplying the logits by ``a`` does to softmax.

    softmax(a·z) = softmax(z)^a / Σ softmax(z)^a (chapter 17, eq. (2)); computed as
    softmax(a·log p) so that tiny probabilities do not underflow. Zeros stay zero.
    """
    a = _validate.positive("a", a)
    t = torch.as_tensor(p, dtype=torch.float64) if not torch.is_tensor(p) else p
    if t.ndim == 0 or not t.is_floating_point():
        raise TypeError("p must be a floating-point tensor or array of probabilities (at least 1-D)")
    if (t < 0).any() or not torch.isfinite(t).all():
        raise ValueError("p must hold finite, non-negative probabilities")
    return torch.softmax(a * torch.log(t), dim=-1)


def entropy(p: Any) -> torch.Tensor:
    """Shannon entropy −Σ p log p (nats) along the last axis, with 0·log 0 = 0."""
    t = torch.as_tensor(p, dtype=torch.float64) if not torch.is_tensor(p) else p
    return -torch.special.xlogy(t, t).sum(-1)


# ---- attention: the planted-key toy -------------------------------------------------------------
def _dims(d: Any) -> np.ndarray:
    arr = np.asarray(d)
    if arr.dtype.kind not in "iu" or (arr < 2).any():
        raise ValueError(f"d must be an integer key size >= 2 (or an array of them), got {d!r}")
    return arr.astype(np.float64)


def _n_keys(n: Any) -> int:
    return _validate.int_at_least("n", n, 2, "the planted key and at least one other")


def _cos(cos: Any) -> float:
    out = _validate.real("cos", cos)
    if not -1.0 < out < 1.0:
        raise ValueError(f"cos must lie in (-1, 1), got {cos!r}")
    return out


def cosine_cdf(t: Any, d: Any) -> np.ndarray:
    """P(cos θ ≤ t) for the angle θ between a fixed direction and a uniform random one in ℝ^d.

    (1 + cos θ)/2 follows Beta((d−1)/2, (d−1)/2), so this is a regularized incomplete beta function.
    """
    from scipy.special import betainc

    dd = _dims(d)
    return betainc((dd - 1) / 2, (dd - 1) / 2, (1 + np.clip(np.asarray(t, dtype=np.float64), -1, 1)) / 2)


def planted_key_argmax_prob(n: int, d: Any, cos: float = 0.6) -> np.ndarray:
    """Exact P(the planted key has the largest score) = P(cos θ < cos)^(n−1), for key size(s) ``d``.

    The planted key has cosine ``cos`` with the query; the other n − 1 keys are uniform on
    the sphere of ℝ^d. Any positive logit scale leaves the argmax unchanged.
    """
    return cosine_cdf(_cos(cos), d) ** (_n_keys(n) - 1)


def planted_key_mass(n: int, d: Any, cos: float = 0.6, scale: float = 1.0) -> np.ndarray:
    """Mean-field softmax mass of the planted key, for key size(s) ``d``.

    Logits are s·cos θ_j with s = scale·√d (standard attention q·k/√d for |q| = |k| = √d,
    times ``scale``). The sum over the n − 1 random keys is replaced by its mean,
    (n − 1)·E[e^{s cos θ}] with E[e^{s cos θ}] = Γ(d/2)(2/s)^{d/2−1} I_{d/2−1}(s):
    mass ≈ e^{s·cos} / (e^{s·cos} + (n−1)·E[e^{s cos θ}]). Valid for d ≤ 600.
    """
    from scipy.special import gammaln, ive

    dd = _dims(d)
    if (dd > 600).any():
        raise ValueError(f"d must be <= 600 here (the Bessel function underflows beyond), got {d!r}")
    n, cos = _n_keys(n), _cos(cos)
    s = _validate.positive("scale", scale) * np.sqrt(dd)
    nu = dd / 2 - 1
    log_mean = gammaln(dd / 2) + nu * np.log(2 / s) + np.log(ive(nu, s)) + s
    return 1.0 / (1.0 + np.exp(math.log(n - 1) + log_mean - s * cos))


def planted_key_trials(
    n: int, d: int, cos: float = 0.6, scale: float = 1.0, draws: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo of the planted-key toy: per draw, the planted key's softmax mass and
    whether it has the largest score. Returns two arrays of length ``draws``.

    The n − 1 random cosines are drawn exactly, as 2·Beta((d−1)/2, (d−1)/2) − 1, which is
    the law of cos θ for uniform directions in ℝ^d (no d-dimensional vectors are needed).
    """
    n, cos = _n_keys(n), _cos(cos)
    d = int(_dims(_validate.positive_int("d", d)))
    draws = _validate.positive_int("draws", draws)
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    others = 2 * rng.beta((d - 1) / 2, (d - 1) / 2, size=(draws, n - 1)) - 1
    s = _validate.positive("scale", scale) * math.sqrt(d)
    logits = np.concatenate([np.full((draws, 1), s * cos), s * others], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights[:, 0] / weights.sum(axis=1), others.max(axis=1) < cos


def smallest_passing(d: Any, values: Any, threshold: float) -> int:
    """The smallest d whose value reaches ``threshold`` (d ascending); raises if none does."""
    dd, vals = np.asarray(d), np.asarray(values, dtype=np.float64)
    if dd.shape != vals.shape or dd.ndim != 1:
        raise ValueError(f"d and values must be 1-D arrays of the same length, got shapes {dd.shape} and {vals.shape}")
    ok = vals >= _validate.real("threshold", threshold)
    if not ok.any():
        raise ValueError(f"no d up to {dd.max()} reaches {threshold}: extend the grid")
    return int(dd[np.argmax(ok)])


def power_law_fit(x: Any, y: Any, power: float | None = None) -> tuple[float, float]:
    """Fit y ≈ c·x^power in log space; returns (power, rms of the log residuals).

    With ``power`` given only c is fitted; with ``power=None`` it is fitted too.
    """
    lx, ly = np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))
    if power is None:
        power = float(np.polyfit(lx, ly, 1)[0])
    resid = ly - power * lx
    resid -= resid.mean()
    return float(power), float(np.sqrt(np.mean(resid**2)))


# ---- explorations (chapter 17) ----------------------------------------------------------------
_VIEW_DIMS = np.unique(np.geomspace(4, 4096, 60).round().astype(int))
_VIEW_X = np.linspace(0.0, 2.5, 101)


@lru_cache(maxsize=32)
def _view_ratios(dim: int) -> np.ndarray:
    cloud = torch.randn(64, 512, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    return squared_distance_ratios(cloud, dim, seed=dim).numpy()[0]


def jl_view(n_points: int = 512, eps: float = 0.5, dim: int = 64) -> View:
    """Squared-distance ratios after one projection to ``dim`` dimensions (64 Gaussian points
    in ℝ^512, 2016 pairs) against the χ²_dim/dim law, and the per-pair and union bounds
    for N = ``n_points`` points against the dimension."""
    ratios = _view_ratios(int(dim))
    edges = np.linspace(0.0, 2.5, 51)
    hist, _ = np.histogram(ratios, bins=edges, density=True)
    from scipy.stats import chi2

    density = chi2.pdf(_VIEW_X * dim, dim) * dim
    left = Panel(
        curves=[
            Curve((edges[:-1] + edges[1:]) / 2, hist, "2016 measured pairs", style="markers"),
            Curve(_VIEW_X, density, f"χ²_{dim}/{dim} density", color=1),
        ],
        title=f"‖(x−y)P‖²/‖x−y‖², dim = {dim}",
        xlabel="ratio",
        ylabel="density",
        vlines=[(1 - eps, "1−ε"), (1 + eps, "1+ε")],
    )
    pairs = n_points * (n_points - 1) / 2
    right = Panel(
        curves=[  # a list, so the markers below can be appended
            Curve(_VIEW_DIMS, np.maximum(chi2_tail_curve(_VIEW_DIMS, eps), 1e-30), "exact, one pair"),
            Curve(_VIEW_DIMS, np.minimum(jl_bound_curve(_VIEW_DIMS, eps), 10.0), "bound 2e^{−kε²/8}", style="dashed", color=1),
            Curve(_VIEW_DIMS, np.minimum(pairs * jl_bound_curve(_VIEW_DIMS, eps), 10.0), "union bound, N points", style="dotted", color=2),
        ],
        title=f"failure probability at ε = {eps:g}",
        xlabel="dim",
        ylabel="probability",
        xlog=True,
        ylog=True,
        ylim=(1e-12, 10.0),
    )
    # vertical markers drawn as curves: the static renderer places vlines in linear x
    for k_mark, name, color in [(dim, "k (this projection)", 3), (jl_dimension(n_points, eps), "24 log N/ε²", 4)]:
        right.curves.append(Curve([k_mark, k_mark], [1e-12, 10.0], name, style="dotted", color=color))
    outside = float(np.mean(np.abs(ratios - 1) >= eps))
    return View(
        [left, right],
        readout=(
            f"outside 1±ε: {outside:.3f} of pairs (exact {float(chi2_tail_curve(dim, eps)):.3f}, "
            f"bound {float(jl_bound_curve(dim, eps)):.3g}) · JL: dim > {jl_dimension(n_points, eps):.0f} "
            f"for N = {n_points} · 8.33 log N = {8.33 * math.log(n_points):.1f}"
        ),
    )


_VIEW_LOGITS = torch.linspace(2.0, -2.0, 32, dtype=torch.float64) ** 3 / 4


def sharpen_view(length: int = 512) -> View:
    """One attention row over 32 keys, p = softmax(z), and softmax(log₅₁₂(n)·z) for length n."""
    a = math.log(length) / math.log(BASE_LENGTH)
    p = torch.softmax(_VIEW_LOGITS, dim=-1)
    q = sharpen(p, a)
    keys = np.arange(1, 33)
    panel = Panel(
        curves=[Curve(keys, p.numpy(), "p = softmax(z)", style="dashed"), Curve(keys, q.numpy(), "p^a / Σ p^a", color=1)],
        title=f"a = log₅₁₂ {length} = {a:.3f}",
        xlabel="key (sorted by score)",
        ylabel="attention weight",
        ylim=(0.0, 0.6),
    )
    return View(
        [panel],
        readout=f"entropy {float(entropy(p)):.3f} → {float(entropy(q)):.3f} nats; top key {float(p[0]):.3f} → {float(q[0]):.3f}",
    )
