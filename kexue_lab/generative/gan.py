"""Gradient-normalised critics and the R1 penalty: GAN regularisers built on ‖∇ₓD‖.

Chapter 10 (kexue.fm/archives/8757, "WGAN的梯度归一化") divides a critic D by its own
input-gradient norm g(x) = ‖∇ₓD(x)‖, so that inside every linear region of a
piecewise-linear D (ReLU, LeakyReLU) the normalised critic D̂ has gradient norm ≤ 1.
Two guards against division by zero (post eqs. 5 and 6):

    GN   (Wu et al., ICCV 2021):        D̂ = D / (g + |D|)            ∈ (−1, 1),
    GraN (Bhaskara et al., WACV 2022):  D̂ = D·g / (g² + ε).

Treating g as constant inside a linear region (D = wᵀx + b, g = ‖w‖), the chain rule gives

    GN:   ∇D̂ = g/(g + |D|)² · ∇D,   ‖∇D̂‖ = g²/(g + |D|)² ≤ 1  (= 1 only where D = 0),
    GraN: ∇D̂ = g/(g² + ε) · ∇D,     ‖∇D̂‖ = g²/(g² + ε) < 1.

Across region boundaries g jumps, so D̂ is only piecewise 1-Lipschitz. D̂ contains ∇D,
so the graph of the gradient is kept (``create_graph=True``): both the critic and the
generator train through a double backward.

Chapter 11 (kexue.fm/archives/6240, "GAN学习清单") lists Mescheder et al. (ICML 2018),
whose zero-centred penalty on real data is

    R1(ψ) = γ/2 · E_{x∼p_d} ‖∇ₓD_ψ(x)‖²    (for D = wᵀx + b: R1 = γ/2 ‖w‖²).

The per-sample norm g is :func:`kexue_lab.nn.input_gradient_norm`, the one home of that
formula. D must treat the samples independently (no BatchNorm in training mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch

from .. import _validate
from ..nn import input_gradient_norm

__all__ = ["MODES", "normalized_critic", "r1_penalty"]

Mode = Literal["gn", "gran"]
#: the normalisations of :func:`normalized_critic`
MODES: tuple[str, ...] = ("gn", "gran")

Critic = Callable[[torch.Tensor], torch.Tensor]


def _batch(name: str, value: Any) -> torch.Tensor:
    """Check that ``value`` is a non-empty floating-point tensor with a batch dimension."""
    if not torch.is_tensor(value):
        raise TypeError(
            f"{name} must be a torch tensor of shape (B, ...), got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {value.dtype}; "
            "convert it with .float()"
        )
    if value.ndim < 1 or len(value) == 0:
        raise ValueError(
            f"{name} must have a batch dimension with at least one sample, "
            f"got shape {tuple(value.shape)}"
        )
    return value


def _critic(D: Any) -> Critic:
    if not callable(D):
        raise TypeError(f"D must be callable (a model or function of x), got {D!r}")
    return D


def _one_score_per_sample(D: Critic, batch: int) -> Critic:
    """Wrap ``D`` so that a wrong output shape raises an error naming ``D``."""

    def scored(t: torch.Tensor) -> torch.Tensor:
        out = D(t)
        if not torch.is_tensor(out) or out.numel() != batch or out.shape[:1] != (batch,):
            got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ValueError(
                f"D must return one score per sample, shape ({batch},) or ({batch}, 1), got {got}"
            )
        return out

    return scored


def normalized_critic(
    D: Critic, x: torch.Tensor, mode: Mode = "gn", eps: float = 1e-4
) -> torch.Tensor:
    """The gradient-normalised critic D̂(x) for every sample of ``x`` (shape (B, …) → (B,)).

    * ``mode="gn"`` (chapter 10, eq. 5; GN-GAN): D̂ = D / (‖∇ₓD‖ + |D|), which lies in
      (−1, 1) wherever ∇ₓD ≠ 0.
    * ``mode="gran"`` (chapter 10, eq. 6; GraN-GAN): D̂ = D‖∇ₓD‖ / (‖∇ₓD‖² + ε), ε = ``eps``.

    ‖∇ₓD‖ is :func:`kexue_lab.nn.input_gradient_norm` with ``create_graph=True``, and it
    stays attached to ``x``: D̂ is differentiable with respect to D's parameters and to
    ``x`` (so a generator producing ``x`` trains through it). ``D`` maps the batch to one
    score per sample, shape (B,) or (B, 1), and must not mix samples (no BatchNorm in
    training mode). ``eps`` must be > 0 (it is only used by ``"gran"``).
    """
    _validate.choice("mode", mode, MODES)
    eps = _validate.positive("eps", eps)
    x = _batch("x", x)
    scored = _one_score_per_sample(_critic(D), len(x))
    # keep_input_graph: differentiate at x itself, so that D̂ stays a function of x (the
    # path through g, the Hessian of D, included) and a generator trains through it.
    g, d = input_gradient_norm(
        scored, x, create_graph=True, keep_input_graph=True, return_output=True
    )
    if mode == "gn":
        return d / (g + d.abs())
    return d * g / (g.square() + eps)


def r1_penalty(D: Critic, x_real: torch.Tensor, gamma: float | torch.Tensor) -> torch.Tensor:
    """Mescheder et al.'s R1 = γ/2 · mean over the batch of ‖∇ₓD(x)‖² (chapter 11, eq. 2).

    ``x_real`` is a batch of real samples (shape (B, …)), ``D`` maps it to one score per
    sample (shape (B,) or (B, 1)) without mixing samples, and ``gamma`` ≥ 0. The gradient
    norm is :func:`kexue_lab.nn.input_gradient_norm` with ``create_graph=True``, so the
    returned scalar can be added to the critic's loss and trained through. For a linear
    critic D(x) = wᵀx + b it equals γ/2 ‖w‖² whatever the data.

    ``gamma`` may also be a tensor of shape (B,), one weight γ_b ≥ 0 per sample: the penalty
    is then mean_b γ_b/2 ‖∇ₓD(x_b)‖². With a :class:`kexue_lab.nn.StackedMLP` critic of S
    members and γ_b = γₛ on member s's rows, S times it is Σₛ γₛ/2 mean_b ‖∇ₓD⁽ˢ⁾(x_b)‖²,
    a different R1 weight per member (0: off) in one training run (chapter 11).
    """
    x_real = _batch("x_real", x_real)
    if torch.is_tensor(gamma):
        if gamma.shape != (len(x_real),) or not gamma.is_floating_point():
            raise ValueError(
                f"gamma must be a number or a float tensor of shape ({len(x_real)},), one "
                f"weight per sample, got {gamma.dtype} of shape {tuple(gamma.shape)}"
            )
        if not bool(torch.isfinite(gamma).all()) or bool((gamma < 0).any()):
            raise ValueError("gamma must be finite and >= 0 for every sample")
    else:
        gamma = _validate.non_negative("gamma", gamma)
    scored = _one_score_per_sample(_critic(D), len(x_real))
    g = input_gradient_norm(scored, x_real, create_graph=True)
    return 0.5 * (gamma * g.square()).mean()
