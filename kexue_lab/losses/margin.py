"""Margin softmax losses on cosine logits: AM-Softmax, the author's simpler A-Softmax (chapter 31).

A classifier with unit-norm class vectors c_i and a unit-norm feature z has cosine logits
cos θ_i = ⟨z, c_i⟩. With target t, scale s and a margin function ψ(θ_t) < cos θ_t,

    L = −log e^{s·ψ(θ_t)} / (e^{s·ψ(θ_t)} + Σ_{i≠t} e^{s·cos θ_i}).

* :func:`am_softmax_loss`: ψ = cos θ_t − m (Wang et al. 2018; s = 30, m = 0.35), the one-hot form
  "cross-entropy of s·(cos − m·onehot(t))"; m = 0 is the normalised softmax.
* :func:`sparse_am_softmax_loss`: the same loss from integer targets without a one-hot matrix,
  in a stable form: softplus of (log-sum-exp of the non-target columns minus the
  margin-shifted target). The article's sparse form subtracts e^{s·cos θ_t} from a log-sum-exp
  through log(1 − e^{…}), which cancels catastrophically once s·m ≳ −log(machine ε).
* :func:`simpler_a_softmax_loss`: ψ = min(cos mθ_t, cos θ_t) with integer m (the article's
  "simpler A-Softmax", m = 4), cos mθ from the Chebyshev polynomial T_m(cos θ).
* :class:`CosineClassifier`: the training-only classifier whose logits are cosines.
* :func:`retrieval_topk`: the article's evaluation: rank every other sentence by cosine and
  count a top-k hit when one of the k nearest shares the query's group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .. import _validate

#: slack for cosines that normalisation rounds a hair past ±1
COS_SLACK = 1e-6


def _check(cos: Any, target: Any, s: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    if not torch.is_tensor(cos) or not torch.is_floating_point(cos) or cos.ndim != 2:
        raise TypeError(f"cos must be a 2-D floating tensor (batch, classes), got {cos!r:.80}")
    if cos.shape[1] < 2:
        raise ValueError(f"cos needs at least 2 classes, got shape {tuple(cos.shape)}")
    if not bool(torch.isfinite(cos).all()):
        raise ValueError("cos must be finite, got NaN or infinity")
    worst = float(cos.detach().abs().max())
    if worst > 1 + COS_SLACK:
        raise ValueError(f"cos must lie in [-1, 1] (cosines), got a value of magnitude {worst:g}")
    if not torch.is_tensor(target) or target.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"target must be an integer tensor of class ids, got {target!r:.80}")
    if target.shape != (cos.shape[0],):
        raise ValueError(
            f"target must have shape ({cos.shape[0]},), one id per row, got {tuple(target.shape)}"
        )
    if len(target) and (int(target.min()) < 0 or int(target.max()) >= cos.shape[1]):
        raise ValueError(f"target ids must lie in [0, {cos.shape[1] - 1}], got {target.tolist()}")
    return cos, target.long(), _validate.positive("s", s)


def am_softmax_loss(cos: Any, target: Any, s: float = 30.0, m: float = 0.35) -> torch.Tensor:
    """AM-Softmax, article eq. (5): mean cross-entropy of s·(cos − m·onehot(target)).

    ``cos`` (batch, classes) holds cosines in [−1, 1]; ``target`` the class ids; ``m`` ≥ 0
    (m = 0 is the normalised softmax with scale s).
    """
    cos, target, s = _check(cos, target, s)
    m = _validate.non_negative("m", m)
    onehot = F.one_hot(target, cos.shape[1]).to(cos.dtype)
    return F.cross_entropy(s * (cos - m * onehot), target)


def sparse_am_softmax_loss(cos: Any, target: Any, s: float = 30.0, m: float = 0.35) -> torch.Tensor:
    """AM-Softmax from integer targets, in a stable form:

        L = softplus(LSE_{i≠t} s·cos θ_i − s(cos θ_t − m)),   softplus(x) = log(1 + eˣ).

    Equal to :func:`am_softmax_loss`; the target column is gathered and masked out instead of
    building a one-hot matrix, and nothing is subtracted inside a logarithm, so tiny losses keep
    their relative precision.
    """
    cos, target, s = _check(cos, target, s)
    m = _validate.non_negative("m", m)
    rows = torch.arange(len(target), device=cos.device)
    shifted = s * (cos[rows, target] - m)
    rest = (s * cos).index_put((rows, target), torch.tensor(-torch.inf, dtype=cos.dtype))
    x = torch.logsumexp(rest, dim=1) - shifted
    # log(1 + eˣ) = log(1 + Z_rest/e^{sψ}), exactly: F.softplus returns x itself above 20,
    # an error of up to e⁻²⁰ ≈ 2e-9 that float64 would notice
    return torch.logaddexp(torch.zeros_like(x), x).mean()


def chebyshev_cos(cos: torch.Tensor, m: int) -> torch.Tensor:
    """cos(mθ) as the Chebyshev polynomial T_m(c) of c = cos θ: T_{k+1} = 2c·T_k − T_{k−1}."""
    m = _validate.positive_int("m", m)
    prev, cur = torch.ones_like(cos), cos
    for _ in range(m - 1):
        prev, cur = cur, 2 * cos * cur - prev
    return cur


def simpler_a_softmax_loss(cos: Any, target: Any, s: float = 30.0, m: int = 4) -> torch.Tensor:
    """The article's simpler A-Softmax, eq. (7): ψ(θ_t) = min(cos mθ_t, cos θ_t), scaled by s."""
    cos, target, s = _check(cos, target, s)
    m = _validate.positive_int("m", m)
    rows = torch.arange(len(target), device=cos.device)
    c_t = cos[rows, target]
    psi = torch.minimum(chebyshev_cos(c_t, m), c_t)
    logits = cos.index_put((rows, target), psi)
    return F.cross_entropy(s * logits, target)


