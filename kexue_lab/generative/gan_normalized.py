"""Chapter 10 (kexue.fm/archives/8757, "WGAN的梯度归一化"): linear regions and stacked GANs.

The normalised critics themselves are :func:`kexue_lab.generative.gan.normalized_critic`.
This module holds what chapter 10 needs around them:

* :func:`region_gradient_norm`: the closed-form gradient norm of D̂ inside one linear region
  of a piecewise-linear critic (D = wᵀx + b there, g = ‖w‖ constant):

      GN:   ‖∇D̂‖ = g² / (g + |D|)²        GraN: ‖∇D̂‖ = g² / (g² + ε);

* :func:`activation_pattern`: which hidden units of a ReLU/LeakyReLU MLP are on at each
  input; two inputs with the same pattern lie in the same linear region;
* :class:`StackedMLP`: S independent MLPs evaluated in one batched call, so that a GAN
  experiment trains several seeds at the cost of one (member s sees rows s·B … (s+1)·B − 1
  of a batch of S·B rows; Adam updates every parameter element-wise, so the members do not
  interact).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

from .. import _validate

__all__ = ["StackedMLP", "activation_pattern", "region_gradient_norm"]

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


class StackedMLP(torch.nn.Module):
    """S independent MLPs ``sizes[0] → … → sizes[-1]`` run as one batched module.

    The input has shape (S·B, sizes[0]): rows s·B … (s+1)·B − 1 go to member s, and the
    output has shape (S·B, sizes[-1]). Each member is initialised like ``torch.nn.Linear``
    (weights and biases uniform in ±1/√fan_in) from ``torch``'s global generator.
    ``negative_slope`` = 0 gives ReLU, 0.2 the LeakyReLU of GAN critics.
    :meth:`member` returns member s as an ordinary ``torch.nn.Sequential``.
    """

    def __init__(self, members: int, sizes: Sequence[int], *, negative_slope: float = 0.0):
        super().__init__()
        self.members = _validate.positive_int("members", members)
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(f"sizes must be a sequence of at least 2 widths, got {sizes!r}")
        self.sizes = [_validate.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        self.negative_slope = _validate.in_range("negative_slope", negative_slope, 0.0, 1.0)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            bound = 1 / math.sqrt(a)
            self.weights.append(torch.nn.Parameter((torch.rand(members, a, b) * 2 - 1) * bound))
            self.biases.append(torch.nn.Parameter((torch.rand(members, 1, b) * 2 - 1) * bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, width = x.shape
        if width != self.sizes[0] or rows % self.members:
            raise ValueError(
                f"x must have shape (S·B, {self.sizes[0]}) with S = {self.members}, "
                f"got {tuple(x.shape)}"
            )
        h = x.reshape(self.members, rows // self.members, width)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.nn.functional.leaky_relu(h, self.negative_slope)
        return h.reshape(rows, self.sizes[-1])

    def member(self, s: int) -> torch.nn.Sequential:
        """Member ``s`` as a ``torch.nn.Sequential`` of Linear layers (a copy of its weights)."""
        s = _validate.non_negative_int("s", s)
        if s >= self.members:
            raise ValueError(f"s must be < members = {self.members}, got {s}")
        layers: list[torch.nn.Module] = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            lin = torch.nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[s].T)
                lin.bias.copy_(b[s, 0])
            layers.append(lin)
            if i < len(self.weights) - 1:
                layers.append(torch.nn.LeakyReLU(self.negative_slope))
        return torch.nn.Sequential(*layers)
