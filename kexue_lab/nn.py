"""Building blocks that several chapters share: the one MLP builder and input gradients.

* :func:`mlp`: Linear layers with an activation between them, optional BatchNorm
  (before every Linear, "pre", or after every hidden Linear, "post"), an optional
  weight initialiser, and biases at zero (chapters 12, 13, 14, 19 and later ones).
* :func:`input_gradient_norm`: the per-sample norm ‖∇ₓ f(x)‖ of a scalar-valued
  network (of the sum of its outputs otherwise), behind gradient penalties, R1 and
  normalised critics.
* :func:`parameter_gradient_norm`: ‖∇_θ L‖ of a loss, differentiable, for gradient-norm
  penalties on the parameters (chapters 25, 27, 28).
* :class:`StackedMLP`: S independent MLPs run as one batched module, one ``baddbmm`` per
  layer, optionally spectrally normalised per member (chapters 10 and 11).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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

    ``f`` maps the batch to one score per sample (shape (N,) or (N, 1); for several outputs
    (N, k) the gradient is that of their sum, as for a classifier's logits); samples must
    not interact inside ``f`` (no BatchNorm in training mode), so that the gradient of
    Σᵢ f(xᵢ) with respect to xᵢ is ∇f(xᵢ). ``create_graph=True`` keeps the graph, so a
    penalty built from the norm can be trained through (gradient penalties, R1).

    By default ``x`` is detached first (a penalty at real or interpolated points needs no
    path back to whatever made ``x``). ``keep_input_graph=True`` differentiates at ``x``
    itself, so with ``create_graph=True`` the norm stays a function of ``x`` and a
    generator that produced ``x`` trains through it (gradient-normalised critics,
    chapter 10). ``return_output=True`` returns ``(norm, score)``, ``score`` the per-sample f(x)
    (summed over outputs) of shape (N,), so a caller needing both evaluates ``f`` once.
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
    if not torch.is_tensor(out) or out.ndim < 1 or out.shape[0] != len(x) or out.numel() == 0:
        raise ValueError(
            f"f must return one score (or one row of scores) per sample, shape ({len(x)},) or "
            f"({len(x)}, k), got {tuple(getattr(out, 'shape', ()))}"
        )
    score = out.reshape(len(x), -1).sum(dim=1)
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=create_graph)
    norm = grad.reshape(len(x), -1).norm(dim=1)
    return (norm, score) if return_output else norm


def parameter_gradient_norm(
    loss: torch.Tensor,
    params: Iterable[torch.Tensor],
    *,
    create_graph: bool = True,
    squared: bool = False,
) -> torch.Tensor:
    """‖∇_θ L‖₂ over all of ``params`` together (one scalar), or its square with ``squared=True``.

    The gradient-norm penalty that flooding's two-step reading (chapter 25), the inequality
    between input and parameter gradients (chapter 27) and gradient-penalty views of adversarial
    training (chapter 28) share. ``create_graph=True`` (the default) keeps the graph, so
    ``loss + λ·parameter_gradient_norm(loss, params, squared=True)`` trains by double
    backpropagation. Parameters the loss does not reach count as zero gradient.
    """
    if not torch.is_tensor(loss) or loss.numel() != 1 or not loss.requires_grad:
        raise ValueError(
            "loss must be a scalar tensor that requires grad, got "
            f"{type(loss).__name__} of shape {tuple(getattr(loss, 'shape', ()))}"
        )
    params = [p for p in params]
    if not params or not all(torch.is_tensor(p) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty iterable of tensors that require grad")
    grads = torch.autograd.grad(
        loss.reshape(()), params, create_graph=create_graph, allow_unused=True
    )
    sq = sum(((g * g).sum() for g in grads if g is not None), loss.new_zeros(()))
    return sq if squared else sq.sqrt()


#: the activations of :class:`StackedMLP`, applied to the stacked tensor (S, B, width)
STACKED_ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu", "tanh", "sigmoid", "linear")


def _stacked_act(name: str, slope: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return {
        "relu": torch.relu,
        "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, slope),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "linear": lambda t: t,
    }[name]


def _act_module(name: str, slope: float) -> torch.nn.Module:
    if name == "leaky_relu":
        return torch.nn.LeakyReLU(slope)
    return ACTIVATIONS[name]()


class StackedMLP(torch.nn.Module):
    """S independent MLPs sizes[0] → … → sizes[−1], evaluated as one batched module.

    Member s has its own weights W⁽ˡ⁾ₛ ∈ ℝ^{a×b} and biases b⁽ˡ⁾ₛ, and every layer is one
    ``torch.baddbmm`` over the members:

        h⁽ˡ⁺¹⁾ₛ = φ(h⁽ˡ⁾ₛ W⁽ˡ⁾ₛ / σ⁽ˡ⁾ₛ + b⁽ˡ⁾ₛ),   σ⁽ˡ⁾ₛ = σ_max(W⁽ˡ⁾ₛ) if ``spectral[s]`` else 1,

    with φ = ``activation`` after every hidden layer and ``output`` after the last. The
    members never interact: a loss that is a sum (or mean) of the members' losses gives each
    member exactly the gradient of its own, and Adam steps element-wise, so one training run
    trains S seeds at once (chapter 10: GN/GraN critics; chapter 11: R1 and spectral
    normalisation). The input is either flat, (S·B, sizes[0]) with rows s·B … (s+1)·B − 1
    for member s, returning (S·B, sizes[−1]) (so it works with ``gan_train.fit_gan``,
    ``gan.normalized_critic`` and :func:`input_gradient_norm`), or stacked, (S, B, sizes[0])
    → (S, B, sizes[−1]).

    * ``seeds``: an int S draws the S members from torch's global generator (call
      ``torch.manual_seed`` first); a sequence of S seeds draws member s from its own
      generator seeded with ``seeds[s]`` alone, so equal seeds give equal members whatever
      the other members are. Weights are uniform in ±1/√fan_in, like ``torch.nn.Linear``;
      ``bias="zero"`` starts the biases at 0, as in :func:`mlp` (chapter 11), ``"uniform"``
      draws them like ``torch.nn.Linear``, each layer's right after its weights (chapter 10).
    * ``activation``, ``output``: ``"relu"``, ``"leaky_relu"`` (slope ``negative_slope``),
      ``"tanh"``, ``"sigmoid"``, ``"linear"``.
    * ``spectral[s]``: spectral normalisation of every layer of member s (Miyato et al.,
      ICLR 2018): in training mode each forward pass runs one power iteration
      ṽ ← Wũ/‖Wũ‖, ũ ← Wᵀṽ/‖Wᵀṽ‖ per member and layer with ũ carried over (a buffer), as
      ``torch.nn.utils.parametrizations.spectral_norm`` does; eval mode freezes ũ. With
      per-member seeds ũ starts random, drawn after the layer's weights and biases; with an
      int count it starts at (1, …, 1)/√b, so that the global generator only draws weights
      and biases (as consecutive ``torch.nn.Linear`` layers would).

    :meth:`member` exports member s as a ``torch.nn.Sequential`` (with 1/σ baked into its
    weights) and :meth:`sigma` gives the exact spectral norms of the effective weights.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        seeds: int | Sequence[int],
        *,
        activation: str = "relu",
        negative_slope: float = 0.2,
        output: str = "linear",
        spectral: Sequence[bool] | None = None,
        bias: str = "zero",
    ) -> None:
        super().__init__()
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(f"sizes must be a sequence of at least 2 widths, got {sizes!r}")
        self.sizes = [_validate.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        if isinstance(seeds, Sequence) and not isinstance(seeds, (str, bytes)):
            if len(seeds) == 0:
                raise ValueError("seeds must name at least one member, got an empty sequence")
            gens: list[torch.Generator | None] = [
                torch.Generator().manual_seed(_validate.non_negative_int(f"seeds[{s}]", v))
                for s, v in enumerate(seeds)
            ]
        else:
            gens = [None] * _validate.positive_int("seeds (a member count)", seeds)
        m = len(gens)
        self.activation = _validate.choice("activation", activation, STACKED_ACTIVATIONS)
        self.output = _validate.choice("output", output, STACKED_ACTIVATIONS)
        self.negative_slope = _validate.in_range("negative_slope", negative_slope, 0.0, 1.0)
        self.bias = _validate.choice("bias", bias, ("zero", "uniform"))
        self._act = _stacked_act(self.activation, self.negative_slope)
        self._out = _stacked_act(self.output, self.negative_slope)
        if spectral is not None and (isinstance(spectral, str) or len(spectral) != m):
            raise ValueError(f"spectral must hold one flag per member ({m}), got {spectral!r}")
        self.register_buffer("spectral", torch.tensor([bool(f) for f in spectral or [0] * m]))
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            bound = 1 / math.sqrt(a)
            w = torch.stack([(torch.rand(a, b, generator=g) * 2 - 1) * bound for g in gens])
            if self.bias == "uniform":
                c = torch.stack([(torch.rand(1, b, generator=g) * 2 - 1) * bound for g in gens])
            else:
                c = torch.zeros(m, 1, b)
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(c))
            if gens[0] is None:  # keep the global stream that of the weights (and biases)
                u = torch.ones(m, b)
            else:
                u = torch.stack([torch.randn(b, generator=g) for g in gens])
            self.register_buffer(f"u{i}", torch.nn.functional.normalize(u, dim=1))

    @property
    def members(self) -> int:
        """S, the number of networks."""
        return len(self.spectral)

    def _weight(self, i: int, w: torch.Tensor) -> torch.Tensor:
        """Layer i's effective weights (S, a, b): W/σ(W) for the spectral members."""
        if not bool(self.spectral.any()):
            return w
        u = getattr(self, f"u{i}")  # (S, b); x ↦ xW, so torch's matrix is Wᵀ
        with torch.no_grad():
            if self.training:  # one power iteration per forward pass, ũ carried over
                v = torch.nn.functional.normalize(torch.einsum("sab,sb->sa", w, u), dim=1)
                u = torch.nn.functional.normalize(torch.einsum("sab,sa->sb", w, v), dim=1)
                getattr(self, f"u{i}").copy_(u)
            v = torch.nn.functional.normalize(torch.einsum("sab,sb->sa", w, u), dim=1)
        sigma = torch.einsum("sa,sab,sb->s", v, w, u)
        scale = torch.where(self.spectral, sigma, torch.ones_like(sigma))
        return w / scale[:, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, d = self.members, self.sizes[0]
        flat = x.ndim == 2
        if not (flat and len(x) % m == 0 or x.ndim == 3 and len(x) == m) or x.shape[-1] != d:
            raise ValueError(
                f"x must have shape (S·B, {d}) or (S, B, {d}) with S = {m}, got {tuple(x.shape)}"
            )
        h = x.reshape(m, -1, d)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, self._weight(i, w))
            h = self._out(h) if i == last else self._act(h)
        return h.reshape(len(x), -1) if flat else h

    def member(self, s: int) -> torch.nn.Sequential:
        """Member ``s`` as a ``torch.nn.Sequential`` (a copy; spectral scaling baked in)."""
        s = _validate.non_negative_int("s", s)
        if s >= self.members:
            raise ValueError(f"s must be < members = {self.members}, got {s}")
        layers: list[torch.nn.Module] = []
        was = self.training
        self.eval()  # read σ from the current ũ without a power iteration
        with torch.no_grad():
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                lin = torch.nn.Linear(w.shape[1], w.shape[2]).to(w.device)
                lin.weight.copy_(self._weight(i, w)[s].T)
                lin.bias.copy_(b[s, 0])
                layers.append(lin)
                name = self.output if i == len(self.weights) - 1 else self.activation
                if name != "linear":
                    layers.append(_act_module(name, self.negative_slope))
        self.train(was)
        return torch.nn.Sequential(*layers)

    def sigma(self) -> torch.Tensor:
        """Exact largest singular value of every member's effective weights, (layers, S)."""
        was = self.training
        self.eval()
        with torch.no_grad():
            out = [
                torch.linalg.matrix_norm(self._weight(i, w), ord=2)
                for i, w in enumerate(self.weights)
            ]
        self.train(was)
        return torch.stack(out)
