"""How many dimensions do N embeddings need? The "n > 8.33 log N" formula (chapter 18).

Su Jianlin's minimum-entropy argument (kexue.fm/archives/7695, discussed in
kexue.fm/archives/8711) models pairs of items with a Skip-Gram-type
distribution p(i, j) = e^⟨u_i, v_j⟩ / Z, puts the vectors uniformly on the
sphere of radius √n, and replaces the double sum over N² pairs by N² times an
expectation over the angle θ between two random vectors:

    H ≈ 2 log N + h_n,
    h_n = log E[e^{n cos θ}] − n·E[e^{n cos θ} cos θ] / E[e^{n cos θ}],

with θ distributed as p_n(θ) ∝ sin^{n−2}θ. Since h_n ≈ −(½ log φ)·n (φ the golden
ratio), H < 0 once n > (4 / log φ)·log N = 8.3123·log N, the article's
"n > 8.33 log N" (it rounds ½ log φ = 0.2406 to 0.24). Natural logarithms
throughout.

The angle law and h_n itself (quadrature and Bessel closed form, at λ = 1) live in
:mod:`kexue_lab.maths.sphere`; this module holds the chapter's formula, the exact
entropy of a finite sample of pairs and a learned capacity toy. Skip-Gram on real
text (the full profile) is in :mod:`kexue_lab.architecture.skipgram`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _validate
from ..maths.sphere import laplace_limit

#: The golden ratio φ = (1 + √5)/2.
PHI = (1.0 + math.sqrt(5.0)) / 2.0
#: The exact slope of h_n for large n: h_n/n → −½ log φ = −0.2406059 (Laplace, λ = 1).
SLOPE = laplace_limit(1.0)
#: The exact coefficient 2/(½ log φ) = 4/log φ = 8.3123 behind the article's 8.33.
EXACT_COEF = 4.0 / math.log(PHI)
#: The article's rounded coefficient 2/0.24.
ARTICLE_COEF = 8.33
#: The table of h_n printed in kexue.fm/archives/7695 (n: h_n).
ARTICLE_H_N = {
    32: -7.77471,
    64: -15.4734,
    96: -23.1726,
    128: -30.8718,
    256: -61.6692,
    512: -123.264,
}


def _out(arr: np.ndarray) -> Any:
    return float(arr) if arr.ndim == 0 else arr


def _items(N: Any) -> np.ndarray:
    arr = _validate.real_array("N", N)
    if np.any(arr < 2):
        raise ValueError(f"N must be >= 2 (at least two items to tell apart), got {N!r}")
    return arr


def dimension_threshold(N: Any, coef: float = ARTICLE_COEF) -> Any:
    """The dimension formula n* = coef · ln N (article eq. (1); chapter 18).

    ``N`` is the number of items (vocabulary size, or sequence length for an
    attention head): a number ≥ 2 or an array of them (returned as an array).
    ``coef`` defaults to the article's 8.33; :data:`EXACT_COEF` = 4/log φ is the
    exact Laplace constant. The logarithm is natural.
    """
    coef = _validate.positive("coef", coef)
    return _out(coef * np.log(_items(N)))


def h_n_laplace(n: Any) -> Any:
    """The article's Laplace line for h_n (eq. (9); chapter 18):

        h_n ≈ log(√(2π/√5) / √(2π)) − (½ log φ)·n = −¼ log 5 − 0.2406·n.

    The slope is exact; the intercept −0.402 is not (the exact one is ≈ −0.074,
    see chapter 18): the article drops the factor sin^{−2}θ* = φ and a 1/n term.
    ``n`` (≥ 3) may be an array.
    """
    nn = _validate.real_array("n", n)
    if np.any(nn < 3):
        raise ValueError(f"n must be >= 3 (a dimension of the sphere), got {n!r}")
    return _out(-0.25 * math.log(5.0) + SLOPE * nn)


def approx_entropy(N: Any, n: Any) -> Any:
    """The sampling approximation of the pair entropy, H ≈ 2 log N + h_n (eq. (6); chapter 18).

    h_n is :func:`kexue_lab.maths.sphere.h_bessel` at λ = 1 (3 ≤ n ≤ 2000); ``N`` (≥ 2)
    and ``n`` broadcast against each other.
    """
    from ..maths.sphere import h_bessel

    return _out(2 * np.log(_items(N)) + np.asarray(h_bessel(n)))


# ---- finite samples ---------------------------------------------------------------------------
def sphere(N: int, n: int, *, generator: Any = None, device: Any = None, dtype: Any = None) -> Any:
    """N vectors uniform on the sphere of radius √n in ℝⁿ (a torch tensor of shape (N, n))."""
    import torch

    N, n = _validate.positive_int("N", N), _validate.positive_int("n", n)
    x = torch.randn(N, n, generator=generator, dtype=dtype or torch.float64, device=device or "cpu")
    return math.sqrt(n) * x / x.norm(dim=1, keepdim=True)


def exact_pair_entropy(U: Any, V: Any) -> float:
    """Entropy of p(i, j) = e^⟨u_i, v_j⟩ / Z over all pairs of rows (eq. (3)):

        H = log Z − (1/Z) Σ_{i,j} e^⟨u_i, v_j⟩ ⟨u_i, v_j⟩,   Z = Σ_{i,j} e^⟨u_i, v_j⟩,

    computed with log-sum-exp. ``U`` (N, n) and ``V`` (M, n): torch tensors or arrays.
    """
    import torch

    U = torch.as_tensor(U)
    V = torch.as_tensor(V, device=U.device)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(
            "U and V must be matrices with the same number of columns, "
            f"got {tuple(U.shape)} and {tuple(V.shape)}"
        )
    if not (U.is_floating_point() and V.is_floating_point()):
        raise TypeError(f"U and V must be floating point, got {U.dtype} and {V.dtype}")
    s = (U @ V.T.to(U.dtype)).flatten()
    log_z = torch.logsumexp(s, 0)
    return float(log_z - (torch.exp(s - log_z) * s).sum())


def sampled_entropies(
    N: int, n: int, *, draws: int = 4, seed: int = 0, device: Any = None
) -> np.ndarray:
    """:func:`exact_pair_entropy` of ``draws`` independent samples (eq. (3); chapter 18).

    Each sample is N random u's and N random v's on the sphere of radius √n (float32
    on ``device``); all draws come one after another from one generator seeded with
    ``seed``, so different seeds give independent draws. Returns the ``draws`` values.
    """
    import torch

    draws = _validate.positive_int("draws", draws)
    g = torch.Generator(device=device or "cpu").manual_seed(
        _validate.non_negative_int("seed", seed)
    )
    values = []
    for _ in range(draws):
        U = sphere(N, n, generator=g, device=device, dtype=torch.float32)
        V = sphere(N, n, generator=g, device=device, dtype=torch.float32)
        values.append(exact_pair_entropy(U, V))
    return np.array(values)


def sampled_entropy(N: int, n: int, *, seeds: int = 4, seed: int = 0, device: Any = None) -> float:
    """Mean of :func:`sampled_entropies` over ``seeds`` draws from the generator seeded ``seed``."""
    seeds = _validate.positive_int("seeds", seeds)
    return float(sampled_entropies(N, n, draws=seeds, seed=seed, device=device).mean())


def breakdown_dimension(
    N: int,
    dims: Sequence[int],
    *,
    gap: float = 1.0,
    seeds: int = 4,
    seed: int = 0,
    device: Any = None,
) -> float:
    """The n where the sampled entropy first exceeds 2 log N + h_n by ``gap`` nats (chapter 18).

    This is where the sampling approximation (the N² pairs standing in for the
    expectation) stops describing N random vectors. The excess is the mean of
    ``seeds`` draws (:func:`sampled_entropy`, seeded ``seed``) on the grid ``dims``,
    scanned upward; the crossing is interpolated linearly between the last grid point
    below ``gap`` and the first above it (``dims[0]`` if that one is already above,
    NaN if none is).
    """
    gap = _validate.positive("gap", gap)
    prev: tuple[float, float] | None = None
    for n in sorted(int(d) for d in dims):
        excess = sampled_entropy(N, n, seeds=seeds, seed=seed, device=device) - approx_entropy(N, n)
        if excess > gap:
            if prev is None:
                return float(n)
            n0, e0 = prev
            return float(n0 + (gap - e0) / (excess - e0) * (n - n0))
        prev = (float(n), float(excess))
    return float("nan")


# ---- learned capacity ---------------------------------------------------------------------------
def capacity_toy(
    N: int,
    dims: Sequence[int],
    *,
    k: int = 4,
    steps: int = 200,
    lr: float = 0.1,
    seed: int = 0,
    device: Any = None,
) -> np.ndarray:
    """Top-k recall of learned embeddings with norms fixed at √n, for each n in ``dims`` (ch. 18).

    Each row i has k random target columns S_i. Embeddings u_i, v_j ∈ ℝⁿ
    (u = √n·w/‖w‖) are trained with full-batch Adam so that the row softmax of
    ⟨u_i, v_j⟩ matches the uniform distribution on S_i. Returns, per n, the
    fraction of targets found among each row's k largest logits. All n are
    trained at once: the parameters have max(dims) columns and a mask keeps
    the first n for the n-th model.
    """
    import torch

    N, k, steps = (
        _validate.positive_int("N", N),
        _validate.positive_int("k", k),
        _validate.positive_int("steps", steps),
    )
    lr = _validate.positive("lr", lr)
    if k >= N:
        raise ValueError(f"k must be < N, got k={k}, N={N}")
    ns = [_validate.positive_int("dims", d) for d in dims]
    if not ns:
        raise ValueError("dims must hold at least one dimension")
    dev = torch.device(device or "cpu")
    g = torch.Generator(device="cpu").manual_seed(_validate.non_negative_int("seed", seed))
    targets = torch.rand(N, N, generator=g).topk(k, dim=1).indices.to(dev)
    goal = torch.zeros(N, N, device=dev).scatter_(1, targets, 1.0 / k)
    width = torch.tensor(ns, device=dev)
    mask = (torch.arange(max(ns), device=dev)[None, :] < width[:, None]).float()[:, None, :]
    radius = width.float().sqrt()[:, None, None]
    U = torch.randn(len(ns), N, max(ns), generator=g).to(dev).requires_grad_()
    V = torch.randn(len(ns), N, max(ns), generator=g).to(dev).requires_grad_()

    def embed(W: torch.Tensor) -> torch.Tensor:
        W = W * mask
        return radius * W / W.norm(dim=-1, keepdim=True)

    opt = torch.optim.Adam([U, V], lr=lr)
    for _ in range(steps):
        logits = embed(U) @ embed(V).transpose(1, 2)
        loss = -(goal * logits.log_softmax(-1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        top = (embed(U) @ embed(V).transpose(1, 2)).topk(k, dim=-1).indices
        hit = (top[..., :, None] == targets[None, :, None, :]).any(-1).float().mean((1, 2))
    return hit.cpu().numpy()


def needed_dimension(dims: Sequence[float], score: Sequence[float], level: float = 0.9) -> float:
    """The n where ``score`` first reaches ``level``, interpolated linearly between grid points.

    ``dims`` must increase. Returns ``dims[0]`` if the first score already
    reaches the level and NaN if no score does.
    """
    d = _validate.real_array("dims", dims)
    s = _validate.real_array("score", score)
    level = _validate.real("level", level)
    if d.ndim != 1 or d.shape != s.shape or len(d) < 1:
        raise ValueError(
            f"dims and score must be 1-D of the same length, got {d.shape} and {s.shape}"
        )
    if np.any(np.diff(d) <= 0):
        raise ValueError(f"dims must increase strictly, got {list(d)}")
    above = np.nonzero(s >= level)[0]
    if len(above) == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(d[0])
    frac = (level - s[i - 1]) / (s[i] - s[i - 1])
    return float(d[i - 1] + frac * (d[i] - d[i - 1]))


def fit_log_slope(N: Sequence[float], n: Sequence[float]) -> dict[str, float]:
    """Least-squares line n ≈ slope·ln N + intercept, with the slope's standard error."""
    x = np.log(_validate.real_array("N", N))
    y = _validate.real_array("n", n)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(
            f"N and n must be 1-D of the same length >= 3, got {x.shape} and {y.shape}"
        )
    A = np.stack([x, np.ones_like(x)], axis=1)
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    sigma2 = float(resid @ resid) / (len(x) - 2)
    cov = sigma2 * np.linalg.inv(A.T @ A)
    return {
        "slope": float(coef[0]),
        "intercept": float(coef[1]),
        "slope_se": float(math.sqrt(cov[0, 0])),
    }
