"""A tiny BERT: masked-language-model corruption and a post-LN encoder (chapters 36 and 38).

Devlin et al. 2019 pre-train BERT by masked language modelling: choose each (non-special)
position with probability p = 0.15; of the chosen, 80 % become ``[MASK]``, 10 % a random token
and 10 % stay unchanged; the loss is the cross-entropy of the original token at the chosen
positions only (:func:`mlm_mask`). The encoder (:class:`TinyBert`) is token + position +
segment embeddings, an embedding LayerNorm, and post-LN Transformer blocks
(``h = LN(x + Attn(x))``, ``y = LN(h + FFN(h))``); the MLM head is a dense + GELU + LayerNorm
transform and an output layer tied to the token embedding, as in BERT.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .. import _validate
from .transformer import TransformerBlock

__all__ = ["mlm_mask", "TinyBert"]


def mlm_mask(
    ids: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    p: float = 0.15,
    special_ids: Iterable[int] = (),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM corruption: ``(inputs, labels)`` of the shape of ``ids``.

    Each position whose id is not in ``special_ids`` is chosen with probability ``p``; a chosen
    position becomes ``mask_id`` with probability 0.8, a token drawn uniformly from the ids in
    ``[0, vocab_size)`` that are not special with probability 0.1, and keeps its id otherwise.
    ``labels`` hold the original id at chosen positions and −100 elsewhere.
    """
    if not torch.is_tensor(ids) or ids.is_floating_point() or ids.is_complex():
        raise TypeError(f"ids must be an integer torch.Tensor, got {ids!r:.60}")
    vocab_size = _validate.int_at_least("vocab_size", vocab_size, 2)
    mask_id = _validate.non_negative_int("mask_id", mask_id)
    if mask_id >= vocab_size:
        raise ValueError(f"mask_id must lie in [0, vocab_size={vocab_size}), got {mask_id}")
    p = _validate.in_range("p", p, 0.0, 1.0)
    special = sorted({_validate.non_negative_int("special_ids[i]", s) for s in special_ids})
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"ids must lie in [0, vocab_size={vocab_size})")
    normal = torch.ones(vocab_size, dtype=torch.bool)
    normal[[s for s in special if s < vocab_size]] = False
    if not normal.any():
        raise ValueError("special_ids cover the whole vocabulary: no token can be drawn")
    ids = ids.long()
    eligible = normal[ids]
    u = torch.rand(ids.shape, generator=generator)
    chosen = eligible & (torch.rand(ids.shape, generator=generator) < p)
    pool = normal.nonzero()[:, 0]
    draw = pool[torch.randint(len(pool), ids.shape, generator=generator)]
    inputs = torch.where(chosen & (u < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), draw, inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    return inputs, labels


class TinyBert(nn.Module):
    """A small BERT encoder with a tied MLM head (chapters 36 and 38).

    ``forward(ids, segment_ids=None)`` returns the hidden states ``(B, T, d)``; positions
    holding ``pad_id`` are never attended to. ``mlm_logits(hidden)`` gives ``(B, T, V)``;
    ``hidden[:, 0]`` is the ``[CLS]`` state that a classification head reads.
    """

    def __init__(
        self,
        vocab_size: int,
        d: int = 128,
        n_layers: int = 2,
        n_heads: int = 4,
        ffn: int | None = None,
        max_len: int = 128,
        *,
        n_segments: int = 2,
        dropout: float = 0.1,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = _validate.int_at_least("vocab_size", vocab_size, 2)
        self.max_len = _validate.positive_int("max_len", max_len)
        self.pad_id = _validate.non_negative_int("pad_id", pad_id)
        self.tok = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(max_len, d)
        self.seg = nn.Embedding(_validate.positive_int("n_segments", n_segments), d)
        self.ln = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, n_heads, ffn, norm="post", dropout=dropout) for _ in range(n_layers)
        )
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        for emb in (self.tok, self.pos, self.seg):
            nn.init.normal_(emb.weight, std=0.02)

    def forward(self, ids: torch.Tensor, segment_ids: torch.Tensor | None = None) -> torch.Tensor:
        if ids.ndim != 2:
            raise ValueError(f"ids must be (B, T), got shape {tuple(ids.shape)}")
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequences of {ids.shape[1]} tokens exceed max_len={self.max_len}")
        segment_ids = torch.zeros_like(ids) if segment_ids is None else segment_ids
        if segment_ids.shape != ids.shape:
            raise ValueError(
                f"segment_ids must have the shape of ids {tuple(ids.shape)}, got "
                f"{tuple(segment_ids.shape)}"
            )
        real = ids != self.pad_id
        mask = real[:, None, :] | torch.eye(ids.shape[1], dtype=torch.bool, device=ids.device)
        pos = torch.arange(ids.shape[1], device=ids.device)
        h = self.drop(self.ln(self.tok(ids) + self.pos(pos) + self.seg(segment_ids)))
        for block in self.blocks:
            h = block(h, mask)
        return h

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Masked-LM logits ``(B, T, V)``: the head transform, then the tied token embedding."""
        return self.head(hidden) @ self.tok.weight.T + self.bias
