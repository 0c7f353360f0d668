"""Re-weighting and "modified" losses for class imbalance (chapter 30).

Su Jianlin's 再谈类别不平衡问题 (kexue.fm/archives/7708) reads every imbalance loss as a way of
re-shaping the per-sample gradient. For a sigmoid p = σ(z) and y ∈ {0, 1}:

* smooth accuracy  E[y p + (1 − y)(1 − p)]      (gradient factor p(1 − p) for a positive);
* cross-entropy    E[−y log p − (1 − y) log(1 − p)]   (gradient factor 1 − p);
* smooth F1        2 E[y p] / E[y + p], whose gradient, after the article's "p → log p" step,
  is that of the **F1-weighted cross-entropy** (article eq. (9), :func:`f1_weighted_bce`)

      −E[ y (1 − F/2) log p + (1 − y) (F/2) log(1 − p) ],   F = stop_gradient(smooth F1);

* focal loss       −(1 − p_y)^γ log p_y (Lin et al., 2017), :func:`focal_loss`.

:func:`binary_loss` evaluates the five losses of the chapter's experiment by name,
:func:`gradient_factor` measures |∂loss/∂z| per sample with autograd, :func:`f1_at_thresholds`
and :func:`best_threshold` score a classifier at every threshold, and :func:`fit_variants`
trains one :class:`kexue_lab.nn.StackedMLP` member per (loss, seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..nn import StackedMLP

#: the binary losses of chapter 30's experiment, by name
BINARY_LOSSES: tuple[str, ...] = ("ce", "balanced_ce", "f1_ce", "focal", "soft_f1")
#: what the chapter calls them
LOSS_LABELS: dict[str, str] = {
    "ce": "CE",
    "balanced_ce": "weighted CE (1/p(y))",
    "f1_ce": "F1-weighted CE (eq. 9)",
    "focal": "focal, γ = 2",
    "soft_f1": "−soft F1",
}


def _tensor(name: str, value: Any, ndim: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(value.shape)}")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite, got non-finite entries")
    return value


def _binary_labels(y: Any, n: int) -> torch.Tensor:
    y = _tensor("y", y, 1)
    if len(y) != n:
        raise ValueError(f"y must have one label per sample ({n}), got {len(y)}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must hold binary labels 0 and 1")
    return y


def soft_macro_f1(probs: torch.Tensor, onehot: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Soft macro F1: mean over classes c of 2 Σᵢ pᵢc yᵢc / (Σᵢ pᵢc + Σᵢ yᵢc + eps).

    ``probs`` and ``onehot`` are (N, C) tensors with entries in [0, 1] (C = 1 gives the soft F1
    of one class, article eq. (5)). On hard one-hot predictions this is scikit-learn's macro F1
    (up to ``eps``). Differentiable in ``probs``. Chapters 30 and 35.
    """
    probs, onehot = _tensor("probs", probs, 2), _tensor("onehot", onehot, 2)
    if probs.shape != onehot.shape:
        raise ValueError(
            f"probs and onehot must have the same shape, got {tuple(probs.shape)} "
            f"and {tuple(onehot.shape)}"
        )
    if len(probs) == 0:
        raise ValueError("probs must hold at least one sample")
    for name, t in (("probs", probs), ("onehot", onehot)):
        if not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError(f"{name} must have entries in [0, 1]")
    eps = _validate.positive("eps", eps)
    onehot = onehot.to(probs.dtype)
    per_class = 2 * (probs * onehot).sum(0) / (probs.sum(0) + onehot.sum(0) + eps)
    return per_class.mean()