class CosineClassifier(torch.nn.Module):
    """Class vectors without bias, normalised in the forward pass: logits are cos θ_i = ⟨ẑ, ĉ_i⟩.

    The PyTorch counterpart of the article's ``Dense(n, use_bias=False,
    kernel_constraint=unit_norm())``: normalising inside ``forward`` replaces Keras's projection
    after each step.
    """

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        dim = _validate.positive_int("dim", dim)
        n_classes = _validate.int_at_least("n_classes", n_classes, 2, "a classifier")
        self.weight = torch.nn.Parameter(torch.randn(n_classes, dim) / dim**0.5)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Cosines (batch, n_classes) between the rows of ``z`` and the class vectors."""
        return F.normalize(z, dim=-1) @ F.normalize(self.weight, dim=-1).T


def retrieval_topk(
    emb: Any, groups: Any, ks: Sequence[int] = (1, 5, 10), *, chunk: int = 2048
) -> dict[int, float]:
    """The article's retrieval accuracy: for each row, rank all other rows by cosine; a top-k hit
    when one of the k nearest belongs to the same group. Returns ``{k: fraction of hits}``.

    The article drops the first hit as the query itself; here the query is masked out, which is
    the same unless two rows are identical.
    """
    if not torch.is_tensor(emb) or emb.ndim != 2 or not torch.is_floating_point(emb):
        raise TypeError(f"emb must be a 2-D floating tensor (rows, dim), got {emb!r:.80}")
    groups = torch.as_tensor(groups)
    if groups.shape != (emb.shape[0],) or groups.is_floating_point():
        raise ValueError(f"groups must be {emb.shape[0]} integer group ids, got {groups!r:.80}")
    ks = [_validate.positive_int("ks", k) for k in ks]
    if not ks or max(ks) >= emb.shape[0]:
        raise ValueError(f"ks must be non-empty and below the number of rows, got {ks}")
    unit = F.normalize(emb.detach().float(), dim=1)
    groups = groups.to(unit.device)
    hits = {k: 0 for k in ks}
    for lo in range(0, len(unit), chunk):
        sim = unit[lo : lo + chunk] @ unit.T
        rows = torch.arange(lo, lo + len(sim), device=unit.device)
        sim[rows - lo, rows] = -torch.inf
        top = sim.topk(max(ks), dim=1).indices
        same = (groups[top] == groups[rows, None]).cumsum(1) > 0
        for k in ks:
            hits[k] += int(same[:, k - 1].sum())
    return {k: hits[k] / len(unit) for k in ks}


#: the losses :func:`margin_loss` knows, with their default margins (article: m = 0.35, m = 4)
LOSSES = {"softmax": 0.0, "am": 0.35, "simpler_a": 4}


def margin_loss(
    cos: Any, target: Any, kind: str, s: float = 30.0, m: float | None = None
) -> torch.Tensor:
    """One entry point for training: ``"softmax"`` (cosine logits, scale s, no margin), ``"am"``
    (:func:`sparse_am_softmax_loss`) or ``"simpler_a"`` (:func:`simpler_a_softmax_loss`)."""
    _validate.choice("kind", kind, tuple(LOSSES))
    m = LOSSES[kind] if m is None else m
    if kind == "softmax":
        return am_softmax_loss(cos, target, s, 0.0)
    if kind == "am":
        return sparse_am_softmax_loss(cos, target, s, m)
    return simpler_a_softmax_loss(cos, target, s, int(m))
