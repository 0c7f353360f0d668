"""DGCNN: dilated gated convolutions for span-extraction reading comprehension (chapter 34).

Su Jianlin, "基于CNN的阅读理解式问答模型:DGCNN" (kexue.fm/archives/5409). The article's
equations, numbered as it displays them:

* (1) gated convolution ``Y = Conv1D₁(X) ⊗ σ(Conv1D₂(X))``;
* (2)/(3) its residual form ``Y = X + Conv1D₁(X) ⊗ σ = X ⊗ (1 − σ) + Conv1D₁'(X) ⊗ σ``
  (:class:`GatedDilatedConv1d`, written in the highway form (3));
* (4) additive attention pooling ``Σ λᵢ xᵢ``, ``λ = softmax(αᵀ tanh(W xᵢ))``
  (:class:`AttentionPooling1d`);
* (7)/(8) two sigmoid taggers for answer start and end, multiplied by a passage-level
  ``p_global`` (:class:`DGCNNReader`);
* the voting rule of the section 投票方式, ``s_a = Σᵢ s²_{a,i} / (1 + Σᵢ s_{a,i})``
  (:func:`squared_vote`).

The receptive field of stride-1 convolutions with kernel k and dilations rₗ is
``1 + Σₗ (k − 1) rₗ`` (:func:`receptive_field`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .. import _validate

__all__ = [
    "AttentionPooling1d",
    "DGCNNReader",
    "GatedDilatedConv1d",
    "binary_focal_loss",
    "receptive_field",
    "squared_vote",
    "top_spans",
]


def _dilations(dilations: Sequence[int]) -> tuple[int, ...]:
    if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Sequence):
        raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
    return tuple(_validate.positive_int("dilations[i]", d) for d in dilations)


def receptive_field(kernel: int, dilations: Sequence[int]) -> int:
    """Receptive field ``1 + Σₗ (k − 1)·rₗ`` of stacked stride-1 convolutions (chapter 34).

    ``kernel`` k ≥ 1, ``dilations`` the rates rₗ ≥ 1 of the layers (may be empty: 1).
    """
    kernel = _validate.positive_int("kernel", kernel)
    return 1 + sum((kernel - 1) * r for r in _dilations(dilations))


class GatedDilatedConv1d(nn.Module):
    """Residual gated dilated convolution, article eq. (3) (chapter 34).

    ``Y = X ⊗ (1 − σ) + C(X) ⊗ σ`` with ``σ = sigmoid(G(X))``, C and G two 'same'-padded
    Conv1d of ``channels`` → ``channels``, kernel ``kernel`` (odd) and ``dilation``; with
    ``residual=False`` it is the plain GLU of eq. (1), ``Y = C(X) ⊗ σ``; with ``gated=False``
    an ungated residual convolution ``Y = X + C(X)`` (an ablation). Input ``(B, channels, T)``
    and an optional ``mask`` ``(B, 1, T)`` (1 keep, 0 pad) applied before the convolution and
    to the output, so padding never leaks through a dilated kernel. ``gate_noise`` ε > 0 is
    the article's eq. (9): in training the gate pre-activation is multiplied by ``1 + U(−ε, ε)``.
    """

    def __init__(
        self,
        channels: int,
        kernel: int = 3,
        dilation: int = 1,
        *,
        residual: bool = True,
        gated: bool = True,
        gate_noise: float = 0.0,
    ) -> None:
        super().__init__()
        self.channels = _validate.positive_int("channels", channels)
        self.kernel = _validate.positive_int("kernel", kernel)
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd for 'same' padding, got {kernel}")
        self.dilation = _validate.positive_int("dilation", dilation)
        self.gate_noise = _validate.in_range("gate_noise", gate_noise, 0.0, 1.0)
        self.residual, self.gated = bool(residual), bool(gated)
        pad = self.dilation * (self.kernel - 1) // 2
        out = 2 * channels if self.gated else channels
        self.conv = nn.Conv1d(channels, out, kernel, dilation=self.dilation, padding=pad)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (B, {self.channels}, T), got {tuple(x.shape)}")
        if mask is not None:
            x = x * mask
        h = self.conv(x)
        if not self.gated:
            y = x + h if self.residual else h
        else:
            c, g = h.chunk(2, dim=1)
            if self.training and self.gate_noise > 0:
                g = g * (1 + self.gate_noise * (2 * torch.rand_like(g) - 1))
            s = torch.sigmoid(g)
            y = x * (1 - s) + c * s if self.residual else c * s
        return y if mask is None else y * mask


class AttentionPooling1d(nn.Module):
    """Additive attention pooling, article eq. (4) (chapter 34).

    ``x̄ = Σᵢ λᵢ xᵢ``, ``λ = softmax_i(αᵀ tanh(W xᵢ))`` over the unmasked positions of a
    ``(B, channels, T)`` input; ``mask`` ``(B, 1, T)``. Returns ``(B, channels)``.
    """

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        channels = _validate.positive_int("channels", channels)
        hidden = channels if hidden is None else _validate.positive_int("hidden", hidden)
        self.W = nn.Linear(channels, hidden, bias=False)
        self.alpha = nn.Linear(hidden, 1, bias=False)

    def weights(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights λ, shape ``(B, T)`` (exactly 0 on padding)."""
        a = self.alpha(torch.tanh(self.W(x.transpose(1, 2)))).squeeze(-1)
        if mask is not None:
            a = a.masked_fill(mask[:, 0] <= 0, float("-inf"))
        return torch.softmax(a, dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return torch.einsum("bt,bct->bc", self.weights(x, mask), x)


def _stack(dim: int, kernel: int, dilations: Sequence[int], gated: bool) -> nn.ModuleList:
    return nn.ModuleList(GatedDilatedConv1d(dim, kernel, r, gated=gated) for r in dilations)


class DGCNNReader(nn.Module):
    """A character-level DGCNN reader: question vector, passage stack, start/end taggers.

    Question: embedding → gated blocks (``q_dilations``) → attention pooling (4) → q.
    Passage: [embedding, q tiled, exact-match flag (character in the question)] → linear →
    gated dilated blocks (``p_dilations``) → per position ``p_start``, ``p_end`` (7), times
    ``p_global`` from an attention-pooled passage vector (8) when ``use_global``. Returns
    ``(p_start, p_end, p_global)`` of shapes ``(B, T), (B, T), (B,)``; padding gets 0.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int = 64,
        *,
        kernel: int = 3,
        q_dilations: Sequence[int] = (1, 2),
        p_dilations: Sequence[int] = (1, 2, 4, 1),
        gated: bool = True,
        use_global: bool = True,
    ) -> None:
        super().__init__()
        vocab_size = _validate.int_at_least("vocab_size", vocab_size, 2, "pad and a character")
        dim = _validate.positive_int("dim", dim)
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.q_stack = _stack(dim, kernel, _dilations(q_dilations), gated)
        self.q_pool = AttentionPooling1d(dim)
        self.mix = nn.Conv1d(2 * dim + 1, dim, 1)
        self.p_stack = _stack(dim, kernel, _dilations(p_dilations), gated)
        self.p_pool = AttentionPooling1d(dim)
        self.heads = nn.Sequential(nn.Conv1d(dim, dim, 1), nn.Tanh(), nn.Conv1d(dim, 2, 1))
        self.global_head = nn.Linear(dim, 1) if use_global else None

    def forward(
        self, question: torch.Tensor, passage: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``question`` ``(B, Tq)``, ``passage`` ``(B, Tp)``: int64 ids, 0 = padding."""
        for name, t in (("question", question), ("passage", passage)):
            if t.ndim != 2 or t.dtype != torch.int64:
                raise ValueError(f"{name} must be a (B, T) int64 tensor, got {t.dtype} {t.shape}")
        qm = (question > 0).unsqueeze(1).float()
        pm = (passage > 0).unsqueeze(1).float()
        q = self.embed(question).transpose(1, 2)
        for block in self.q_stack:
            q = block(q, qm)
        qv = self.q_pool(q, qm)
        match = (passage.unsqueeze(2) == question.unsqueeze(1)) & (question > 0).unsqueeze(1)
        p = self.embed(passage).transpose(1, 2)
        feats = [p, qv.unsqueeze(2).expand_as(p), match.any(2).unsqueeze(1).float()]
        h = self.mix(torch.cat(feats, 1)) * pm
        for block in self.p_stack:
            h = block(h, pm)
        se = torch.sigmoid(self.heads(h)) * pm
        if self.global_head is None:
            pg = torch.ones(h.shape[0], device=h.device)
        else:
            pg = torch.sigmoid(self.global_head(self.p_pool(h, pm))).squeeze(-1)
        return se[:, 0] * pg[:, None], se[:, 1] * pg[:, None], pg


def binary_focal_loss(
    p: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> torch.Tensor:
    """Mean binary focal loss ``−α y (1−p)^γ log p − (1−α)(1−y) p^γ log(1−p)`` (chapter 34).

    Lin et al. (2017), as the article trains its taggers; ``p`` probabilities, ``y`` 0/1
    targets, ``mask`` the positions to average over (all when None). Probabilities are clipped
    to ``[1e-7, 1 − 1e-7]``. ``gamma = 0, alpha = ½`` gives half the binary cross-entropy.
    """
    alpha = _validate.in_range("alpha", alpha, 0.0, 1.0)
    gamma = _validate.non_negative("gamma", gamma)
    if p.shape != y.shape:
        raise ValueError(f"p and y must have the same shape, got {p.shape} and {y.shape}")
    p = p.clamp(1e-7, 1 - 1e-7)
    loss = -alpha * y * (1 - p) ** gamma * torch.log(p)
    loss = loss - (1 - alpha) * (1 - y) * p**gamma * torch.log1p(-p)
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def top_spans(
    p_start: torch.Tensor, p_end: torch.Tensor, *, max_len: int = 10, k: int = 5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``k`` best spans of each row by ``p_start[i]·p_end[j]``, ``i ≤ j < i + max_len``.

    The article's decoding (section 打分方式: the product of the start and end scores, answers
    at most ``max_len`` long). Inputs ``(B, T)``; returns ``(scores, starts, ends)``, each
    ``(B, k)``, best first (``j`` is inclusive).
    """
    max_len = _validate.positive_int("max_len", max_len)
    k = _validate.positive_int("k", k)
    if p_start.ndim != 2 or p_start.shape != p_end.shape:
        raise ValueError(f"p_start, p_end must be equal (B, T), got {p_start.shape}, {p_end.shape}")
    T = p_start.shape[1]
    i = torch.arange(T, device=p_start.device)
    band = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_len)
    score = (p_start[:, :, None] * p_end[:, None, :]).masked_fill(~band, -1.0)
    best, flat = score.flatten(1).topk(min(k, int(band.sum())), dim=1)
    return best, flat // T, flat % T


def squared_vote(per_passage: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The article's vote (section 投票方式): ``s_a = Σᵢ s²_{a,i} / (1 + Σᵢ s_{a,i})``.

    ``per_passage[i]`` maps each answer string of passage i to its score ``s_{a,i}`` (already
    the maximum over its occurrences in that passage). Returns the vote of every answer.
    """
    if isinstance(per_passage, Mapping) or not isinstance(per_passage, Sequence):
        raise TypeError(f"per_passage must be a sequence of mappings, got {per_passage!r:.60}")
    sq: dict[str, float] = {}
    lin: dict[str, float] = {}
    for scores in per_passage:
        if not isinstance(scores, Mapping):
            raise TypeError(f"each passage's scores must be a mapping, got {scores!r:.60}")
        for a, s in scores.items():
            s = _validate.non_negative(f"score of {a!r}", s)
            sq[a] = sq.get(a, 0.0) + s * s
            lin[a] = lin.get(a, 0.0) + s
    return {a: sq[a] / (1.0 + lin[a]) for a in sq}
