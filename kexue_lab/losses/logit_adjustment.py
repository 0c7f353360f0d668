"""Logit adjustment for long-tailed classification (chapter 29).

Su Jianlin's "通过互信息思想来缓解类别不平衡问题" (kexue.fm/archives/7615) and Menon et al.,
"Long-tail learning via logit adjustment" (ICLR 2021) let the logits f_y(x) model the pointwise
mutual information log p(y|x) − log p(y) instead of log p(y|x). With the training label prior π:

* the **logit-adjusted loss** (training time) is the cross-entropy of f + τ·log π,

      ℓ(f, y) = −log [e^{f_y + τ log π_y} / Σ_i e^{f_i + τ log π_i}]
              = log [1 + Σ_{i≠y} (π_i/π_y)^τ e^{f_i − f_y}];

* **post-hoc adjustment** (test time) of a model g trained with plain cross-entropy predicts
  argmax_y g_y(x) − τ·log π_y.

Both give the balanced-error Bayes rule argmax_y p(x|y) at the population optimum (τ = 1).
For the chapter's 1-D example, x|0 ~ N(0, 1) and x|1 ~ N(Δ, 1) with p(y = 1) = p, the
τ-interpolated decision boundary is x*(τ) = Δ/2 + (1 − τ)·ln((1 − p)/p)/Δ
(:func:`two_gaussian_boundary`, :func:`two_gaussian_errors`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .. import _validate


def _logits(name: str, value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim != 2 or value.shape[1] < 2 or not value.is_floating_point():
        raise ValueError(
            f"{name} must be a floating (batch, classes) tensor with >= 2 classes, "
            f"got {value.dtype} {tuple(value.shape)}"
        )
    return value


def _prior(log_prior: Any, n_classes: int, like: torch.Tensor) -> torch.Tensor:
    lp = torch.as_tensor(log_prior, dtype=like.dtype, device=like.device)
    if lp.shape != (n_classes,):
        raise ValueError(
            f"log_prior must have one entry per class, shape ({n_classes},), got {tuple(lp.shape)}"
        )
    if not torch.isfinite(lp).all() or (lp > 1e-6).any():
        raise ValueError(
            "log_prior must hold finite log-probabilities (<= 0); "
            "add an ε to empty classes before the log (see log_prior)"
        )
    return lp


def log_prior(counts: Any, eps: float = 1e-12) -> torch.Tensor:
    """log π_c = log(n_c/N + ε) from the training class counts n_c (float64 tensor).

    ``eps`` keeps empty classes finite (the paper's code adds 1e-12).
    """
    n = _validate.real_array("counts", counts)
    if n.ndim != 1 or len(n) < 2 or (n < 0).any() or n.sum() <= 0:
        raise ValueError(
            f"counts must be a 1-D array of >= 2 non-negative counts with a positive sum, got {n}"
        )
    eps = _validate.non_negative("eps", eps)
    return torch.log(torch.as_tensor(n / n.sum() + eps, dtype=torch.float64))


def logit_adjusted_ce(
    logits: torch.Tensor, y: torch.Tensor, log_prior: Any, tau: float = 1.0
) -> torch.Tensor:
    """Mean over the batch of CE(f + τ·log π, y), the logit-adjusted loss (article eq. (6)).

    * ``logits``: (batch, K) floating tensor f;
    * ``y``: (batch,) integer targets in 0 … K−1;
    * ``log_prior``: K log-probabilities log π (tensor or array, e.g. :func:`log_prior`);
    * ``tau``: the temperature τ ≥ 0 (τ = 0 is plain cross-entropy).
    """
    f = _logits("logits", logits)
    if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"y must be an integer torch.Tensor, got {getattr(y, 'dtype', type(y))}")
    if y.shape != (f.shape[0],):
        raise ValueError(f"y must have shape ({f.shape[0]},) to match logits, got {tuple(y.shape)}")
    if len(y) and (y.min() < 0 or y.max() >= f.shape[1]):
        raise ValueError(f"y must hold classes 0 … {f.shape[1] - 1}, got {y.min()} … {y.max()}")
    tau = _validate.non_negative("tau", tau)
    lp = _prior(log_prior, f.shape[1], f)
    return torch.nn.functional.cross_entropy(f + tau * lp, y.long())


def posthoc_adjust(logits: torch.Tensor, log_prior: Any, tau: float = 1.0) -> torch.Tensor:
    """g − τ·log π: post-hoc logit adjustment of a model trained with plain CE (paper eq. (9)).

    The argmax of the result is the balanced-error rule at τ = 1; τ = 0 returns the logits.
    """
    g = _logits("logits", logits)
    tau = _validate.non_negative("tau", tau)
    return g - tau * _prior(log_prior, g.shape[1], g)


# ---- the 1-D two-Gaussian example ----
def _check_example(p: Any, delta: Any) -> tuple[float, float]:
    p = _validate.real("p", p)
    if not 0 < p < 1:
        raise ValueError(f"p (the tail prior p(y = 1)) must lie strictly in (0, 1), got {p}")
    return p, _validate.positive("delta", delta)


def two_gaussian_boundary(p: float, delta: float, tau: float = 1.0) -> float:
    """x*(τ) = Δ/2 + (1 − τ)·ln((1 − p)/p)/Δ for x|0 ~ N(0, 1), x|1 ~ N(Δ, 1), p(y = 1) = p.

    τ = 0: the Bayes rule for overall accuracy (plain CE); τ = 1: the balanced rule.
    """
    p, delta = _check_example(p, delta)
    tau = _validate.real("tau", tau)
    return delta / 2 + (1 - tau) * math.log((1 - p) / p) / delta


def two_gaussian_errors(p: float, delta: float, boundary: float) -> dict[str, float]:
    """Errors of the rule "predict 1 iff x > boundary" in the 1-D example.

    Returns ``head`` = P(x > b | y = 0) = Φ(−b), ``tail`` = P(x ≤ b | y = 1) = Φ(b − Δ),
    ``balanced`` = their mean, and ``overall`` = (1 − p)·head + p·tail.
    """
    from scipy.stats import norm

    p, delta = _check_example(p, delta)
    b = _validate.real("boundary", boundary)
    head, tail = float(norm.cdf(-b)), float(norm.cdf(b - delta))
    return {
        "head": head,
        "tail": tail,
        "balanced": (head + tail) / 2,
        "overall": (1 - p) * head + p * tail,
    }


def per_class_accuracy(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Recall of each class c: the share of test samples of class c predicted as c.

    Its mean is the balanced accuracy (scikit-learn's ``balanced_accuracy_score``). Arrays or
    tensors of shape (N,), or (S, N) predictions for S models (one row of recalls each).
    """
    n_classes = _validate.int_at_least("n_classes", n_classes, 2)
    t = np.asarray(y_true.cpu() if hasattr(y_true, "cpu") else y_true)
    p = np.asarray(y_pred.cpu() if hasattr(y_pred, "cpu") else y_pred)
    if t.ndim != 1 or p.shape[-1:] != t.shape or p.ndim > 2:
        raise ValueError(f"y_pred must have shape (N,) or (S, N) with N = {len(t)}, got {p.shape}")
    if t.min() < 0 or t.max() >= n_classes:
        raise ValueError(f"y_true must hold classes 0 … {n_classes - 1}")
    support = np.bincount(t, minlength=n_classes)
    if (support == 0).any():
        raise ValueError(f"every class needs test samples; counts are {support.tolist()}")
    hits = (p == t).reshape(-1, len(t))
    correct = np.stack([np.bincount(t, weights=h, minlength=n_classes) for h in hits])
    out = correct / support
    return out[0] if p.ndim == 1 else out
