"""Adversarial training and attacks (chapter 28, 对抗训练浅谈).

* :func:`fgsm_attack`: the fast gradient sign method of Goodfellow et al. (2015),
  x + ε·sign(∇ₓ L(f(x), y)), the first-order solution of max_{‖Δ‖∞ ≤ ε} L(x + Δ, y).
  Chapters 26 and 27 measure robustness with it too.
* :func:`fgm_attack`: the fast gradient method x + ε·∇ₓL/‖∇ₓL‖₂, the first-order solution of
  max_{‖Δ‖₂ ≤ ε} L(x + Δ, y).
* :func:`pgd_attack`: projected gradient ascent (Madry et al.), several FGSM or FGM steps
  projected back onto the ε-ball, the stronger attack.
* :class:`FGM`: the article's Keras recipe in PyTorch, a perturbation of the embedding
  *matrix* along its gradient before a second backward pass, then an exact restore.
"""

from __future__ import annotations

import math
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
    _check_batch(x, y)
    eps = _validate.non_negative("eps", eps)
    clamp = _check_clamp(clamp)
    x_adv = x.detach() + eps * _input_grad(model, x, y, loss_fn).sign()
    return x_adv.clamp(*clamp) if clamp is not None else x_adv


def _check_batch(x: torch.Tensor, y: torch.Tensor) -> None:
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 1 or len(x) == 0:
        raise TypeError(
            f"x must be a non-empty floating-point tensor with a batch dimension, got {x!r:.60}"
        )
    if not torch.is_tensor(y) or len(y) != len(x):
        raise ValueError(f"y must be a tensor with one target per sample of x ({len(x)})")


def _check_clamp(clamp: tuple[float, float] | None) -> tuple[float, float] | None:
    if clamp is None:
        return None
    lo, hi = (_validate.real("clamp", v) for v in clamp)
    if not lo < hi:
        raise ValueError(f"clamp must be (lo, hi) with lo < hi, got {clamp}")
    return lo, hi


