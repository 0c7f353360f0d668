"""Attention: entropy, the entropy-invariant scale (chapter 16) and the JL view (chapter 17).

Chapter 16 (kexue.fm/archives/8823) asks how the entropy of a softmax attention row,

    H = −Σ_j a_j log a_j,   a = softmax(λ s),   s_j = q·k_j,

changes with the number n of keys, and proposes a scale that grows like log n:

    λ = κ log n / d  →  λ = log_L(n) / √d  (κ fixed so that λ = 1/√d at n = L).

What this module holds:

* :func:`attention_entropy`: H of the softmax over the last dimension, per row, stable
  for large and for −∞ (masked) scores;
* :func:`entropy_invariant_scale`: log_L(n)/√d, the article's Attention-E scale;
* the Laplace estimate behind the article's "0.24": :func:`angle_density`,
  :func:`laplace_h` (quadrature) and :func:`laplace_limit` (its d → ∞ slope);
* the planted-key toy (one relevant key among n − 1 random ones): :func:`planted_key_scores`;
* a one-layer retrieval model trained at one length and evaluated at others:
  :func:`retrieval_task` and :class:`RetrievalAttention`;
* the views of the chapter's explorations: :func:`entropy_view` and :func:`laplace_view`.

The JL functions live in :mod:`kexue_lab.projection` (chapter 17) and are re-exported here.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate
from ..maths.jl import jl_bound, jl_distortion
from ..widgets import Curve, Panel, View

__all__ = [
    "jl_bound",
    "jl_distortion",
    "attention_entropy",
    "entropy_invariant_scale",
    "angle_density",
    "laplace_h",
    "laplace_limit",
    "laplace_peak",
    "planted_key_scores",
    "retrieval_task",
    "RetrievalAttention",
    "compare_scales",
    "entropy_view",
    "laplace_view",
]

Scale = Literal["standard", "log_n"]
SCALES: tuple[str, ...] = ("standard", "log_n")


# ---- entropy and the scale ------------------------------------------------------------------
def attention_entropy(scores: Any) -> Any:
    """Entropy in nats of softmax(scores) over the last dimension, one value per row.

    H = −Σ_j p_j log p_j with log p = log_softmax(scores), computed as
    H = −Σ_j p_j·log p_j over the entries with p_j > 0 (chapter 16, eq. (3)). It is
    stable for large scores (no exp overflows) and −∞ entries (masked keys) count as
    absent. Uniform scores over n entries give log n; a single finite entry gives 0.

    A tensor gives a tensor (autograd flows through it), anything else a float64
    NumPy array, or a float for a single row. Raises for NaN or +∞ scores and for
    rows without a finite score.
    """
    if torch.is_tensor(scores):
        if not scores.is_floating_point():
            raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
        s = scores
    else:
        arr = np.asarray(scores)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"scores must be numeric (an array or tensor of attention logits), got dtype {arr.dtype}")
        s = torch.from_numpy(arr.astype(np.float64))
    if s.ndim == 0 or s.shape[-1] == 0:
        raise ValueError(f"scores must have at least one entry along the last dimension, got shape {tuple(s.shape)}")
    if torch.isnan(s).any() or (s == math.inf).any():
        raise ValueError("scores must not contain NaN or +inf (use -inf to mask a key)")
    if (s == -math.inf).all(dim=-1).any():
        raise ValueError("every row of scores needs at least one finite entry (a row is fully masked)")
    logp = torch.log_softmax(s, dim=-1)
    safe = torch.where(torch.isfinite(logp), logp, torch.zeros_like(logp))
    h = -(logp.exp() * safe).sum(dim=-1) + 0.0  # + 0.0 turns −0 into 0
    if torch.is_tensor(scores):
        return h
    out = h.numpy()
    return float(out) if out.ndim == 0 else out


def _as_length(name: str, value: Any, minimum: float) -> Any:
    """Validate a length (scalar, array or tensor) that must be >= minimum; keep its kind."""
    if torch.is_tensor(value):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
        t = value if value.is_floating_point() else value.to(torch.get_default_dtype())
        if t.numel() and (~torch.isfinite(t)).any():
            raise ValueError(f"{name} must be finite")
        if t.numel() and t.min() < minimum:
            raise ValueError(f"{name} must be >= {minimum:g}, got a minimum of {t.min().item():g}")
        return t
    if np.ndim(value) == 0:
        out = _validate.real(name, value.item() if isinstance(value, np.generic) else value)
        if out < minimum:
            raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
        return out
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    if arr.size and arr.min() < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got a minimum of {arr.min():g}")
    return arr


def entropy_invariant_scale(n: Any, d: Any, train_len: Any = 512) -> Any:
    """The entropy-invariant attention scale λ = log_{train_len}(n)/√d (chapter 16, eq. (5)).

    This is κ·log n/d with κ = √d/log(train_len), so that at n = train_len it equals the
    standard 1/√d; natural logarithms throughout. ``n`` (the number of keys) may be a
    number, an array or a tensor (the result has the same kind); ``n >= 2``, ``d >= 1``
    (head size), ``train_len >= 2`` (the length the standard scale is calibrated to; the
    article uses 512).
    """
    n = _as_length("n", n, 2.0)
    d = _validate.real("d", d)
    if d < 1:
        raise ValueError(f"d (the head size) must be >= 1, got {d!r}")
    base = _validate.real("train_len", train_len)
    if base < 2:
        raise ValueError(f"train_len must be >= 2 (log base of the calibration length), got {train_len!r}")
    factor = 1.0 / (math.log(base) * math.sqrt(d))
    if torch.is_tensor(n):
        return torch.log(n) * factor
    if isinstance(n, np.ndarray):
        return np.log(n) * factor
    return math.log(n) * factor


# ---- the Laplace estimate (eqs. (8)–(9)) ------------------------------------------------------
def _dim(d: Any) -> int:
    return _validate.int_at_least("d", d, 3, "for the angle density sin^(d−2)θ to be peaked")


def _log_norm(d: int) -> float:
    from scipy.special import gammaln

    return float(gammaln(d / 2) - gammaln((d - 1) / 2) - 0.5 * math.log(math.pi))


def angle_density(theta: Any, d: int) -> np.ndarray:
    """Density of the angle between two independent uniform directions in ℝ^d:

    p_d(θ) = Γ(d/2) / (Γ((d−1)/2)√π) · sin^(d−2)θ on [0, π] (chapter 16, eq. (8)).
    """
    d = _validate.positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be >= 2 (an angle needs two dimensions), got {d}")
    t = np.asarray(theta, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = _log_norm(d) + (d - 2) * np.log(np.sin(t)) if d > 2 else np.full_like(t, -math.log(math.pi))
    return np.where((t >= 0) & (t <= math.pi), np.exp(logp), 0.0)


def laplace_peak(lam: float) -> float:
    """cos θ* = (√(1+4λ²) − 1)/(2λ), the maximiser of λ cos θ + log sin θ on (0, π)."""
    lam = _validate.positive("lam", lam)
    return (math.sqrt(1.0 + 4.0 * lam * lam) - 1.0) / (2.0 * lam)


def laplace_limit(lam: float = 1.0) -> float:
    """lim_{d→∞} h_d(λ)/d = ½ log(1 − c²) with c = :func:`laplace_peak` (λ); −½ log φ at λ = 1."""
    c = laplace_peak(lam)
    return 0.5 * math.log1p(-c * c)


def laplace_h(d: int, lam: float = 1.0) -> float:
    """h_d(λ) = log E_θ[e^{λd cos θ}] − λd·E_w[cos θ], θ ~ p_d, w ∝ p_d·e^{λd cos θ} (eq. (8)).

    In the mean-field picture the attention entropy is H ≈ log n + h_d(λ). Computed by
    adaptive quadrature around the peak of the integrand (relative accuracy ~1e-10).
    """
    from scipy.integrate import quad

    d, lam = _dim(d), _validate.positive("lam", lam)
    peak = math.acos(laplace_peak(lam))
    top = lam * d * math.cos(peak) + (d - 2) * math.log(math.sin(peak))

    def weight(t: float) -> float:
        return math.exp(lam * d * math.cos(t) + (d - 2) * math.log(math.sin(t)) - top) if 0 < t < math.pi else 0.0

    opts = {"points": [peak], "limit": 200, "epsabs": 0.0, "epsrel": 1e-12}
    z = quad(weight, 0.0, math.pi, **opts)[0]
    m = quad(lambda t: weight(t) * math.cos(t), 0.0, math.pi, **opts)[0]
    return math.log(z) + top + _log_norm(d) - lam * d * m / z


# ---- the planted-key toy ---------------------------------------------------------------------
def planted_key_scores(n: int, d: int, cos: float = 0.6, draws: int = 50, seed: int = 0) -> np.ndarray:
    """Scores q·k_j of one query against n keys, all of norm √d: key 0 at cosine ``cos``
    to the query, the other n − 1 uniform on the sphere. Shape (draws, n).

    A uniform direction has cos θ = 2B − 1 with B ~ Beta((d−1)/2, (d−1)/2), so the
    random cosines are drawn directly (no d-dimensional vectors are needed).
    """
    n = _validate.positive_int("n", n)
    if n < 2:
        raise ValueError(f"n must be >= 2 (the planted key and at least one other), got {n}")
    d = _dim(d)
    cos = _validate.in_range("cos", cos, -1.0, 1.0)
    draws = _validate.positive_int("draws", draws)
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    others = 2.0 * rng.beta((d - 1) / 2, (d - 1) / 2, size=(draws, n - 1)) - 1.0
    return d * np.concatenate([np.full((draws, 1), cos), others], axis=1)


@lru_cache(maxsize=256)
def _typical_cosines(n: int, d: int) -> np.ndarray:
    """n − 1 cosines at the mid-quantiles of the angle law: a 'typical', noise-free key set."""
    from scipy.stats import beta

    u = (np.arange(n - 1) + 0.5) / (n - 1)
    return 2.0 * beta.ppf(u, (d - 1) / 2, (d - 1) / 2) - 1.0


# ---- the retrieval task ----------------------------------------------------------------------
def retrieval_task(count: int, n: int, n_keys: int, n_values: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` key–value lookups with ``n`` stored pairs each, packed for :class:`RetrievalAttention`.

    Each row holds n distinct keys (of ``n_keys``), n values (of ``n_values``, uniform)
    and one query key, chosen among the stored ones: x = [keys | values | query], shape
    (count, 2n + 1); the target y is the value stored under the query key.
    """
    count, n = _validate.positive_int("count", count), _validate.positive_int("n", n)
    n_keys, n_values = _validate.positive_int("n_keys", n_keys), _validate.positive_int("n_values", n_values)
    if n > n_keys:
        raise ValueError(f"n must be <= n_keys so that the stored keys are distinct, got n={n}, n_keys={n_keys}")
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    chunk = max(1, 2**22 // n_keys)  # distinct keys: first n of a random permutation, in chunks
    keys = torch.cat([torch.rand(min(chunk, count - i), n_keys, generator=gen).argsort(-1)[:, :n] for i in range(0, count, chunk)])
    values = torch.randint(0, n_values, (count, n), generator=gen)
    pick = torch.randint(0, n, (count, 1), generator=gen)
    x = torch.cat([keys, values, keys.gather(1, pick)], dim=1)
    return x, values.gather(1, pick).squeeze(1)


class RetrievalAttention(torch.nn.Module):
    """One attention layer that reads the value stored under a query key.

    Item j is embedded as h_j = E_key[k_j] + E_val[v_j], the query as E_query[k*];
    logits = W_out · Σ_j a_j W_v h_j with a = softmax(λ (W_q E_query[k*])·(W_k h_j)).
    There are no positions, so evaluating at another length changes only how many keys
    share the attention: the dilution that the entropy-invariant scale addresses.
    ``scale`` is ``"standard"`` (λ = 1/√d) or ``"log_n"`` (λ = log_{train_len}(n)/√d),
    equal at n = ``train_len`` (chapter 16).
    """

    def __init__(self, n_keys: int, n_values: int, dim: int = 16, train_len: int = 16, scale: Scale = "standard") -> None:
        super().__init__()
        self.dim = _validate.positive_int("dim", dim)
        self.train_len = _validate.positive_int("train_len", train_len)
        if self.train_len < 2:
            raise ValueError(f"train_len must be >= 2, got {train_len}")
        self.scale = _validate.choice("scale", scale, SCALES)
        n_keys, n_values = _validate.positive_int("n_keys", n_keys), _validate.positive_int("n_values", n_values)
        self.key = torch.nn.Embedding(n_keys, self.dim)
        self.value = torch.nn.Embedding(n_values, self.dim)
        self.query = torch.nn.Embedding(n_keys, self.dim)
        self.wq, self.wk, self.wv = (torch.nn.Linear(self.dim, self.dim, bias=False) for _ in range(3))
        self.out = torch.nn.Linear(self.dim, n_values)

    def _unpack(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if x.ndim != 2 or x.shape[1] < 5 or x.shape[1] % 2 == 0:
            raise ValueError(f"x must have shape (batch, 2n + 1) with n >= 2 (see retrieval_task), got {tuple(x.shape)}")
        n = (x.shape[1] - 1) // 2
        return x[:, :n], x[:, n : 2 * n], x[:, -1]

    def weights(self, x: torch.Tensor, scale: Scale | None = None) -> torch.Tensor:
        """Attention weights of the query over the n stored items, shape (batch, n)."""
        keys, values, query = self._unpack(x)
        mode = self.scale if scale is None else _validate.choice("scale", scale, SCALES)
        n = keys.shape[1]
        lam = 1 / math.sqrt(self.dim) if mode == "standard" else entropy_invariant_scale(n, self.dim, self.train_len)
        h = self.key(keys) + self.value(values)
        s = torch.einsum("bd,bnd->bn", self.wq(self.query(query)), self.wk(h))
        return torch.softmax(lam * s, dim=-1)

    def forward(self, x: torch.Tensor, scale: Scale | None = None) -> torch.Tensor:
        """Logits over the ``n_values`` values, shape (batch, n_values)."""
        keys, values, _ = self._unpack(x)
        a = self.weights(x, scale)
        v = self.wv(self.key(keys) + self.value(values))
        return self.out(torch.einsum("bn,bnd->bd", a, v))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, train_len={self.train_len}, scale={self.scale!r}"


def compare_scales(model: RetrievalAttention, tests: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> dict[tuple[str, int], tuple[torch.Tensor, float]]:
    """Evaluate ``model`` on each test set {n: (x, y)} under both scales, without gradients.

    Returns {(scale, n): (per-example 0/1 correctness, mean attention entropy in nats)}.
    """
    out = {}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for n, (x, y) in tests.items():
            for mode in SCALES:
                hit = (model(x, mode).argmax(-1) == y).float()
                out[mode, n] = (hit, float(attention_entropy(model.weights(x, mode).log()).mean()))
    model.train(was_training)
    return out


# ---- explorations (chapter 16) -----------------------------------------------------------------
_VIEW_N = np.unique(np.geomspace(16, 8192, 28).round().astype(int))


def _typical_weights(n: int, d: int, cos: float, lams: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Entropies and softmax weights (one row per λ) of the planted key plus a typical key set."""
    s = d * np.concatenate([[cos], _typical_cosines(int(n), int(d))])
    z = np.asarray(lams)[:, None] * s
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return attention_entropy(z), p / p.sum(axis=1, keepdims=True)


@lru_cache(maxsize=128)
def _typical_curves(d: int, cos: float, base: int) -> np.ndarray:
    """Entropy against n (rows: standard, log-n scale) over the view's grid of n."""
    rows = [_typical_weights(int(m), d, cos, (1 / math.sqrt(d), entropy_invariant_scale(int(m), d, base)))[0] for m in _VIEW_N]
    return np.array(rows).T


def entropy_view(d: int = 64, n: int = 2048, cos: float = 0.6, base: int = 512) -> View:
    """Planted-key toy with a 'typical' key set (mid-quantile cosines): attention entropy
    against n for λ = 1/√d and λ = log_base(n)/√d, and the largest weights at ``n``."""
    d, n = int(d), int(n)
    h_curves = _typical_curves(d, float(cos), int(base))
    curves = {"standard": h_curves[0], "log_n": h_curves[1]}
    (h_o, h_e), (p_o, p_e) = _typical_weights(n, d, cos, (1 / math.sqrt(d), entropy_invariant_scale(n, d, base)))
    mass_o, mass_e = p_o[0], p_e[0]
    top = min(40, n)
    rank = np.arange(1, top + 1)
    left = Panel(
        curves=[
            Curve(_VIEW_N, curves["standard"], "λ = 1/√d"),
            Curve(_VIEW_N, curves["log_n"], f"λ = log_{base}(n)/√d"),
            Curve(_VIEW_N, np.log(_VIEW_N), "log n (uniform)", style="dotted", color=7),
        ],
        title="attention entropy (nats)",
        xlabel="n (keys)",
        ylabel="H",
        xlog=True,
        vlines=[(float(n), f"n = {n}"), (float(base), "calibration")],
    )
    right = Panel(
        curves=[
            Curve(rank, np.sort(p_o)[::-1][:top], "λ = 1/√d", style="markers"),
            Curve(rank, np.sort(p_e)[::-1][:top], "log-n scale", style="markers"),
        ],
        title=f"the {top} largest weights at n = {n}",
        xlabel="rank",
        ylabel="weight",
        ylog=True,
    )
    readout = (
        f"n = {n}: entropy {h_o:.2f} vs {h_e:.2f} nats (log n = {math.log(n):.2f}); "
        f"mass on the relevant key {mass_o:.3f} vs {mass_e:.3f} (standard vs log-n)"
    )
    return View([left, right], readout=readout)


def laplace_view(lam: float = 1.0, d: int = 128) -> View:
    """The integrand sin^(d−2)θ·e^{λd cos θ} of eq. (8) (scaled to peak 1) and its Laplace
    Gaussian, around the peak; the readout compares h_d(λ)/d (quadrature) with ½ log(1 − c²)."""
    d, lam = _dim(d), _validate.positive("lam", lam)
    c = laplace_peak(lam)
    peak = math.acos(c)
    top = lam * d * c + (d - 2) * math.log(math.sin(peak))
    curvature = (d - 2) / math.sin(peak) ** 2 + lam * d * c
    half = 6.0 / math.sqrt(curvature)
    theta = np.linspace(max(peak - half, 1e-6), min(peak + half, math.pi - 1e-6), 101)
    exact = np.exp(lam * d * np.cos(theta) + (d - 2) * np.log(np.sin(theta)) - top)
    gauss = np.exp(-0.5 * curvature * (theta - peak) ** 2)
    panel = Panel(
        curves=[Curve(theta, exact, "sin^(d−2)θ · e^{λd cos θ}"), Curve(theta, gauss, "Laplace Gaussian", style="dashed")],
        title=f"integrand of E[e^(λd cos θ)] near its peak, d = {d}",
        xlabel="θ (radians)",
        ylabel="relative size",
        ylim=(0.0, 1.05),
        vlines=[(peak, f"cos θ* = {c:.3f}")],
    )
    h = laplace_h(d, lam)
    readout = (
        f"h_d(λ)/d = {h / d:.4f} (quadrature); ½ log(1 − c²) = {laplace_limit(lam):.4f} (d → ∞); "
        f"the article's −0.24·λ = {-0.24 * lam:.4f}"
    )
    return View([panel], readout=readout)
