"""How to average fan-in and fan-out when initializing a non-square matrix (chapter 13).

Article: 苏剑林, 初始化方法中非方阵的维度平均策略思考, kexue.fm/archives/8725 (2021).

A layer y = xW with W ∈ ℝ^{m×n} (m = fan-in, n = fan-out) and i.i.d. zero-mean
weights of variance t multiplies the second moment of the signal by m·t in the
forward pass and that of the gradient by n·t in the backward pass. An
initialization rule picks an "average dimension" d̄ and sets t = 1/d̄:

=============  ==========================  =========================================
kind           d̄(m, n)                     where it comes from
=============  ==========================  =========================================
``fan_in``     m                           forward second moment kept exactly
``fan_out``    n                           backward second moment kept exactly
``harmonic``   2mn/(m+n)                   average of the two variances 1/m, 1/n
``geometric``  √(mn)                       an m→n→m pair keeps both moments (article)
``arithmetic`` (m+n)/2                     Xavier/Glorot
``quadratic``  (m²+n²)/(m+n)               argmin_t (mt−1)² + (nt−1)² (article)
=============  ==========================  =========================================

The article's "quadratic" mean is the least-squares optimum, i.e. the
*contraharmonic* mean, not the root mean square √((m²+n²)/2).

PyTorch stores ``nn.Linear.weight`` as ``(out, in)``, so :func:`nonsquare_`
reads fan-in = ``weight.shape[1]`` and fan-out = ``weight.shape[0]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate, nn
from ..optimization.clipping import clip_factor

Kind = Literal["arithmetic", "geometric", "quadratic", "harmonic", "fan_in", "fan_out"]
#: Every rule :func:`average_dim` knows, from the smallest d̄ (for m < n) to the largest.
KINDS: tuple[str, ...] = ("fan_in", "harmonic", "geometric", "arithmetic", "quadratic", "fan_out")
#: The four symmetric means (d̄(m, n) = d̄(n, m)): the article's three and the harmonic mean.
MEANS: tuple[str, ...] = ("harmonic", "geometric", "arithmetic", "quadratic")
ACTIVATIONS: tuple[str, ...] = ("linear", "tanh")


def _dim(name: str, value: Any) -> int:
    return _validate.positive_int(name, value)


def average_dim(m: int, n: int, kind: Kind) -> float:
    """The average dimension d̄(m, n) of ``kind`` (m = fan-in, n = fan-out); variance = 1/d̄.

    arithmetic (m+n)/2 (Xavier) · geometric √(mn) · quadratic (m²+n²)/(m+n)
    (the least-squares optimum of the article, eq. (7)) · harmonic 2mn/(m+n) ·
    fan_in m · fan_out n. Chapter 13.
    """
    m, n = _dim("m", m), _dim("n", n)
    _validate.choice("kind", kind, KINDS)
    if kind == "arithmetic":
        return (m + n) / 2
    if kind == "geometric":
        return math.sqrt(m * n)
    if kind == "quadratic":
        return (m * m + n * n) / (m + n)
    if kind == "harmonic":
        return 2 * m * n / (m + n)
    return float(m if kind == "fan_in" else n)


def layer_gains(m: int, n: int, kind: Kind) -> tuple[float, float]:
    """(forward, backward) second-moment gains of one m→n layer: (m/d̄, n/d̄).

    Forward E[y²] = m·t·E[x²] and backward E[(∂l/∂x)²] = n·t·E[(∂l/∂y)²] with
    t = 1/d̄(m, n) (article eqs. (2) and (4)). Chapter 13.
    """
    d = average_dim(m, n, kind)
    return m / d, n / d


def pair_gain(m: int, n: int, kind: Kind) -> float:
    """Second-moment gain of an m→n→m pair, each matrix initialized by its own shape.

    The first matrix has variance 1/d̄(m, n), the second 1/d̄(n, m), so the gain is
    m·n/(d̄(m, n)·d̄(n, m)) in the forward *and* in the backward pass. For the four
    symmetric means this is the article's mn/d̄² (eq. (9)): 1 for the geometric
    mean, 4mn/(m+n)² for Xavier. For ``fan_in`` and ``fan_out`` it is exactly 1.
    Chapter 13.
    """
    return m * n / (average_dim(m, n, kind) * average_dim(n, m, kind))


def _check_dims(dims: Any) -> list[int]:
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
        raise TypeError(
            f"dims must be a sequence of layer widths such as [64, 256, 64], got {dims!r}"
        )
    if len(dims) < 2:
        raise ValueError(f"dims must hold at least 2 widths (input and output), got {list(dims)!r}")
    return [_dim(f"dims[{i}]", d) for i, d in enumerate(dims)]


def alternating_dims(m: int, n: int, pairs: int) -> list[int]:
    """Widths of a stack of ``pairs`` m→n→m pairs: [m, n, m, n, …, m] (2·pairs + 1 entries).

    Chapter 13.
    """
    m, n, pairs = _dim("m", m), _dim("n", n), _dim("pairs", pairs)
    return [m if i % 2 == 0 else n for i in range(2 * pairs + 1)]


def stack_log_gains(dims: Sequence[int], kind: Kind) -> tuple[np.ndarray, np.ndarray]:
    """Linear theory: cumulative log second-moment gains through a stack (chapter 13).

    Matrix l maps dims[l−1] → dims[l] and has variance 1/d̄(dims[l−1], dims[l]).
    Returns ``(forward, backward)``, each of length L+1 (L = len(dims) − 1):
    ``forward[k]`` = ln E[h_k²]/E[h_0²] after the first k matrices, and
    ``backward[k]`` = ln E[g²] k matrices below the top, relative to the gradient
    at the output, so ``backward[L]`` is the end-to-end backward gain.
    """
    dims = _check_dims(dims)
    _validate.choice("kind", kind, KINDS)
    fwd = [math.log(a / average_dim(a, b, kind)) for a, b in zip(dims[:-1], dims[1:])]
    bwd = [math.log(b / average_dim(a, b, kind)) for a, b in zip(dims[:-1], dims[1:])]
    return np.concatenate([[0.0], np.cumsum(fwd)]), np.concatenate([[0.0], np.cumsum(bwd[::-1])])


# ---- initialization ---------------------------------------------------------------------------
def nonsquare_(
    weight: torch.Tensor, kind: Kind, *, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Fill a weight in place with N(0, gain²/d̄(fan_in, fan_out)) and return it.

    PyTorch layout: ``weight`` has shape ``(out, in)`` as in ``nn.Linear``, so
    fan_in = ``weight.shape[1]`` and fan_out = ``weight.shape[0]``; ``kind="arithmetic"``
    with ``gain=1`` is ``torch.nn.init.xavier_normal_``. Runs under ``torch.no_grad``
    (safe on parameters). ``generator`` (a ``torch.Generator`` on the weight's device
    type) makes the draw reproducible. Chapter 13.
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(
            f"weight must be a torch.Tensor of shape (out, in), got {type(weight).__name__}"
        )
    if weight.dim() != 2:
        raise ValueError(
            f"weight must be a 2-D tensor of shape (out, in), got shape {tuple(weight.shape)}"
        )
    if not weight.is_floating_point():
        raise TypeError(
            f"weight must have a floating dtype (e.g. torch.float32), got {weight.dtype}"
        )
    if weight.numel() == 0:
        raise ValueError(f"weight must not be empty, got shape {tuple(weight.shape)}")
    _validate.choice("kind", kind, KINDS)
    gain = _validate.positive("gain", gain)
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}"
            )
        if generator.device.type != weight.device.type:
            raise ValueError(
                f"generator is on {generator.device.type!r} but weight is on "
                f"{weight.device.type!r}; allowed: a generator on the weight's device type"
            )
    fan_out, fan_in = weight.shape
    std = gain / math.sqrt(average_dim(fan_in, fan_out, kind))
    with torch.no_grad():
        weight.normal_(0.0, std, generator=generator)
    return weight


class StackedMLP(nn.StackedMLP):
    """Several independent tanh (or linear) MLPs of the same widths, run together (chapter 13).

    The shared :class:`kexue_lab.nn.StackedMLP` (one ``baddbmm`` per layer over the
    networks), with network r initialised by rule ``kinds[r]``: it is the network
    ``kexue_lab.nn.mlp(dims, activation=activation, init=lambda w: nonsquare_(w, kinds[r]))``
    would build (biases at 0, φ after every matrix but the last). Layer l's weights are one
    ``(R, in, out)`` tensor (x ↦ xW, the transpose of ``nn.Linear.weight``).
    ``forward(x)`` maps one batch ``(B, dims[0])``, shared by all networks, to logits
    ``(R, B, dims[−1])``. Because no parameter is shared, the gradient of ``loss_fn`` summed
    over the networks is each network's own gradient: training them together with
    :class:`PerNetworkSGD` is the same as training them one by one. ``generator`` alone
    draws the weights (layer by layer, then network by network), so the global stream is
    untouched.
    """

    def __init__(
        self,
        dims: Sequence[int],
        kinds: Sequence[str],
        *,
        activation: str = "tanh",
        generator: torch.Generator | None = None,
    ) -> None:
        dims = _check_dims(dims)
        if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
            raise TypeError(
                "kinds must be a non-empty list of rules such as ['geometric', 'fan_in'], "
                f"got {kinds!r}"
            )
        kinds = tuple(_validate.choice(f"kinds[{r}]", k, KINDS) for r, k in enumerate(kinds))
        activation = _validate.choice("activation", activation, ACTIVATIONS)
        # per-network seeds keep torch's global stream untouched; the weights are replaced below
        super().__init__(dims, [0] * len(kinds), activation=activation, output="linear")
        self.kinds = kinds
        with torch.no_grad():
            for weight in self.weights:
                count, a, b = weight.shape
                w = torch.empty(count, b, a)
                for r, kind in enumerate(kinds):
                    nonsquare_(w[r], kind, generator=generator)
                weight.copy_(w.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every network, shape ``(R, B, dims[−1])``, for one shared batch ``x``."""
        return super().forward(x.unsqueeze(0).expand(self.members, *x.shape))

    def grad_norms(self) -> torch.Tensor:
        """The gradient norm of each network, shape ``(R,)``."""
        total = sum(
            p.grad.square().flatten(1).sum(1) for p in self.parameters() if p.grad is not None
        )
        return torch.as_tensor(total).sqrt()

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Clip each network's gradient separately, g_r ← g_r·min(1, max_norm/‖g_r‖).

        Returns the norms ‖g_r‖ before clipping, shape ``(R,)``. The factor is
        :func:`kexue_lab.optimization.clipping.clip_factor` (hard), one per network.
        """
        max_norm = _validate.positive("max_norm", max_norm)
        norms = self.grad_norms()
        scale = clip_factor(norms, max_norm, "hard")
        for p in self.parameters():
            if p.grad is not None:
                p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))
        return norms


class PerNetworkSGD(torch.optim.SGD):
    """Plain SGD for a :class:`StackedMLP` (chapter 13).

    With ``clip_norm`` = c it first clips each network's gradient, g_r ← g_r·min(1, c/‖g_r‖).
    """

    def __init__(self, model: StackedMLP, lr: float, clip_norm: float | None = None) -> None:
        if not isinstance(model, StackedMLP):
            raise TypeError(f"model must be a StackedMLP, got {type(model).__name__}")
        super().__init__(model.parameters(), lr=_validate.positive("lr", lr))
        self.model = model
        self.clip_norm = None if clip_norm is None else _validate.positive("clip_norm", clip_norm)

    def step(self, closure: Any = None) -> Any:
        """Clip per network (if ``clip_norm``), then take the SGD step."""
        if self.clip_norm is not None:
            self.model.clip_grad_norm_(self.clip_norm)
        return super().step(closure)


# ---- Monte Carlo and mean-field propagation ----------------------------------------------------
def _phi(activation: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if activation == "linear":
        return z, torch.ones_like(z)
    h = torch.tanh(z)
    return h, 1.0 - h * h


def propagate(
    dims: Sequence[int],
    kind: Kind,
    *,
    activation: str = "linear",
    batch: int = 512,
    seeds: int = 16,
    seed: int = 0,
    device: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo: log second moments of activations and gradients through a stack (chapter 13).

    For each of ``seeds`` independent networks (weights from :func:`nonsquare_`,
    no bias), a batch of x ~ N(0, I) goes forward through h_l = φ(h_{l−1}W_lᵀ)
    (φ = identity or tanh, after every matrix), and a gradient g_L ~ N(0, I)
    goes back through g_{l−1} = (g_l ⊙ φ'(z_l)) W_l. Returns ``(forward, backward)``,
    arrays of shape ``(seeds, L+1)`` laid out as in :func:`stack_log_gains`:
    ln of the batch mean of h_k² over that of h_0², and ln of the batch mean of
    the gradient k matrices below the top over that at the top.
    """
    dims = _check_dims(dims)
    _validate.choice("kind", kind, KINDS)
    _validate.choice("activation", activation, ACTIVATIONS)
    batch, seeds = _dim("batch", batch), _dim("seeds", seeds)
    seed = _validate.non_negative_int("seed", seed)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    gen = torch.Generator(device=dev).manual_seed(seed)
    weights = []
    for a, b in zip(dims[:-1], dims[1:]):
        w = torch.empty(seeds, b, a, device=dev)
        for s in range(seeds):
            nonsquare_(w[s], kind, generator=gen)
        weights.append(w)
    h = torch.randn(seeds, batch, dims[0], generator=gen, device=dev)
    fwd = [h.square().mean((1, 2))]
    slopes = []
    for w in weights:
        h, slope = _phi(activation, torch.bmm(h, w.transpose(1, 2)))
        slopes.append(slope)
        fwd.append(h.square().mean((1, 2)))
    g = torch.randn(seeds, batch, dims[-1], generator=gen, device=dev)
    bwd = [g.square().mean((1, 2))]
    for w, slope in zip(weights[::-1], slopes[::-1]):
        g = torch.bmm(g * slope, w)
        bwd.append(g.square().mean((1, 2)))
    f = torch.stack(fwd, 1).double().log()
    b = torch.stack(bwd, 1).double().log()
    return (f - f[:, :1]).cpu().numpy(), (b - b[:, :1]).cpu().numpy()