def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mean over the batch of −(1 − p_y)^γ log p_y, p = softmax(logits) (Lin et al., 2017).

    ``logits`` (N, C), integer labels ``y`` (N,) in 0 … C−1, ``gamma`` ≥ 0 (γ = 0 is
    cross-entropy). log p_y comes from ``log_softmax``, so large logits stay finite.
    """
    logits = _tensor("logits", logits, 2)
    y = _tensor("y", y, 1)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if len(y) != len(logits) or len(y) == 0:
        raise ValueError(f"y must have one label per row of logits ({len(logits)}), got {len(y)}")
    if not bool(((y >= 0) & (y < logits.shape[1])).all()):
        raise ValueError(f"y must lie in 0 … {logits.shape[1] - 1}")
    gamma = _validate.non_negative("gamma", gamma)
    log_py = torch.log_softmax(logits, dim=1).gather(1, y[:, None].long())[:, 0]
    weight = (1 - log_py.exp()).clamp(min=0) ** gamma if gamma else 1.0
    return -(weight * log_py).mean()


def f1_weighted_bce(logits: torch.Tensor, y: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Article eq. (9): −mean[y (1 − F/2) log p + (1 − y)(F/2) log(1 − p)], p = σ(logits).

    F = stop_gradient(soft F1 of the positive class over the batch), so the gradient is the
    article's eq. (8): the smooth-F1 gradient after the "p → log p" substitution.
    """
    logits = _tensor("logits", logits, 1)
    y = _binary_labels(y, len(logits)).to(logits.dtype)
    p = torch.sigmoid(logits)
    f1 = soft_macro_f1(p.detach()[:, None], y[:, None], eps)
    weight = torch.where(y > 0, 1 - f1 / 2, f1 / 2)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return (weight * bce).mean()


def binary_loss(
    name: str, logits: torch.Tensor, y: torch.Tensor, *, prior: float | None = None
) -> torch.Tensor:
    """One of :data:`BINARY_LOSSES` for logits z (N,) and labels y ∈ {0, 1} (N,), as a scalar.

    * ``"ce"``: mean BCE; ``"balanced_ce"``: BCE with weights 1/(2π) on positives and
      1/(2(1 − π)) on negatives, π = ``prior`` (default: the batch's positive fraction);
    * ``"f1_ce"``: :func:`f1_weighted_bce` × 2 (weights (2 − F, F), which sum to 2 like CE's);
    * ``"focal"``: :func:`focal_loss` with γ = 2 on the two logits (0, z) (softmax = σ(z));
    * ``"soft_f1"``: −soft F1 of the positive class (article eq. (5)), optimised directly.
    """
    _validate.choice("name", name, BINARY_LOSSES)
    logits = _tensor("logits", logits, 1)
    y = _binary_labels(y, len(logits)).to(logits.dtype)
    if name == "ce":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    if name == "balanced_ce":
        pi = float(y.mean()) if prior is None else _validate.in_range("prior", prior, 0.0, 1.0)
        if not 0 < pi < 1:
            raise ValueError(f"prior must lie strictly between 0 and 1, got {pi}")
        weight = y * (0.5 / pi) + (1 - y) * (0.5 / (1 - pi))  # in the dtype of y
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        return (weight * bce).mean()
    if name == "f1_ce":
        return 2 * f1_weighted_bce(logits, y)
    if name == "focal":
        two = torch.stack([torch.zeros_like(logits), logits], dim=1)
        return focal_loss(two, y.long(), 2.0)
    return -soft_macro_f1(torch.sigmoid(logits)[:, None], y[:, None])


def _stacked_losses(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ_r binary_loss(name, z[r], y[r]) for (R, N) logits and labels, vectorised over r."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")
    if name == "ce":
        return bce.mean(1).sum()
    if name == "balanced_ce":
        pi = y.mean(1, keepdim=True)
        return (torch.where(y > 0, 0.5 / pi, 0.5 / (1 - pi)) * bce).mean(1).sum()
    p = torch.sigmoid(z)
    if name == "focal":  # softmax of (0, z) is σ(z): −(1 − p_y)² log p_y
        log_py = torch.nn.functional.logsigmoid(torch.where(y > 0, z, -z))
        return (-((1 - log_py.exp()) ** 2) * log_py).mean(1).sum()
    f1 = 2 * (p * y).sum(1, keepdim=True) / (p.sum(1, keepdim=True) + y.sum(1, keepdim=True) + 1e-7)
    if name == "soft_f1":
        return -f1.sum()
    f1 = f1.detach()  # "f1_ce": 2 × eq. (9)
    return 2 * (torch.where(y > 0, 1 - f1 / 2, f1 / 2) * bce).mean(1).sum()


