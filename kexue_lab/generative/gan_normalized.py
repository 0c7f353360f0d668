"""Chapter 10 (kexue.fm/archives/8757, "WGAN的梯度归一化"): the linear regions of a critic.

The normalised critics themselves are :func:`kexue_lab.generative.gan.normalized_critic`.
This module holds what chapter 10 needs around them:

* :func:`region_gradient_norm`: the closed-form gradient norm of D̂ inside one linear region
  of a piecewise-linear critic (D = wᵀx + b there, g = ‖w‖ constant):

      GN:   ‖∇D̂‖ = g² / (g + |D|)²        GraN: ‖∇D̂‖ = g² / (g² + ε);

* :func:`activation_pattern`: which hidden units of a ReLU/LeakyReLU MLP are on at each
  input; two inputs with the same pattern lie in the same linear region.

The stacked networks that train several seeds in one run are :class:`kexue_lab.nn.StackedMLP`.
"""

from __future__ import annotations

from typing import Literal

import torch

from .. import _validate

__all__ = ["activation_pattern", "region_gradient_norm"]

Mode = Literal["gn", "gran"]


def region_gradient_norm(
    d: torch.Tensor, g: torch.Tensor, mode: Mode = "gn", eps: float = 1e-4
) -> torch.Tensor:
    """‖∇ₓD̂‖ inside a linear region where D = ``d`` and ‖∇ₓD‖ = ``g`` (chapter 10, §2).

    ``mode="gn"`` (D̂ = D/(g + |D|)): g²/(g + |D|)², at most 1, equal to 1 only where D = 0.
    ``mode="gran"`` (D̂ = Dg/(g² + ε)): g²/(g² + ε) < 1, independent of D.
    ``d`` and ``g`` are tensors of the same shape, ``g`` ≥ 0; ``eps`` > 0.
    """
    _validate.choice("mode", mode, ("gn", "gran"))
    eps = _validate.positive("eps", eps)
    if not (torch.is_tensor(d) and torch.is_tensor(g)) or d.shape != g.shape:
        raise ValueError(
            "d and g must be tensors of the same shape, got "
            f"{getattr(d, 'shape', type(d).__name__)} and {getattr(g, 'shape', type(g).__name__)}"
        )
    if bool((g < 0).any()):
        raise ValueError(f"g is a norm and must be >= 0, got min {float(g.min())}")
    if mode == "gn":
        return g.square() / (g + d.abs()).square()
    return g.square() / (g.square() + eps)


def activation_pattern(model: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The on/off pattern of every hidden unit of an MLP at each input, shape (N, units).

    ``model`` is a ``torch.nn.Sequential`` of ``Linear`` layers with piecewise-linear
    activations (ReLU, LeakyReLU) between them, as :func:`kexue_lab.nn.mlp` builds. Entry
    (i, j) is True when hidden pre-activation j is > 0 at ``x[i]``. Inside one linear region
    of the network the pattern is constant, and D is affine there (chapter 10, §1).
    """
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(f"model must be a torch.nn.Sequential MLP, got {type(model).__name__}")
    if not torch.is_tensor(x) or x.ndim != 2 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of shape (N, d), got {getattr(x, 'shape', x)}")
    layers = list(model)
    linear = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.Linear)]
    if not linear:
        raise ValueError("model has no Linear layer")
    signs = []
    h = x
    with torch.no_grad():
        for i, layer in enumerate(layers):
            h = layer(h)
            if i in linear[:-1]:
                signs.append(h > 0)
    if not signs:
        return torch.zeros(len(x), 0, dtype=torch.bool)
    return torch.cat(signs, dim=1)