def _input_grad(model: Callable, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> torch.Tensor:
    """∇ₓ loss_fn(model(x), y) at a detached copy of x (the model's parameters get no gradient)."""
    x_in = x.detach().requires_grad_(True)
    loss = loss_fn(model(x_in), y)
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise ValueError("loss_fn must return a scalar loss")
    (grad,) = torch.autograd.grad(loss, x_in)
    return grad


def l2_unit(g: torch.Tensor) -> torch.Tensor:
    """g_i/‖g_i‖₂ for every sample i (norm over all but the first axis); 0 where g_i = 0."""
    norm = g.reshape(len(g), -1).norm(dim=1).reshape(-1, *([1] * (g.ndim - 1)))
    return torch.where(norm > 0, g / norm.clamp_min(torch.finfo(g.dtype).tiny), 0.0)


def fgm_attack(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    loss_fn: LossFn = torch.nn.functional.cross_entropy,
    clamp: tuple[float, float] | None = None,
) -> torch.Tensor:
    """x + ε·∇ₓL/‖∇ₓL‖₂ per sample (the fast gradient method), detached, optionally clipped.

    The first-order solution of max_{‖Δ‖₂ ≤ ε} L(x + Δ, y) (article eq. (3), chapter 28): for a
    loss linear in x it is exact and raises L by ε‖∇ₓL‖₂. The norm is taken per sample over
    all its entries; a sample whose gradient vanishes is left where it is.
    """
    _check_batch(x, y)
    eps = _validate.non_negative("eps", eps)
    clamp = _check_clamp(clamp)
    x_adv = x.detach() + eps * l2_unit(_input_grad(model, x, y, loss_fn))
    return x_adv.clamp(*clamp) if clamp is not None else x_adv


def pgd_attack(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = 10,
    alpha: float | None = None,
    norm: str = "linf",
    loss_fn: LossFn = torch.nn.functional.cross_entropy,
    clamp: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Projected gradient ascent on L(x + Δ, y) inside the ball ‖Δ‖ ≤ ε (Madry et al., 2018).

    From Δ = 0, ``steps`` times: Δ ← Π(Δ + α·s), with s = sign(∇ₓL) for ``norm="linf"`` (each
    step an FGSM step) or s = ∇ₓL/‖∇ₓL‖₂ per sample for ``norm="l2"`` (an FGM step), and Π
    the projection onto the ball: clipping each entry to [−ε, ε], or rescaling Δ_i by
    min(1, ε/‖Δ_i‖₂). ``alpha`` defaults to 2.5ε/steps (the paper's choice), so the iterates
    can reach the boundary and move along it. ``clamp`` keeps x + Δ in a valid range. Without a
    random start the first step is FGSM or FGM with step α. Chapter 28.
    """
    _check_batch(x, y)
    eps = _validate.non_negative("eps", eps)
    steps = _validate.positive_int("steps", steps)
    alpha = 2.5 * eps / steps if alpha is None else _validate.positive("alpha", alpha)
    _validate.choice("norm", norm, ("linf", "l2"))
    clamp = _check_clamp(clamp)
    x0 = x.detach()
    delta = torch.zeros_like(x0)
    for _ in range(steps):
        g = _input_grad(model, x0 + delta, y, loss_fn)
        if norm == "linf":
            delta = (delta + alpha * g.sign()).clamp(-eps, eps)
        else:
            delta = delta + alpha * l2_unit(g)
            size = delta.reshape(len(delta), -1).norm(dim=1).reshape(-1, *([1] * (x.ndim - 1)))
            delta = delta * torch.where(size > eps, eps / size.clamp_min(1e-30), 1.0)
        if clamp is not None:
            delta = (x0 + delta).clamp(*clamp) - x0
    return x0 + delta


class FGM:
    """Adversarial training on an embedding matrix, the article's Keras recipe in PyTorch.

    ``attack()`` adds δ = ε·g/‖g‖ to every parameter whose name contains ``param_name``, g its
    current ``.grad`` and ‖g‖ the Frobenius norm of the whole tensor (the article's
    ``delta = epsilon * grads / (norm + 1e-8)``, without the 1e-8: a parameter whose gradient
    is zero or missing is left alone); ``restore()`` puts back the exact original values.
    One training step (twice the cost of a plain one)::

        loss(model).backward()        # gradients of the clean loss, also used for the step
        fgm.attack()                  # E ← E + δ
        loss(model).backward()        # accumulate the gradient at the perturbed point
        fgm.restore()                 # E ← the stored E, bit for bit
        optimizer.step(); optimizer.zero_grad()

    To first order the step on L(E + δ) is the gradient of L + ε‖∇_E L‖ (chapter 28, §2).
    """

    def __init__(
        self, model: torch.nn.Module, param_name: str = "embedding", eps: float = 1.0
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(param_name, str) or not param_name:
            raise ValueError(f"param_name must be a non-empty string, got {param_name!r}")
        self.eps = _validate.non_negative("eps", eps)
        self.params = {
            n: p for n, p in model.named_parameters() if p.requires_grad and param_name in n
        }
        if not self.params:
            names = [n for n, _ in model.named_parameters()]
            raise ValueError(f"no trainable parameter name contains {param_name!r}; has {names}")
        self.backup: dict[str, torch.Tensor] = {}

    def attack(self) -> dict[str, float]:
        """Perturb the matching parameters along their gradients; returns each ‖g‖ used."""
        if self.backup:
            raise RuntimeError("attack() called twice without restore()")
        norms = {}
        with torch.no_grad():
            for name, p in self.params.items():
                if p.grad is None:
                    continue
                norm = float(p.grad.norm())
                norms[name] = norm
                if norm > 0 and math.isfinite(norm):
                    self.backup[name] = p.detach().clone()
                    p.add_(p.grad, alpha=self.eps / norm)
        return norms

    def restore(self) -> None:
        """Copy the values saved by :meth:`attack` back in place (no-op if nothing was moved)."""
        with torch.no_grad():
            for name, saved in self.backup.items():
                self.params[name].copy_(saved)
        self.backup = {}


#: the perturbation kinds of :func:`penalty_gradient_gap` and the penalty each matches
PENALTIES = {
    "unnormalised": "½ε‖∇ₓL‖²",
    "normalised": "ε‖∇ₓL‖₂",
    "sign": "ε‖∇ₓL‖₁",
}


def penalty_gradient_gap(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    kind: str = "normalised",
    *,
    loss_fn: LossFn = torch.nn.functional.cross_entropy,
) -> tuple[float, float]:
    """How well one-step adversarial training matches a gradient penalty: (cosine, rel. error).

    With Δ = ε·d(∇ₓL) held fixed (d = identity, g/‖g‖ per sample, or sign; no gradient
    through Δ), the θ-gradient of L(x + Δ) is ∇_θL + ∇_θ P + O(ε²), with P the penalty of
    :data:`PENALTIES` (article eqs. (5)–(8), chapter 28). Compares the two *increments*
    a = ∇_θL(x + Δ) − ∇_θL(x) and b = ∇_θP over all parameters: returns their cosine and
    ‖a − b‖/‖b‖, which is O(ε) where the second derivatives in x exist. ``loss_fn`` must
    average over the batch (``reduction="mean"``); the penalty is averaged the same way.
    """
    _check_batch(x, y)
    eps = _validate.positive("eps", eps)
    _validate.choice("kind", kind, tuple(PENALTIES))
    params = [p for p in model.parameters() if p.requires_grad]
    x_in = x.detach().requires_grad_(True)
    loss = loss_fn(model(x_in), y)
    (gx,) = torch.autograd.grad(loss * len(x), x_in, create_graph=True)  # per-sample ∇ₓL_i
    flat = gx.reshape(len(x), -1)
    penalty = {
        "unnormalised": lambda: 0.5 * eps * (flat**2).sum(1),
        "normalised": lambda: eps * flat.norm(dim=1),
        "sign": lambda: eps * flat.abs().sum(1),
    }[kind]().mean()
    clean = torch.autograd.grad(loss, params, retain_graph=True)
    b = torch.autograd.grad(penalty, params, allow_unused=True)
    g = gx.detach()
    step = {"unnormalised": lambda: g, "normalised": lambda: l2_unit(g), "sign": g.sign}[kind]()
    perturbed = torch.autograd.grad(loss_fn(model(x.detach() + eps * step), y), params)
    a = torch.cat([(p - c).reshape(-1) for p, c in zip(perturbed, clean)])
    b = torch.cat(
        [(v if v is not None else torch.zeros_like(p)).reshape(-1) for v, p in zip(b, params)]
    )
    cosine = float(a @ b / (a.norm() * b.norm()))
    return cosine, float((a - b).norm() / b.norm())