def gradient_factor(name: str, p: Any, y: int = 1, *, gamma: float = 2.0, f1: float = 0.5) -> Any:
    """|∂ℓ/∂z| of one sample's loss ℓ at probabilities ``p`` = σ(z), measured by autograd.

    ``name``: ``"smooth_acc"`` (ℓ = −[y p + (1 − y)(1 − p)]), ``"ce"``, ``"focal"`` (with
    ``gamma``) or ``"f1_ce"`` (the per-sample term of eq. (9) at a fixed soft F1 ``f1``);
    ``y`` ∈ {0, 1}. Returns a float64 array shaped like ``p`` (entries strictly in (0, 1)).
    """
    _validate.choice("name", name, ("smooth_acc", "ce", "focal", "f1_ce"))
    _validate.choice("y", y, (0, 1))
    gamma = _validate.non_negative("gamma", gamma)
    f1 = _validate.in_range("f1", f1, 0.0, 1.0)
    probs = _validate.real_array("p", p)
    if not np.all((probs > 0) & (probs < 1)):
        raise ValueError("p must lie strictly between 0 and 1")
    z = torch.tensor(np.log(probs) - np.log1p(-probs), dtype=torch.float64, requires_grad=True)
    q = torch.sigmoid(z)
    q_y = q if y else 1 - q
    log_qy = torch.nn.functional.logsigmoid(z if y else -z)
    if name == "smooth_acc":
        loss = -q_y
    elif name == "ce":
        loss = -log_qy
    elif name == "focal":
        loss = -((1 - q_y) ** gamma) * log_qy
    else:
        loss = -(1 - f1 / 2 if y else f1 / 2) * log_qy
    (grad,) = torch.autograd.grad(loss.sum(), z)
    return grad.abs().numpy()


def f1_at_thresholds(scores: torch.Tensor, y: torch.Tensor, thresholds: Any) -> torch.Tensor:
    """F1 of the positive class when predicting ``scores > t``, for every threshold t.

    ``scores`` (..., N), binary ``y`` shaped like the trailing dimensions of ``scores`` (at
    least (N,)), ``thresholds`` (T,);
    returns (..., T). F1 = 2 TP / (2 TP + FP + FN), taken as 0 when there is nothing to count.
    """
    scores = _tensor("scores", scores, scores.ndim if isinstance(scores, torch.Tensor) else 1)
    if scores.ndim == 0 or scores.shape[-1] == 0:
        raise ValueError(f"scores must have shape (..., N) with N ≥ 1, got {tuple(scores.shape)}")
    y = _tensor("y", y, y.ndim if isinstance(y, torch.Tensor) else 1)
    if y.ndim == 0 or y.ndim > scores.ndim or y.shape != scores.shape[scores.ndim - y.ndim :]:
        raise ValueError(
            f"y must have the trailing shape of scores {tuple(scores.shape)}, got {tuple(y.shape)}"
        )
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must hold binary labels 0 and 1")
    t = torch.as_tensor(_validate.real_array("thresholds", thresholds), dtype=scores.dtype)
    if t.ndim != 1 or len(t) == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D array, got shape {tuple(t.shape)}")
    pred = (scores[..., None, :] > t[:, None].to(scores.device)).to(scores.dtype)
    truth = y.to(scores.dtype)[..., None, :]
    tp = (pred * truth).sum(-1)
    denom = pred.sum(-1) + truth.sum(-1)
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))


def best_threshold(scores: torch.Tensor, y: torch.Tensor, thresholds: Any) -> torch.Tensor:
    """The threshold of ``thresholds`` with the highest F1 (the lowest one on ties), (...,).

    Choose it on validation data and report the F1 it gives on test data: the fair comparison
    of losses that only shift a classifier's threshold (chapter 30).
    """
    t = torch.as_tensor(_validate.real_array("thresholds", thresholds), dtype=scores.dtype)
    f1 = f1_at_thresholds(scores, y, t)
    return t.to(f1.device)[f1.argmax(-1)]


