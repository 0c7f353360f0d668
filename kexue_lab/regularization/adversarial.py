"""Adversarial training and attacks (chapter 28, 对抗训练浅谈).

* :func:`fgsm_attack`: the fast gradient sign method of Goodfellow et al. (2015),
  x + ε·sign(∇ₓ L(f(x), y)), the first-order solution of max_{‖Δ‖∞ ≤ ε} L(x + Δ, y).
  Chapters 26 and 27 measure robustness with it too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import _validate

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def fgsm_attack(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    loss_fn: LossFn = torch.nn.functional.cross_entropy,
    clamp: tuple[float, float] | None = None,
) -> torch.Tensor:
    """x + ε·sign(∇ₓ L(model(x), y)), detached, optionally clipped to ``clamp = (lo, hi)``.

    The loss is summed over the batch before differentiating (``loss_fn`` is called as
    ``loss_fn(model(x), y)`` and may average: the sign does not change), so each sample moves
    by its own gradient's sign. The model's parameters receive no gradient.
    """
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 1 or len(x) == 0:
        raise TypeError(
            f"x must be a non-empty floating-point tensor with a batch dimension, got {x!r:.60}"
        )
    if not torch.is_tensor(y) or len(y) != len(x):
        raise ValueError(f"y must be a tensor with one target per sample of x ({len(x)})")
    eps = _validate.non_negative("eps", eps)
    if clamp is not None:
        lo, hi = (_validate.real("clamp", v) for v in clamp)
        if not lo < hi:
            raise ValueError(f"clamp must be (lo, hi) with lo < hi, got {clamp}")
    x_in = x.detach().requires_grad_(True)
    loss = loss_fn(model(x_in), y)
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise ValueError("loss_fn must return a scalar loss")
    (grad,) = torch.autograd.grad(loss, x_in)
    x_adv = x.detach() + eps * grad.sign()
    return x_adv.clamp(lo, hi) if clamp is not None else x_adv
