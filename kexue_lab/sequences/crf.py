"""Linear-chain CRF: path score, log-partition by the forward algorithm, NLL, Viterbi (chapter 32).

Shapes: ``emissions`` ``(B, n, K)`` (the emission scores f(y_t; x)), ``trans`` ``(K, K)`` (the
transition scores g(i, j), row = previous tag), ``mask`` ``(B, n)`` booleans, true on a prefix
of each sequence (every sequence has at least one step), ``tags`` ``(B, n)`` integers.

The score of a path (article, eq. 2) counts only unmasked steps and has no start/end scores:

    s(y) = Σ_t f(y_t; x) + Σ_{t≥1} g(y_{t−1}, y_t),

and the CRF is p(y|x) = e^{s(y)} / Z with Z = Σ_y e^{s(y)} (article, eq. 3). The forward
recursion α_0 = f_0, α_t(j) = f_t(j) + log Σ_i e^{α_{t−1}(i) + g(i, j)}, log Z = log Σ_j e^{α(j)}
is vectorised over the batch: one ``logsumexp`` over ``(B, K, K)`` per time step; a finished
sequence keeps its α (a ``where`` on the mask, no loop over samples).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["check_inputs", "path_score", "crf_log_partition", "crf_nll", "viterbi_decode"]


def check_inputs(
    emissions: Any, trans: Any, mask: Any, tags: Any = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Validate the CRF/MEMM inputs; return them with ``mask`` as bool and ``tags`` as int64.

    Raises ``TypeError`` for non-tensors or wrong dtypes and ``ValueError`` for wrong shapes,
    non-finite scores, a mask that is not a non-empty prefix, or tags outside ``[0, K)``.
    """
    for name, value in (("emissions", emissions), ("trans", trans), ("mask", mask)):
        if not torch.is_tensor(value):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not emissions.is_floating_point() or emissions.ndim != 3 or 0 in emissions.shape:
        raise ValueError(
            f"emissions must be a non-empty float tensor (B, n, K), got dtype {emissions.dtype} "
            f"and shape {tuple(emissions.shape)}"
        )
    b, n, k = emissions.shape
    if not trans.is_floating_point() or tuple(trans.shape) != (k, k):
        raise ValueError(
            f"trans must be a float ({k}, {k}) tensor (K from emissions), got dtype "
            f"{trans.dtype} and shape {tuple(trans.shape)}"
        )
    if tuple(mask.shape) != (b, n):
        raise ValueError(f"mask must have shape ({b}, {n}), got {tuple(mask.shape)}")
    if mask.dtype not in (torch.bool, torch.uint8):
        raise TypeError(f"mask must be boolean, got dtype {mask.dtype}")
    mask = mask.bool()
    if not bool(mask[:, 0].all()):
        raise ValueError("mask must be true at the first step of every sequence (empty sequence)")
    if n > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("mask must be true on a prefix of each sequence (a gap was found)")
    if not (bool(torch.isfinite(emissions).all()) and bool(torch.isfinite(trans).all())):
        raise ValueError("emissions and trans must be finite (found NaN or ±inf)")
    if tags is not None:
        if not torch.is_tensor(tags) or tags.is_floating_point() or tags.dtype == torch.bool:
            raise TypeError(f"tags must be an integer tensor, got {tags!r:.60}")
        if tuple(tags.shape) != (b, n):
            raise ValueError(f"tags must have shape ({b}, {n}), got {tuple(tags.shape)}")
        tags = tags.long()
        valid = tags[mask]
        if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= k):
            raise ValueError(
                f"tags must lie in [0, {k}) on unmasked steps, got values from "
                f"{int(valid.min())} to {int(valid.max())}"
            )
        tags = torch.where(mask, tags, torch.zeros_like(tags))  # padding may hold anything
    return emissions, trans, mask, tags


def path_score(emissions: Any, trans: Any, tags: Any, mask: Any) -> torch.Tensor:
    """s(y) = Σ_t f(y_t) + Σ_{t≥1} g(y_{t−1}, y_t) on unmasked steps (article, eq. 2)."""
    emissions, trans, mask, tags = check_inputs(emissions, trans, mask, tags)
    return _score(emissions, trans, tags, mask)


def _score(em: torch.Tensor, trans: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor):
    m = mask.to(em.dtype)
    unary = (em.gather(2, tags.unsqueeze(-1)).squeeze(-1) * m).sum(1)
    pair = (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
    return unary + pair


def _log_partition(em: torch.Tensor, trans: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    alpha = em[:, 0]
    step_mask = mask.unsqueeze(-1)  # (B, n, 1)
    t_b = trans.unsqueeze(0)  # (1, K, K)
    for t in range(1, em.shape[1]):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + t_b, dim=1) + em[:, t]  # (B, K, K) → (B, K)
        alpha = torch.where(step_mask[:, t], nxt, alpha)
    return torch.logsumexp(alpha, dim=1)


def crf_log_partition(emissions: Any, trans: Any, mask: Any) -> torch.Tensor:
    """log Z per sequence, ``(B,)``: the normaliser of article eq. 3, by the forward algorithm.

    α_t(j) = f_t(j) + log Σ_i exp(α_{t−1}(i) + g(i, j)); log Z = log Σ_j exp α_{last}(j).
    Differentiable; the cost is O(n K²) per sequence, n steps in sequence (chapter 32).
    """
    emissions, trans, mask, _ = check_inputs(emissions, trans, mask)
    return _log_partition(emissions, trans, mask)


def crf_nll(emissions: Any, trans: Any, tags: Any, mask: Any) -> torch.Tensor:
    """−log p(tags | x) = log Z − s(tags) per sequence, ``(B,)`` (article, eq. 3; chapter 32)."""
    emissions, trans, mask, tags = check_inputs(emissions, trans, mask, tags)
    return _log_partition(emissions, trans, mask) - _score(emissions, trans, tags, mask)


@torch.no_grad()
def viterbi_decode(emissions: Any, trans: Any, mask: Any) -> list[list[int]]:
    """The highest-scoring path argmax_y s(y) of each sequence, as a list of tag lists.

    δ_t(j) = f_t(j) + max_i (δ_{t−1}(i) + g(i, j)) with back-pointers, vectorised over the
    batch; each returned list is as long as its sequence's unmasked part (chapter 32).
    """
    emissions, trans, mask, _ = check_inputs(emissions, trans, mask)
    b, n, _k = emissions.shape
    delta = emissions[:, 0]
    stay = torch.arange(_k, device=emissions.device).expand(b, _k)
    back = []
    for t in range(1, n):
        best, arg = (delta.unsqueeze(2) + trans.unsqueeze(0)).max(dim=1)
        nxt = best + emissions[:, t]
        live = mask[:, t].unsqueeze(1)
        delta = torch.where(live, nxt, delta)
        # a finished sequence points back to the tag it holds: the back-trace passes through
        back.append(torch.where(live, arg, stay))
    tag = delta.argmax(dim=1)
    path = [tag]
    rows = torch.arange(b, device=emissions.device)
    for ptr in reversed(back):
        tag = ptr[rows, tag]
        path.append(tag)
    full = torch.stack(path[::-1], dim=1)  # (B, n): the end tag repeated over the padding
    lengths = mask.sum(1).tolist()
    return [row[:length] for row, length in zip(full.tolist(), lengths)]