def fit_variants(
    x: torch.Tensor,
    y: torch.Tensor,
    losses: Sequence[str],
    seeds: Sequence[int],
    *,
    hidden: int = 32,
    steps: int = 200,
    lr: float = 1e-2,
    progress: bool = True,
) -> StackedMLP:
    """Train one MLP d → hidden → 1 per (loss, seed) together, as one :class:`StackedMLP`.

    ``hidden`` = 0 gives logistic regression d → 1.

    ``x`` (R, N, d) and binary ``y`` (R, N) hold R = len(``seeds``) training sets (one per
    seed); member ``l·R + r`` is trained on set r with loss ``losses[l]`` (see
    :func:`binary_loss`) from the initial weights of ``seeds[r]``, so two losses at the same
    seed start from the same network. Full-batch Adam for ``steps`` steps at rate ``lr``; the
    members never interact. Returns the model in eval mode; ``model(x.repeat(L, 1, 1))``
    gives the logits (L·R, N, 1).
    """
    x, y = _tensor("x", x, 3), _tensor("y", y, 2)
    losses = [_validate.choice("losses", name, BINARY_LOSSES) for name in losses]
    seeds = [_validate.non_negative_int("seeds", s) for s in seeds]
    if not losses or not seeds:
        raise ValueError("losses and seeds must each name at least one entry")
    if len(x) != len(seeds) or y.shape != x.shape[:2]:
        raise ValueError(
            f"x must be (R, N, d) and y (R, N) with R = len(seeds) = {len(seeds)}, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    for r in range(len(seeds)):
        _binary_labels(y[r], y.shape[1])
        if not 0 < float(y[r].mean()) < 1:
            raise ValueError(f"y[{r}] must hold both classes, got only {int(y[r][0])}s")
    hidden = _validate.non_negative_int("hidden", hidden)
    steps = _validate.positive_int("steps", steps)
    lr = _validate.positive("lr", lr)
    n_l, n_r = len(losses), len(seeds)
    sizes = [x.shape[2], hidden, 1] if hidden else [x.shape[2], 1]
    model = StackedMLP(sizes, [s for _ in losses for s in seeds]).to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    inputs, labels = x.repeat(n_l, 1, 1), y.to(x.dtype)
    from ..train import progress as bar

    for _ in bar(range(steps), desc="training", **({} if progress else {"disable": True})):
        z = model(inputs)[..., 0].reshape(n_l, n_r, -1)
        total = sum(_stacked_losses(name, z[i], labels) for i, name in enumerate(losses))
        opt.zero_grad()
        total.backward()
        opt.step()
    return model.eval()


def one_vs_rest_splits(
    x: torch.Tensor,
    labels: torch.Tensor,
    positive: int,
    n_positive: int,
    seeds: Sequence[int],
    *,
    fractions: tuple[float, float] = (0.5, 0.25),
) -> dict[str, torch.Tensor]:
    """Imbalanced binary tasks "class ``positive`` vs the rest", one per seed, stacked.

    For each seed: keep ``n_positive`` random samples of class ``positive`` and every other
    sample, shuffle, and cut train / validation / test by ``fractions`` (train, validation;
    test gets the rest). Returns ``x_train`` (R, N₁, d), ``y_train`` (R, N₁) and likewise
    for ``val`` and ``test`` (R = len(seeds); y = 1 for the positive class). ``x`` is (N, d).
    """
    x, labels = _tensor("x", x, 2), _tensor("labels", labels, 1)
    if len(x) != len(labels):
        raise ValueError(f"x and labels must have the same length, got {len(x)}, {len(labels)}")
    positive = _validate.non_negative_int("positive", positive)
    members = torch.nonzero(labels == positive).flatten()
    rest = torch.nonzero(labels != positive).flatten()
    n_positive = _validate.positive_int("n_positive", n_positive)
    if n_positive > len(members) or len(rest) == 0:
        raise ValueError(
            f"n_positive={n_positive} needs that many samples of class {positive} (there are "
            f"{len(members)}) and some of the other classes"
        )
    a, b = (_validate.in_range("fractions", f, 0.0, 1.0) for f in fractions)
    n = n_positive + len(rest)
    cut1, cut2 = int(round(a * n)), int(round((a + b) * n))
    if not 0 < cut1 < cut2 < n:
        raise ValueError(f"fractions={fractions} must leave every split non-empty")
    out: dict[str, list[torch.Tensor]] = {}
    for seed in seeds:
        gen = torch.Generator().manual_seed(_validate.non_negative_int("seeds", seed))
        kept = members[torch.randperm(len(members), generator=gen)[:n_positive]]
        idx = torch.cat([kept, rest])
        idx = idx[torch.randperm(len(idx), generator=gen).to(idx.device)]
        xs, ys = x[idx], (labels[idx] == positive).to(x.dtype)
        for part, sl in (
            ("train", slice(0, cut1)),
            ("val", slice(cut1, cut2)),
            ("test", slice(cut2, n)),
        ):
            out.setdefault(f"x_{part}", []).append(xs[sl])
            out.setdefault(f"y_{part}", []).append(ys[sl])
    return {k: torch.stack(v) for k, v in out.items()}
