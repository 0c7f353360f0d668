"""MEMM: the locally normalised CRF, left-to-right, right-to-left and bidirectional (chapter 32).

Same inputs as :mod:`kexue_lab.sequences.crf`. With the true previous tag given (teacher
forcing), each step is an independent softmax (article, eq. 6):

    P(y_1|x) = softmax(f_1)[y_1],   P(y_t|x, y_{t−1}) = softmax(g(y_{t−1}, ·) + f_t)[y_t],

so −log P_MEMM(y|x) = Σ_t −log of these factors, all steps in parallel. Right to left the
chain runs from the last unmasked step back to the first, with the transition read as
g(y_t, y_{t+1}) for the step that predicts y_t (the transposed matrix); the bidirectional
loss averages the two (the article's "Bi-MEMM").
"""

from __future__ import annotations

from typing import Any

import torch

from .. import _validate
from .crf import check_inputs

__all__ = ["memm_step_logits", "memm_nll", "path_log_probs", "DIRECTIONS"]

#: the allowed ``direction`` values of :func:`memm_nll`
DIRECTIONS = ("l2r", "r2l", "bi")


def memm_step_logits(
    emissions: Any, trans: Any, tags: Any, mask: Any, direction: str = "l2r"
) -> torch.Tensor:
    """The per-step logits ``(B, n, K)`` of one direction, given the true neighbouring tags.

    ``l2r``: f_t + g(y_{t−1}, ·) for t ≥ 1, f_0 at t = 0. ``r2l``: f_t + g(·, y_{t+1}) where
    step t + 1 is unmasked, f_t at the last unmasked step.
    """
    _validate.choice("direction", direction, ("l2r", "r2l"))
    return _step_logits(*check_inputs(emissions, trans, mask, tags), direction)


def _step_logits(em, trans, mask, tags, direction: str) -> torch.Tensor:
    add = torch.zeros_like(em)
    if em.shape[1] > 1:
        if direction == "l2r":
            add[:, 1:] = trans[tags[:, :-1]]  # row y_{t−1}: (B, n−1, K)
        else:
            nxt = trans.t()[tags[:, 1:]]  # g(·, y_{t+1}) as a row: (B, n−1, K)
            add[:, :-1] = nxt * mask[:, 1:].unsqueeze(-1).to(em.dtype)
    return em + add


def _nll(em, trans, mask, tags, direction: str) -> torch.Tensor:
    logits = _step_logits(em, trans, mask, tags, direction)
    logp = torch.log_softmax(logits, dim=-1).gather(2, tags.unsqueeze(-1)).squeeze(-1)
    return -(logp * mask.to(logp.dtype)).sum(1)


def memm_nll(emissions: Any, trans: Any, tags: Any, mask: Any, direction: str = "l2r"):
    """−log P_MEMM(tags|x) per sequence, ``(B,)``: the sum of per-step cross-entropies.

    ``direction`` is ``"l2r"`` (article, eqs. 6–7), ``"r2l"`` (article, eq. 8, right-to-left
    factorisation) or ``"bi"`` (the mean of the two, the article's Bi-MEMM loss; chapter 32).
    """
    _validate.choice("direction", direction, DIRECTIONS)
    checked = check_inputs(emissions, trans, mask, tags)
    if direction == "bi":
        return 0.5 * (_nll(*checked, "l2r") + _nll(*checked, "r2l"))
    return _nll(*checked, direction)


def path_log_probs(emissions: Any, trans: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """All K^n paths of one sequence and their log-probabilities under CRF, MEMM L→R and R→L.

    ``emissions`` is ``(n, K)``; returns ``(paths (K^n, n), {"crf", "l2r", "r2l": (K^n,)})``,
    by enumeration (for small n and K: at most 4096 paths; chapter 32's toy).
    """
    from .crf import crf_nll

    if not torch.is_tensor(emissions) or emissions.ndim != 2:
        raise ValueError(f"emissions must be an (n, K) tensor, got {emissions!r:.60}")
    n, k = emissions.shape
    if k**n > 4096:
        raise ValueError(f"K^n = {k}^{n} paths is too many to enumerate (at most 4096)")
    paths = torch.cartesian_prod(*[torch.arange(k)] * n).reshape(-1, n)
    b = len(paths)
    em = emissions.unsqueeze(0).expand(b, n, k)
    mask = torch.ones(b, n, dtype=torch.bool)
    out = {"crf": -crf_nll(em, trans, paths, mask)}
    for d in ("l2r", "r2l"):
        out[d] = -memm_nll(em, trans, paths, mask, d)
    return paths, out
