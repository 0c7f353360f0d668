"""Entropies and divergences of discrete distributions, in nats (chapters 06, 16, 17, 18 …).

* :func:`entropy`: H(p) = −Σ p log p along the last axis, 0·log 0 = 0;
* :func:`softmax_entropy`: H(softmax(z)) from logits, stable for large logits and −∞ masks;
* :func:`perplexity`: exp H(counts / Σ counts);
* :func:`kl_discrete`: KL(p‖q) = Σ p log(p/q).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def _probabilities(name: str, p: Any) -> tuple[torch.Tensor, bool]:
    """``p`` as a float tensor (float64 if it was not a tensor) and whether it was one."""
    was_tensor = torch.is_tensor(p)
    t = p if was_tensor else torch.as_tensor(np.asarray(p, dtype=np.float64))
    if t.ndim == 0 or t.shape[-1] == 0 or not t.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point array or tensor of probabilities with at "
            f"least one entry, got {p!r}"
        )
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    return t, was_tensor


def _back(t: torch.Tensor, was_tensor: bool) -> Any:
    if was_tensor:
        return t
    out = t.detach().numpy()
    return float(out) if out.ndim == 0 else out


def entropy(p: Any) -> Any:
    """H(p) = −Σ_k p_k log p_k (nats) along the last axis, with 0·log 0 = 0.

    ``p`` is not renormalised: pass probabilities. A tensor gives a tensor (autograd flows),
    anything else a float (one distribution) or a float64 array.
    """
    t, was_tensor = _probabilities("p", p)
    return _back(-torch.special.xlogy(t, t).sum(-1), was_tensor)


def softmax_entropy(scores: Any) -> Any:
    """H(softmax(scores)) in nats over the last axis, one value per row (chapter 16, eq. (3)).

    Computed from log_softmax, so large scores do not overflow; −∞ entries (masked keys)
    count as absent. Uniform scores over n entries give log n; one finite entry gives 0.
    A tensor gives a tensor, anything else a float64 array (a float for one row). Raises
    for NaN or +∞ scores and for rows without a finite score.
    """
    if torch.is_tensor(scores):
        if not scores.is_floating_point():
            raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
        s = scores
    else:
        arr = np.asarray(scores)
        if arr.dtype.kind not in "fiu":
            raise TypeError(
                f"scores must be numeric (an array or tensor of logits), got dtype {arr.dtype}"
            )
        s = torch.from_numpy(arr.astype(np.float64))
    if s.ndim == 0 or s.shape[-1] == 0:
        raise ValueError(
            "scores must have at least one entry along the last dimension, got shape "
            f"{tuple(s.shape)}"
        )
    if torch.isnan(s).any() or (s == math.inf).any():
        raise ValueError("scores must not contain NaN or +inf (use -inf to mask an entry)")
    if (s == -math.inf).all(dim=-1).any():
        raise ValueError(
            "every row of scores needs at least one finite entry (a row is fully masked)"
        )
    logp = torch.log_softmax(s, dim=-1)
    safe = torch.where(torch.isfinite(logp), logp, torch.zeros_like(logp))
    h = -(logp.exp() * safe).sum(dim=-1) + 0.0  # + 0.0 turns −0 into 0
    return _back(h, torch.is_tensor(scores))


def perplexity(counts: Any) -> float:
    """exp H(p) of the frequencies p = counts / Σ counts (chapter 06's codebook usage).

    It lies in [1, number of non-zero counts]: 1 when one entry takes everything, K when
    K entries are used equally.
    """
    c, _ = _probabilities("counts", counts.double() if torch.is_tensor(counts) else counts)
    if c.ndim != 1:
        raise ValueError(f"counts must be 1-D (one count per entry), got shape {tuple(c.shape)}")
    total = c.sum()
    if total <= 0:
        raise ValueError("counts sum to 0: there is nothing to measure")
    return float(torch.exp(entropy(c / total)))


def kl_discrete(p: Any, q: Any) -> Any:
    """KL(p‖q) = Σ_k p_k log(p_k / q_k) in nats along the last axis, one value per row.

    0·log 0 = 0, and the divergence is ``inf`` where q_k = 0 < p_k. Every row of ``p`` and
    ``q`` must be a probability vector (entries ≥ 0 summing to 1 within 1e-6). Same return
    types as :func:`entropy` (chapter 01, and every chapter that compares distributions).
    """
    tp, was_tensor = _probabilities("p", p)
    tq, _ = _probabilities("q", q)
    tq = tq.to(tp.dtype)
    if tp.shape[-1] != tq.shape[-1]:
        raise ValueError(
            f"p and q must have the same number of entries, got {tp.shape[-1]} and {tq.shape[-1]}"
        )
    for name, t in (("p", tp), ("q", tq)):
        sums = t.sum(-1)
        if not bool(torch.all((sums - 1).abs() <= 1e-6)):
            worst = float(sums.reshape(-1)[(sums - 1).abs().reshape(-1).argmax()])
            raise ValueError(f"every row of {name} must sum to 1, got a row summing to {worst:.6g}")
    terms = torch.special.xlogy(tp, tp) - torch.special.xlogy(tp, tq)
    return _back(terms.sum(-1), was_tensor)
