"""A small Transformer block with a boolean attention mask (chapters 33, 36–40).

One block, two layer-norm placements:

* ``norm="post"`` (BERT, the original Transformer):
  ``h = LN(x + Attn(x))``, ``y = LN(h + FFN(h))``;
* ``norm="pre"`` (GPT-2): ``h = x + Attn(LN(x))``, ``y = h + FFN(LN(h))``.

Attention is ``softmax(QKᵀ/√d_h + M) V`` per head, with ``M = 0`` where the boolean mask is
true and ``−∞`` where it is false (``torch.nn.functional.scaled_dot_product_attention``). Every
query row must allow at least one key, or the softmax is undefined.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validate

__all__ = ["MultiHeadAttention", "TransformerBlock"]


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention of ``(B, L, d)`` inputs under a ``(B, L, L)`` boolean mask
    (true = query i may attend to key j)."""

    def __init__(self, d: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        d = _validate.positive_int("d", d)
        n_heads = _validate.positive_int("n_heads", n_heads)
        if d % n_heads:
            raise ValueError(f"d must be divisible by n_heads, got d={d}, n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, _validate.in_range("dropout", dropout, 0.0, 1.0)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.n_heads, d // self.n_heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        attn_mask = None if mask is None else mask[:, None, :, :]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, length, d))


class TransformerBlock(nn.Module):
    """Self-attention + GELU feed-forward block, ``norm`` in ``"pre"`` (GPT-2) or ``"post"``
    (BERT); see the module docstring for the two orders. ``ffn`` defaults to ``4·d``."""

    def __init__(
        self,
        d: int,
        n_heads: int,
        ffn: int | None = None,
        *,
        norm: str = "pre",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm = _validate.choice("norm", norm, ("pre", "post"))
        ffn = 4 * d if ffn is None else _validate.positive_int("ffn", ffn)
        self.attn = MultiHeadAttention(d, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm == "pre":
            x = x + self.drop(self.attn(self.ln1(x), mask))
            return x + self.drop(self.ff(self.ln2(x)))
        x = self.ln1(x + self.drop(self.attn(x, mask)))
        return self.ln2(x + self.drop(self.ff(x)))
