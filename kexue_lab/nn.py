"""Building blocks that several chapters share: the one MLP builder and input gradients.

* :func:`mlp`: Linear layers with an activation between them, optional BatchNorm
  (before every Linear, "pre", or after every hidden Linear, "post"), an optional
  weight initialiser, and biases at zero (chapters 12, 13, 14, 19 and later ones).
* :func:`input_gradient_norm`: the per-sample norm ‖∇ₓ f(x)‖ of a scalar-valued
  network, the quantity behind gradient penalties, R1 and normalised critics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from . import _validate

Norm = Literal["none", "pre", "post"]
NORMS: tuple[str, ...] = ("none", "pre", "post")

#: activations by name; a module class or a zero-argument factory works too
ACTIVATIONS: dict[str, Callable[[], torch.nn.Module]] = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "gelu": torch.nn.GELU,
    "sigmoid": torch.nn.Sigmoid,
    "linear": torch.nn.Identity,
}


def _activation(activation: str | Callable[[], torch.nn.Module]) -> Callable[[], torch.nn.Module]:
    if isinstance(activation, str):
        return ACTIVATIONS[_validate.choice("activation", activation, tuple(ACTIVATIONS))]
    if callable(activation):
        return activation
    raise TypeError(
        f"activation must be a name ({', '.join(ACTIVATIONS)}) or a module factory, got "
        f"{activation!r}"
    )


def mlp(
    sizes: Sequence[int],
    *,
    activation: str | Callable[[], torch.nn.Module] = "relu",
    norm: Norm = "none",
    init: Callable[[torch.Tensor], Any] | None = None,
    flatten: bool = False,
) -> torch.nn.Sequential:
    """An MLP sizes[0] → sizes[1] → … → sizes[−1] (the last layer gives the logits).

    * ``activation``: a name (``"relu"``, ``"tanh"``, ``"gelu"``, ``"sigmoid"``, ``"linear"``)
      or a zero-argument factory such as ``lambda: GELU("tanh")``; it follows every
      Linear but the last.
    * ``norm``: ``"none"``; ``"pre"``: BatchNorm1d before every Linear, the network's input
      included (chapter 14's placement, like Pre-Norm); ``"post"``: after every hidden
      Linear, before the activation (the usual placement).
    * ``init``: called on every Linear's weight (e.g. ``torch.nn.init.kaiming_normal_``);
      ``None`` keeps PyTorch's default. Biases start at 0 either way.
    * ``flatten``: start with ``torch.nn.Flatten()`` (image inputs).

    BatchNorm draws no random numbers, so after the same ``torch.manual_seed`` every
    ``norm`` starts from the same Linear weights.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ValueError(
            f"sizes must be a sequence of at least 2 layer widths, e.g. [64, 64, 10], got {sizes!r}"
        )
    widths = [_validate.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    _validate.choice("norm", norm, NORMS)
    make_act = _activation(activation)
    if init is not None and not callable(init):
        raise TypeError(f"init must be a function of a weight tensor (or None), got {init!r}")
    layers: list[torch.nn.Module] = [torch.nn.Flatten()] if flatten else []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        if norm == "pre":
            layers.append(torch.nn.BatchNorm1d(a))
        linear = torch.nn.Linear(a, b)
        if init is not None:
            with torch.no_grad():
                init(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(widths) - 2:
            if norm == "post":
                layers.append(torch.nn.BatchNorm1d(b))
            layers.append(make_act())
    return torch.nn.Sequential(*layers)


def input_gradient_norm(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    create_graph: bool = False,
    keep_input_graph: bool = False,
    return_output: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """‖∇ₓ f(x_i)‖₂ for every sample i of the batch ``x`` (shape (N, …) → (N,)).

    ``f`` maps the batch to one score per sample (shape (N,) or (N, 1)); samples must
    not interact inside ``f`` (no BatchNorm in training mode), so that the gradient of
    Σᵢ f(xᵢ) with respect to xᵢ is ∇f(xᵢ). ``create_graph=True`` keeps the graph, so a
    penalty built from the norm can be trained through (gradient penalties, R1).

    By default ``x`` is detached first (a penalty at real or interpolated points needs no
    path back to whatever made ``x``). ``keep_input_graph=True`` differentiates at ``x``
    itself, so with ``create_graph=True`` the norm stays a function of ``x`` and a
    generator that produced ``x`` trains through it (gradient-normalised critics,
    chapter 10). ``return_output=True`` returns ``(norm, f(x))`` with ``f(x)`` flattened to
    shape (N,), so a caller needing both evaluates ``f`` once.
    """
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 1 or len(x) == 0:
        raise TypeError(
            "x must be a non-empty floating-point tensor with a batch dimension, got "
            f"{type(x).__name__}"
        )
    if not callable(f):
        raise TypeError(f"f must be callable (a model or function), got {f!r}")
    if not (keep_input_graph and x.requires_grad):
        x = x.detach().requires_grad_(True)
    out = f(x)
    if not torch.is_tensor(out) or out.shape[0] != len(x) or out.numel() != len(x):
        raise ValueError(
            f"f must return one score per sample, shape ({len(x)},) or ({len(x)}, 1), got "
            f"{tuple(getattr(out, 'shape', ()))}"
        )
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=create_graph)
    norm = grad.reshape(len(x), -1).norm(dim=1)
    return (norm, out.reshape(len(x))) if return_output else norm