_HERMITE = np.polynomial.hermite_e.hermegauss(80)


def _gauss(fn: Any, q: float) -> float:
    """E[fn(√q ξ)] for ξ ~ N(0, 1), by 80-point Gauss–Hermite quadrature."""
    x, w = _HERMITE
    return float(np.dot(w, fn(math.sqrt(q) * x)) / math.sqrt(2 * math.pi))


def mean_field(
    dims: Sequence[int], kind: Kind, activation: str = "linear"
) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width prediction of :func:`propagate` (same layout; chapter 13).

    Forward: q_l = dims[l−1]·t_l·p_{l−1} (pre-activation second moment),
    p_l = E[φ(√q_l ξ)²], p_0 = 1. Backward: r_{l−1} = dims[l]·t_l·E[φ'(√q_l ξ)²]·r_l
    (gradients independent of the forward pass, the usual mean-field assumption).
    For ``activation="linear"`` this is exactly :func:`stack_log_gains`.
    """
    dims = _check_dims(dims)
    _validate.choice("kind", kind, KINDS)
    _validate.choice("activation", activation, ACTIVATIONS)
    if activation == "linear":
        return stack_log_gains(dims, kind)
    p, fwd, qs = 1.0, [0.0], []
    for a, b in zip(dims[:-1], dims[1:]):
        q = a / average_dim(a, b, kind) * p
        p = _gauss(lambda z: np.tanh(z) ** 2, q)
        qs.append(q)
        fwd.append(math.log(p))
    bwd = [0.0]
    for (a, b), q in zip(list(zip(dims[:-1], dims[1:]))[::-1], qs[::-1]):
        slope2 = _gauss(lambda z: np.cosh(z) ** -4.0, q)
        bwd.append(bwd[-1] + math.log(b / average_dim(a, b, kind) * slope2))
    return np.array(fwd), np.array(bwd)
