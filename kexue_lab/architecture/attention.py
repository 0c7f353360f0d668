"""Attention: the entropy-invariant scale (chapter 16) and its JL reading (chapter 17).

Chapter 16 (kexue.fm/archives/8823) asks how the entropy of a softmax attention row,

    H = −Σ_j a_j log a_j,   a = softmax(λ s),   s_j = q·k_j,

changes with the number n of keys, and proposes a scale that grows like log n:

    λ = κ log n / d  →  λ = log_L(n) / √d  (κ fixed so that λ = 1/√d at n = L).

Chapter 17 (kexue.fm/archives/9588) reads the same factor as a key size: d_n = d·log₅₁₂ n.
What this module holds:

* :func:`entropy_invariant_scale`: log_L(n)/√d, the article's Attention-E scale;
  :func:`sharpen`: softmax(a·z) = p^a/Σp^a; :func:`ideal_key_size`: d·log₅₁₂ n;
* the planted-key toy (one key at cosine ``cos`` to the query among n − 1 keys uniform on
  the sphere of ℝ^d): :func:`planted_key_scores`, :func:`planted_key_trials` (Monte Carlo),
  :func:`planted_key_argmax_prob` (exact), :func:`planted_key_mass` (mean field),
  :func:`typical_cosines` (a noise-free key set), :func:`smallest_passing` and
  :func:`power_law_fit` (how d* grows with n);
* a one-layer retrieval model trained at one length and evaluated at others:
  :func:`retrieval_task`, :class:`RetrievalAttention` and :func:`compare_scales`.

The entropy itself is :func:`kexue_lab.maths.entropy.softmax_entropy`; the angle law,
h_d(λ) and Laplace's limit live in :mod:`kexue_lab.maths.sphere`; the JL lemma in
:mod:`kexue_lab.maths.jl`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate
from ..maths import sphere
from ..maths.entropy import softmax_entropy

Scale = Literal["standard", "log_n"]
SCALES: tuple[str, ...] = ("standard", "log_n")

#: The article's reference length: d is assumed tuned for sequences of 512 tokens.
BASE_LENGTH = 512


# ---- the scale ------------------------------------------------------------------------------
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
        raise ValueError(
            f"train_len must be >= 2 (log base of the calibration length), got {train_len!r}"
        )
    factor = 1.0 / (math.log(base) * math.sqrt(d))
    if torch.is_tensor(n):
        return torch.log(n) * factor
    if isinstance(n, np.ndarray):
        return np.log(n) * factor
    return math.log(n) * factor


def sharpen(p: Any, a: float) -> torch.Tensor:
    """p^a / Σ p^a along the last axis: what multiplying the logits by ``a`` does to softmax.

    softmax(a·z) = softmax(z)^a / Σ softmax(z)^a (chapter 17, eq. (2)); computed as
    softmax(a·log p) so that tiny probabilities do not underflow. Zeros stay zero.
    """
    a = _validate.positive("a", a)
    t = torch.as_tensor(p, dtype=torch.float64) if not torch.is_tensor(p) else p
    if t.ndim == 0 or not t.is_floating_point():
        raise TypeError(
            "p must be a floating-point tensor or array of probabilities (at least 1-D)"
        )
    if (t < 0).any() or not torch.isfinite(t).all():
        raise ValueError("p must hold finite, non-negative probabilities")
    return torch.softmax(a * torch.log(t), dim=-1)


def ideal_key_size(n: float, d: float, base: float = BASE_LENGTH) -> float:
    """d_n = d·log_base(n): the key size the JL heuristic calls ideal at length n (chapter 17,
    article eq. (8)).

    ``d`` is assumed tuned for length ``base``; d_n / d = log_base n is the
    entropy-invariant scale of chapter 16.
    """
    n, d = _validate.positive("n", n), _validate.positive("d", d)
    base = _validate.positive("base", base)
    if n <= 1 or base <= 1:
        raise ValueError(
            f"n and base must be > 1 (lengths of at least 2 tokens), got n={n}, base={base}"
        )
    return d * math.log(n) / math.log(base)


# ---- the planted-key toy (chapters 16 and 17) -------------------------------------------------
def _n_keys(n: Any) -> int:
    return _validate.int_at_least("n", n, 2, "the planted key and at least one other")


def _cos(cos: Any) -> float:
    return _validate.in_range("cos", cos, -1.0, 1.0)


def _key_sizes(d: Any, lo: int) -> np.ndarray:
    """Key size(s) ``d``: an integer or an integer array, every entry >= ``lo``."""
    arr = np.asarray(d)
    if arr.dtype.kind not in "iu" or (arr < lo).any():
        raise ValueError(f"d must be an integer key size >= {lo} (or an array of them), got {d!r}")
    return arr


def planted_key_scores(
    n: int, d: int, cos: float = 0.6, draws: int = 50, seed: int = 0
) -> np.ndarray:
    """Scores q·k_j of one query against n keys, all of norm √d: key 0 at cosine ``cos``
    to the query, the other n − 1 uniform on the sphere of ℝ^d. Shape (draws, n).

    s_j = d·cos θ_j, the random cosines drawn exactly by
    :func:`kexue_lab.maths.sphere.random_cosines` (chapter 16, §5).
    """
    n, cos = _n_keys(n), _cos(cos)
    d = _validate.int_at_least("d", d, 2, "an angle needs two dimensions")
    draws = _validate.positive_int("draws", draws)
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    others = sphere.random_cosines(d, (draws, n - 1), rng)
    return d * np.concatenate([np.full((draws, 1), cos), others], axis=1)


def planted_key_trials(
    n: int, d: int, cos: float = 0.6, scale: float = 1.0, draws: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo of the planted-key toy at the logits s·cos θ_j, s = ``scale``·√d:
    per draw, the planted key's softmax mass and whether it has the largest score
    (chapter 17, §5). Returns two arrays of length ``draws``.

    The random cosines come from :func:`kexue_lab.maths.sphere.random_cosines`.
    """
    n, cos = _n_keys(n), _cos(cos)
    d = _validate.int_at_least("d", d, 2, "an angle needs two dimensions")
    draws = _validate.positive_int("draws", draws)
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    others = sphere.random_cosines(d, (draws, n - 1), rng)
    s = _validate.positive("scale", scale) * math.sqrt(d)
    logits = np.concatenate([np.full((draws, 1), s * cos), s * others], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights[:, 0] / weights.sum(axis=1), others.max(axis=1) < cos


def planted_key_argmax_prob(n: int, d: Any, cos: float = 0.6) -> Any:
    """Exact P(the planted key has the largest score) = F_d(cos)^(n−1), for key size(s) ``d``.

    F_d is the cosine CDF of a uniform direction (:func:`kexue_lab.maths.sphere.cosine_cdf`);
    any positive logit scale leaves the argmax unchanged (chapter 17, §5).
    """
    n, cos = _n_keys(n), _cos(cos)
    return sphere.cosine_cdf(cos, _key_sizes(d, 2)) ** (n - 1)


def planted_key_mass(n: int, d: Any, cos: float = 0.6, scale: float = 1.0) -> Any:
    """Mean-field softmax mass of the planted key, for key size(s) ``d`` (3 ≤ d ≤ 2000).

    Logits are s·cos θ_j with s = ``scale``·√d (standard attention q·k/√d for
    |q| = |k| = √d, times ``scale``). The sum over the n − 1 random keys is replaced by its
    mean (chapter 17, §5):

        mass ≈ e^{s·cos} / (e^{s·cos} + (n−1)·E[e^{s cos θ}]),

    with log E[e^{s cos θ}] from :func:`kexue_lab.maths.sphere.log_mean_exp_cos`.
    """
    n, cos = _n_keys(n), _cos(cos)
    dd = _key_sizes(d, 3).astype(np.float64)
    s = _validate.positive("scale", scale) * np.sqrt(dd)
    log_mean = np.asarray(sphere.log_mean_exp_cos(dd, s))
    out = 1.0 / (1.0 + np.exp(math.log(n - 1) + log_mean - s * cos))
    return float(out) if out.ndim == 0 else out


def planted_key_mass_fixed(n: int, d: Any, d_ref: float, cos: float = 0.6) -> Any:
    """Mean-field planted-key mass when the temperature stays at 1/√d_ref, the one tuned for
    key size ``d_ref``: logits q·k/√d_ref = s·cos θ_j with s = d/√d_ref (chapter 17, §5).

    Extra key dimensions then add terms to the dot product at a fixed scale, as in the
    article's d_n = λ log n argument; :func:`planted_key_mass` rescales to 1/√d instead.
    Same mean field: mass ≈ e^{s·cos} / (e^{s·cos} + (n−1)·E[e^{s cos θ}]), with
    E[e^{s cos θ}] = ₀F₁(; d/2; s²/4), which stays finite where the Bessel form underflows
    (s ≪ d); the Bessel form (:func:`kexue_lab.maths.sphere.log_mean_exp_cos`) elsewhere.
    """
    from scipy.special import hyp0f1

    n, cos = _n_keys(n), _cos(cos)
    scalar = np.ndim(_key_sizes(d, 3)) == 0
    dd = np.atleast_1d(_key_sizes(d, 3)).astype(np.float64)
    s = dd / math.sqrt(_validate.positive("d_ref", d_ref))
    with np.errstate(over="ignore"):
        log_mean = np.log(hyp0f1(dd / 2, s**2 / 4))
    big = ~np.isfinite(log_mean)
    if big.any():
        log_mean[big] = sphere.log_mean_exp_cos(dd[big], s[big])
    out = 1.0 / (1.0 + np.exp(math.log(n - 1) + log_mean - s * cos))
    return float(out[0]) if scalar else out


def head_split(width: int, n: int, cos: float = 0.6) -> dict[str, np.ndarray]:
    """Split a model width into h = width/d_h heads, for every divisor d_h ≥ 3 of ``width``,
    and score one head on the planted-key toy with n keys (chapter 17, §5). Returns arrays
    ``head_size``, ``heads``, ``find`` = F_{d_h}(cos)^(n−1), ``mass`` (mean field at
    1/√d_h), ``heads_finding`` = h·find and ``any_finds`` = 1 − (1 − find)^h (heads that
    see independent random keys).
    """
    width = _validate.int_at_least("width", width, 3, "a head needs at least 3 dimensions")
    sizes = np.array([h for h in range(3, width + 1) if width % h == 0])
    heads = width // sizes
    find = np.asarray(planted_key_argmax_prob(n, sizes, cos), dtype=np.float64)
    return {
        "head_size": sizes,
        "heads": heads,
        "find": find,
        "mass": np.asarray(planted_key_mass(n, sizes, cos), dtype=np.float64),
        "heads_finding": heads * find,
        "any_finds": 1.0 - (1.0 - find) ** heads,
    }


@lru_cache(maxsize=256)
def _typical(n: int, d: int) -> np.ndarray:
    from scipy.stats import beta

    u = (np.arange(n - 1) + 0.5) / (n - 1)
    out = 2.0 * beta.ppf(u, (d - 1) / 2, (d - 1) / 2) - 1.0
    out.flags.writeable = False
    return out


def typical_cosines(n: int, d: int) -> np.ndarray:
    """n − 1 cosines at the mid-quantiles F_d⁻¹((i + ½)/(n − 1)) of the angle law in ℝ^d:
    a 'typical', noise-free set of random keys (chapter 16's exploration). Read-only, cached.
    """
    n = _n_keys(n)
    return _typical(n, _validate.int_at_least("d", d, 2, "an angle needs two dimensions"))


def smallest_passing(d: Any, values: Any, threshold: float) -> int:
    """The smallest d whose value reaches ``threshold`` (d ascending); raises if none does."""
    dd, vals = np.asarray(d), np.asarray(values, dtype=np.float64)
    if dd.shape != vals.shape or dd.ndim != 1:
        raise ValueError(
            "d and values must be 1-D arrays of the same length, "
            f"got shapes {dd.shape} and {vals.shape}"
        )
    ok = vals >= _validate.real("threshold", threshold)
    if not ok.any():
        raise ValueError(f"no d up to {dd.max()} reaches {threshold}: extend the grid")
    return int(dd[np.argmax(ok)])


def power_law_fit(x: Any, y: Any, power: float | None = None) -> tuple[float, float]:
    """Fit y ≈ c·x^power in log space; returns (power, rms of the log residuals).

    log y = log c + power·log x by least squares (chapter 17, §5: d* against log n). With
    ``power`` given only c is fitted; with ``power=None`` it is fitted too. x, y > 0.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size < 2:
        raise ValueError(
            f"x and y must be 1-D of the same length >= 2, got shapes {xs.shape} and {ys.shape}"
        )
    if not (np.all(xs > 0) and np.all(ys > 0)):
        raise ValueError("x and y must be positive (the fit is done in log space)")
    lx, ly = np.log(xs), np.log(ys)
    if power is None:
        power = float(np.polyfit(lx, ly, 1)[0])
    resid = ly - _validate.real("power", power) * lx
    resid -= resid.mean()
    return float(power), float(np.sqrt(np.mean(resid**2)))


# ---- the retrieval task (chapter 16, §6) -------------------------------------------------------
def retrieval_task(
    count: int, n: int, n_keys: int, n_values: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` key–value lookups with ``n`` stored pairs each, for :class:`RetrievalAttention`.

    Each row holds n distinct keys (of ``n_keys``), n values (of ``n_values``, uniform)
    and one query key, chosen among the stored ones: x = [keys | values | query], shape
    (count, 2n + 1); the target y is the value stored under the query key.
    """
    count, n = _validate.positive_int("count", count), _validate.positive_int("n", n)
    n_keys, n_values = (
        _validate.positive_int("n_keys", n_keys),
        _validate.positive_int("n_values", n_values),
    )
    if n > n_keys:
        raise ValueError(
            f"n must be <= n_keys so that the stored keys are distinct, got n={n}, n_keys={n_keys}"
        )
    gen = torch.Generator().manual_seed(_validate.non_negative_int("seed", seed))
    chunk = max(1, 2**22 // n_keys)  # distinct keys: first n of a random permutation, in chunks
    keys = torch.cat(
        [
            torch.rand(min(chunk, count - i), n_keys, generator=gen).argsort(-1)[:, :n]
            for i in range(0, count, chunk)
        ]
    )
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

    def __init__(
        self,
        n_keys: int,
        n_values: int,
        dim: int = 16,
        train_len: int = 16,
        scale: Scale = "standard",
    ) -> None:
        super().__init__()
        self.dim = _validate.positive_int("dim", dim)
        self.train_len = _validate.positive_int("train_len", train_len)
        if self.train_len < 2:
            raise ValueError(f"train_len must be >= 2, got {train_len}")
        self.scale = _validate.choice("scale", scale, SCALES)
        n_keys, n_values = (
            _validate.positive_int("n_keys", n_keys),
            _validate.positive_int("n_values", n_values),
        )
        self.key = torch.nn.Embedding(n_keys, self.dim)
        self.value = torch.nn.Embedding(n_values, self.dim)
        self.query = torch.nn.Embedding(n_keys, self.dim)
        self.wq, self.wk, self.wv = (
            torch.nn.Linear(self.dim, self.dim, bias=False) for _ in range(3)
        )
        self.out = torch.nn.Linear(self.dim, n_values)

    def _unpack(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if x.ndim != 2 or x.shape[1] < 5 or x.shape[1] % 2 == 0:
            raise ValueError(
                "x must have shape (batch, 2n + 1) with n >= 2 (see retrieval_task), "
                f"got {tuple(x.shape)}"
            )
        n = (x.shape[1] - 1) // 2
        return x[:, :n], x[:, n : 2 * n], x[:, -1]

    def weights(self, x: torch.Tensor, scale: Scale | None = None) -> torch.Tensor:
        """Attention weights of the query over the n stored items, shape (batch, n)."""
        keys, values, query = self._unpack(x)
        mode = self.scale if scale is None else _validate.choice("scale", scale, SCALES)
        n = keys.shape[1]
        lam = (
            1 / math.sqrt(self.dim)
            if mode == "standard"
            else entropy_invariant_scale(n, self.dim, self.train_len)
        )
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


def compare_scales(
    model: RetrievalAttention, tests: dict[int, tuple[torch.Tensor, torch.Tensor]]
) -> dict[tuple[str, int], tuple[torch.Tensor, float]]:
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
                out[mode, n] = (hit, float(softmax_entropy(model.weights(x, mode).log()).mean()))
    model.train(was_training)
    return out
