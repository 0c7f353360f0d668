"""Optimizer-state memory of Adam and Adafactor, in closed form and measured (chapter 37).

Adam keeps two moments per parameter, ``m`` and ``v``: ``2N`` numbers. Adafactor (Shazeer &
Stern 2018, with β₁ = 0, as ``torch.optim.Adafactor``) keeps, for every ``r × c`` matrix, only a
row and a column factor of the second moment, ``V̂ = R Cᵀ / (1ᵀR)``: ``r + c`` numbers; a vector
of length n keeps its full second moment (n numbers). PyTorch adds one ``step`` scalar per
parameter tensor to both. For a tensor of more than two dimensions PyTorch factors the last two
(``shape[:-1]`` rows and ``shape[:-2] + shape[-1:]`` columns).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

from .. import _validate

__all__ = ["state_bytes", "adam_state_numel", "adafactor_state_numel", "gpt2_ml_shapes"]


def _shapes(shapes: Iterable[Sequence[int] | torch.Size]) -> list[tuple[int, ...]]:
    out = []
    for shape in shapes:
        try:
            dims = tuple(_validate.positive_int("shapes", int(s)) for s in shape)
        except (TypeError, ValueError):
            raise ValueError(f"shapes must be sequences of positive ints, got {shape!r}") from None
        if not dims:
            raise ValueError("shapes must not contain 0-d (scalar) shapes")
        out.append(dims)
    if not out:
        raise ValueError("shapes must name at least one parameter tensor")
    return out


def adam_state_numel(shapes: Iterable[Sequence[int]], step: bool = True) -> int:
    """Numbers Adam stores: ``Σ 2·numel`` (+ one ``step`` scalar per tensor if ``step``)."""
    dims = _shapes(shapes)
    return sum(2 * math.prod(s) + int(step) for s in dims)


def adafactor_state_numel(shapes: Iterable[Sequence[int]], step: bool = True) -> int:
    """Numbers Adafactor stores: ``r + c`` per matrix (times the leading dims), ``n`` per
    vector (+ one ``step`` scalar per tensor if ``step``)."""
    total = 0
    for s in _shapes(shapes):
        if len(s) == 1:
            total += s[0]
        else:
            lead = math.prod(s[:-2])
            total += lead * (s[-2] + s[-1])
        total += int(step)
    return total


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in ``optimizer.state`` (measured after at least one step)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {optimizer!r}")
    return sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for v in state.values()
        if torch.is_tensor(v)
    )


def gpt2_ml_shapes(vocab: int, d: int, n_layers: int, ffn: int, max_len: int) -> list[tuple]:
    """Parameter shapes of a GPT2_ML checkpoint (``newslm/…``): word and position embeddings,
    the embedding LN, and per layer separate Q, K, V, O kernels and biases, ``mlp_ln0``, the
    two FFN kernels and biases, ``mlp_ln1``. Their total is :func:`gpt.param_count`."""
    v, dd, layers, f, p = (
        _validate.positive_int(name, value)
        for name, value in [("vocab", vocab), ("d", d), ("n_layers", n_layers), ("ffn", ffn)]
        + [("max_len", max_len)]
    )
    shapes: list[tuple] = [(v, dd), (p, dd), (dd,), (dd,)]
    block = [(dd, dd), (dd,)] * 4 + [(dd,), (dd,), (dd, f), (f,), (f, dd), (dd,), (dd,), (dd,)]
    return shapes + block * layers
