"""Gradients through time in RNN, LSTM and GRU cells (chapter 15, kexue.fm/archives/7888).

The gradient of a recurrent network is itself a linear recurrence,

    dh_t/dθ = (∂h_t/∂h_{t−1}) dh_{t−1}/dθ + ∂h_t/∂θ,

so a signal from step k reaches step t multiplied by the product of the step
Jacobians J_{k+1} ⋯ J_t. Whether long-range gradients vanish or explode is the
question of how the norm of that product behaves. This module holds

* the closed-form step Jacobians of PyTorch's three cells
  (:func:`step_jacobian`), tested against ``torch.autograd``;
* the spectral norms ‖∂s_t/∂s_0‖₂ of their products (:func:`jacobian_norms`, :func:`init_cell`);
* the gates of a one-layer LSTM along a batch (:func:`lstm_gates`);
* the sup over U of the SimpleRNN factor |U|·sech²(a + U·h) (:func:`tanh_gain_sup`);
* a long-range memory task, "remember the first token" (:func:`first_token_task`,
  :class:`SequenceClassifier`), including the article's own GRU/LSTM hybrid
  (:class:`ProposedRNN`, the article's eq. (14)).

The chapter's explorations live in :mod:`kexue_lab.views.ch15`. PyTorch's GRU differs
from the article's: it keeps the old state with the update gate (h' = (1 − z)∘n + z∘h)
and applies the reset gate after the recurrent matrix (n = tanh(W_in x + b_in + r∘(W_hn h + b_hn))).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch

from .. import _validate

CELL_TYPES: tuple[type, ...] = (torch.nn.RNNCell, torch.nn.LSTMCell, torch.nn.GRUCell)
CellKind = Literal["rnn", "relu-rnn", "lstm", "gru"]
CELL_KINDS: tuple[str, ...] = ("rnn", "relu-rnn", "lstm", "gru")
ModelKind = Literal["rnn", "lstm", "gru", "proposed"]
MODEL_KINDS: tuple[str, ...] = ("rnn", "lstm", "gru", "proposed")

State = Any  # a tensor h, or a tuple (h, c) for an LSTM cell


# ---- cells and their step Jacobians -------------------------------------------------------------
def _check_cell(cell: Any) -> None:
    if not isinstance(cell, CELL_TYPES):
        names = "torch.nn.RNNCell, torch.nn.LSTMCell or torch.nn.GRUCell"
        raise TypeError(f"cell must be a {names}, got {type(cell).__name__}")


def _weights(cell: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """float64 copies of W_ih, W_hh, b_ih, b_hh (zeros when the cell has no bias)."""
    w_ih = cell.weight_ih.detach().to("cpu", torch.float64)
    w_hh = cell.weight_hh.detach().to("cpu", torch.float64)
    if cell.bias:
        b_ih = cell.bias_ih.detach().to("cpu", torch.float64)
        b_hh = cell.bias_hh.detach().to("cpu", torch.float64)
    else:
        b_ih = torch.zeros(w_ih.shape[0], dtype=torch.float64)
        b_hh = torch.zeros(w_hh.shape[0], dtype=torch.float64)
    return w_ih, w_hh, b_ih, b_hh


def _vector(name: str, value: Any, size: int) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise TypeError(
            f"{name} must be a torch tensor of shape ({size},), got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if tuple(value.shape) != (size,):
        raise ValueError(
            f"{name} must have shape ({size},) (one unbatched vector), got {tuple(value.shape)}"
        )
    out = value.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} must be finite, got non-finite entries")
    return out


def _state(cell: Any, hidden: State | None) -> tuple[torch.Tensor, ...]:
    """The initial state as float64 vectors: (h,) or (h, c) for an LSTM; zeros for ``None``."""
    n = cell.hidden_size
    if isinstance(cell, torch.nn.LSTMCell):
        if hidden is None:
            return torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        if not isinstance(hidden, (tuple, list)) or len(hidden) != 2:
            raise TypeError(
                f"hidden must be None or a tuple (h0, c0) of two tensors of shape ({n},) "
                f"for an LSTMCell, got {type(hidden).__name__}"
            )
        return _vector("hidden[0] (h0)", hidden[0], n), _vector("hidden[1] (c0)", hidden[1], n)
    if hidden is None:
        return (torch.zeros(n, dtype=torch.float64),)
    return (_vector("hidden", hidden, n),)


def step_jacobian(cell: Any, x: torch.Tensor, hidden: State) -> tuple[State, torch.Tensor]:
    """One step of ``cell`` and its Jacobian with respect to the previous state, in closed form.

    Unbatched and in float64. ``x`` has shape (input_size,); ``hidden`` is h of shape
    (hidden_size,), or (h, c) for an LSTM. Returns the new state (same structure) and
    J = ∂s_t/∂s_{t−1}:

    * ``RNNCell``, h' = φ(W_ih x + b_ih + W_hh h + b_hh):  J = diag(φ′)·W_hh, with
      φ′ = 1 − h'² for tanh and 1[pre-activation > 0] for ReLU (article eq. (6));
    * ``GRUCell`` (PyTorch form, see the module docstring), with U_r, U_z, U_n the blocks of W_hh:
      J = diag(z) + diag((h − n)∘z∘(1−z))·U_z
      + diag((1−z)∘(1−n²))·[diag(r)·U_n + diag((U_n h + b_hn)∘r∘(1−r))·U_r];
    * ``LSTMCell``, the joint state s = (h, c), J of size 2n × 2n with blocks
      ∂c'/∂c = diag(f), ∂c'/∂h = diag(c∘f(1−f))U_f + diag(g∘i(1−i))U_i + diag(i∘(1−g²))U_g,
      ∂h'/∂h = diag(tanh c'∘o(1−o))U_o + diag(o∘(1−tanh²c'))·∂c'/∂h,
      ∂h'/∂c = diag(o∘(1−tanh²c')∘f).
    """
    _check_cell(cell)
    w_ih, w_hh, b_ih, b_hh = _weights(cell)
    x = _vector("x", x, cell.input_size)
    state = _state(cell, hidden)
    return _step(cell, w_ih, w_hh, b_ih, b_hh, x, state)


def _step(
    cell: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, x: Any, state: tuple
) -> tuple[State, torch.Tensor]:
    gi = w_ih @ x + b_ih
    if isinstance(cell, torch.nn.RNNCell):
        (h,) = state
        pre = gi + w_hh @ h + b_hh
        if cell.nonlinearity == "tanh":
            h_new = torch.tanh(pre)
            slope = 1 - h_new**2
        else:
            h_new = torch.relu(pre)
            slope = (pre > 0).to(pre.dtype)
        return h_new, slope[:, None] * w_hh
    if isinstance(cell, torch.nn.GRUCell):
        (h,) = state
        gh = w_hh @ h + b_hh
        i_r, i_z, i_n = gi.chunk(3)
        h_r, h_z, h_n = gh.chunk(3)
        u_r, u_z, u_n = w_hh.chunk(3)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h_new = (1 - z) * n + z * h
        dn = (1 - z) * (1 - n**2)
        jac = torch.diag(z) + ((h - n) * z * (1 - z))[:, None] * u_z
        jac = jac + dn[:, None] * (r[:, None] * u_n + (h_n * r * (1 - r))[:, None] * u_r)
        return h_new, jac
    h, c = state
    gates = gi + w_hh @ h + b_hh
    a_i, a_f, a_g, a_o = gates.chunk(4)
    u_i, u_f, u_g, u_o = w_hh.chunk(4)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c_new = f * c + i * g
    tc = torch.tanh(c_new)
    h_new = o * tc
    dc_dh = (
        (c * f * (1 - f))[:, None] * u_f
        + (g * i * (1 - i))[:, None] * u_i
        + (i * (1 - g**2))[:, None] * u_g
    )
    dc_dc = torch.diag(f)
    out = o * (1 - tc**2)
    dh_dh = (tc * o * (1 - o))[:, None] * u_o + out[:, None] * dc_dh
    dh_dc = torch.diag(out * f)
    jac = torch.cat([torch.cat([dh_dh, dh_dc], 1), torch.cat([dc_dh, dc_dc], 1)], 0)
    return (h_new, c_new), jac


def jacobian_norms(cell: Any, steps: int, hidden: State | None = None, seed: int = 0) -> np.ndarray:
    """Spectral norms ‖∂s_t/∂s_0‖₂ = ‖J_t J_{t−1} ⋯ J_1‖₂ for t = 1..``steps`` (chapter 15).

    ``cell`` is a ``torch.nn.RNNCell`` (tanh or ReLU), ``LSTMCell`` or ``GRUCell``; its
    weights are read (copied to float64), never changed. The inputs x_1..x_steps are
    i.i.d. N(0, 1) vectors of size ``cell.input_size`` drawn from a generator seeded
    with ``seed``. ``hidden`` is the initial state s_0, as in PyTorch's ``cell(x, hx)``:
    a tensor h_0 of shape (hidden_size,), or for an LSTM a tuple (h_0, c_0); ``None``
    means zeros. The state s is h for RNN and GRU and the joint vector (h, c) of size
    2·hidden_size for an LSTM, so every path (h→h, h→c, c→h, c→c) counts.

    The spectral norm bounds the gain of a gradient sent back from step t to step 0:
    ‖∂L/∂s_0‖ ≤ ‖∂s_t/∂s_0‖₂·‖∂L/∂s_t‖. Products are rescaled as they grow, so the norms
    stay accurate over long horizons. Returns a float64 array of length ``steps``.
    """
    _check_cell(cell)
    steps = _validate.positive_int("steps", steps)
    seed = _validate.non_negative_int("seed", seed)
    state = _state(cell, hidden)
    w_ih, w_hh, b_ih, b_hh = _weights(cell)
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, cell.input_size, generator=gen, dtype=torch.float64)
    size = sum(s.numel() for s in state)
    prod = torch.eye(size, dtype=torch.float64)
    log_scale = 0.0
    mats, scales = [], []
    for t in range(steps):
        new, jac = _step(cell, w_ih, w_hh, b_ih, b_hh, xs[t], state)
        state = new if isinstance(new, tuple) else (new,)
        prod = jac @ prod
        top = float(prod.abs().max())
        if top > 0:
            prod = prod / top
            log_scale += math.log(top)
        mats.append(prod)
        scales.append(log_scale)
    norms = torch.linalg.matrix_norm(torch.stack(mats), ord=2).numpy()
    with np.errstate(divide="ignore", over="ignore"):
        return np.exp(np.log(norms) + np.array(scales))


def init_cell(
    kind: CellKind,
    input_size: int,
    hidden_size: int,
    *,
    seed: int = 0,
    radius: float | None = None,
    memory_bias: float | None = None,
    scale: float | None = None,
) -> Any:
    """A PyTorch cell with its default initialisation, seeded, optionally adjusted (float64).

    ``kind``: ``"rnn"`` (tanh RNNCell), ``"relu-rnn"``, ``"lstm"`` or ``"gru"``.
    ``radius`` rescales W_hh of an RNN cell to that spectral radius (largest |eigenvalue|).
    ``scale`` multiplies the whole recurrent matrix W_hh (every gate block) by that factor,
    any kind: a larger-than-default initialisation, W_hh ~ U(−scale/√n, scale/√n).
    ``memory_bias`` sets the total bias of the gate that keeps the old state: the LSTM
    forget gate (b_ih + b_hh of the f block, PyTorch's gate order is i, f, g, o) or the
    GRU update gate z (PyTorch keeps z∘h), so that gate starts near σ(memory_bias).
    """
    _validate.choice("kind", kind, CELL_KINDS)
    input_size = _validate.positive_int("input_size", input_size)
    hidden_size = _validate.positive_int("hidden_size", hidden_size)
    seed = _validate.non_negative_int("seed", seed)
    if radius is not None and kind not in ("rnn", "relu-rnn"):
        raise ValueError(f"radius applies to kind 'rnn' or 'relu-rnn' only, got kind={kind!r}")
    if memory_bias is not None and kind not in ("lstm", "gru"):
        raise ValueError(f"memory_bias applies to kind 'lstm' or 'gru' only, got kind={kind!r}")
    scale = None if scale is None else _validate.positive("scale", scale)
    torch.manual_seed(seed)
    if kind in ("rnn", "relu-rnn"):
        cell = torch.nn.RNNCell(
            input_size, hidden_size, nonlinearity="tanh" if kind == "rnn" else "relu"
        )
    elif kind == "lstm":
        cell = torch.nn.LSTMCell(input_size, hidden_size)
    else:
        cell = torch.nn.GRUCell(input_size, hidden_size)
    cell = cell.double()
    with torch.no_grad():
        if radius is not None:
            radius = _validate.positive("radius", radius)
            rho = torch.linalg.eigvals(cell.weight_hh).abs().max()
            cell.weight_hh.mul_(radius / rho)
        if scale is not None:
            cell.weight_hh.mul_(scale)
        if memory_bias is not None:
            _set_memory_bias(cell, _validate.real("memory_bias", memory_bias))
    return cell


def lstm_gates(layer: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gates and states of a one-layer ``torch.nn.LSTM`` along a batch, from zero states.

    ``layer``: batch-first, one layer, one direction; ``x``: (batch, time, input_size). Gate
    order (i, f, g, o), b = b_ih + b_hh: i, f, o = σ(·), g = tanh(W x_t + U h_{t−1} + b),
    c_t = f∘c_{t−1} + i∘g, h_t = o∘tanh(c_t) (article eq. (7)). Returns tensors of shape
    (batch, time, hidden_size) keyed "i", "f", "g", "o", "c", "h" ("h" = ``layer(x)[0]``).
    """
    if not isinstance(layer, torch.nn.LSTM):
        raise TypeError(f"layer must be a torch.nn.LSTM, got {type(layer).__name__}")
    if layer.num_layers != 1 or layer.bidirectional or not layer.batch_first or layer.proj_size:
        raise ValueError(
            "layer must be one-layer, one-direction, batch_first, without projection; got "
            f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}, "
            f"batch_first={layer.batch_first}, proj_size={layer.proj_size}"
        )
    if not torch.is_tensor(x) or x.dim() != 3 or x.shape[-1] != layer.input_size:
        got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"x must have shape (batch, time, {layer.input_size}), got {got}")
    w_ih, w_hh = layer.weight_ih_l0, layer.weight_hh_l0
    pre = x @ w_ih.T + (layer.bias_ih_l0 + layer.bias_hh_l0 if layer.bias else 0.0)
    h = c = x.new_zeros(x.shape[0], layer.hidden_size)
    out: dict[str, list[torch.Tensor]] = {k: [] for k in "ifgoch"}
    for t in range(x.shape[1]):
        a_i, a_f, a_g, a_o = (pre[:, t] + h @ w_hh.T).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            out[k].append(v)
    return {k: torch.stack(v, 1) for k, v in out.items()}


def _set_memory_bias(module: Any, value: float) -> None:
    """Put ``value`` on the keep-gate block of b_ih and zero it in b_hh.

    The keep gate is block 1 of 4 for an LSTM (gates i, f, g, o) and 1 of 3 for a GRU (r, z, n).
    """
    names = [n for n, _ in module.named_parameters() if n.startswith("bias_ih")]
    for name in names:
        b_ih, b_hh = getattr(module, name), getattr(module, name.replace("bias_ih", "bias_hh"))
        blocks = 4 if isinstance(module, (torch.nn.LSTMCell, torch.nn.LSTM)) else 3
        n = b_ih.shape[0] // blocks
        b_ih[n : 2 * n] = value
        b_hh[n : 2 * n] = 0.0


# ---- the scalar SimpleRNN factor (article eq. (6)) --------------------------------------------
def tanh_gain_sup(a: float, h_prev: float) -> tuple[float, float]:
    """sup over U of |U|·sech²(a + U·h_prev) and the U where it is reached.

    This is |∂h_t/∂h_{t−1}| of a scalar tanh RNN, h_t = tanh(a + U·h_{t−1}) with
    a = W x_t + b, as a function of U (article eq. (6)). With z = a + U·h_prev the
    stationary points solve (z − a)·tanh z = ½, one on each side of a; both are
    found by bracketed root-finding (double precision). For a = 0 the sup is
    z*·sech²z*/|h_prev| with z*·tanh z* = ½.
    """
    from scipy.optimize import brentq

    a = _validate.real("a", a)
    h_prev = _validate.real("h_prev", h_prev)
    if h_prev == 0:
        raise ValueError(
            "h_prev must be nonzero: for h_prev = 0 the factor |U|·sech²(a) is unbounded in U"
        )
    best, best_z = -1.0, 0.0
    for side in (1.0, -1.0):  # z > max(a, 0) with tanh z > 0, or z < min(a, 0)
        start = max(a, 0.0) if side > 0 else min(a, 0.0)
        g = lambda z: (z - a) * math.tanh(z) - 0.5  # noqa: E731
        width = 1.0
        while g(start + side * width) < 0:
            width *= 2.0
        lo, hi = sorted((start, start + side * width))
        z = brentq(g, lo, hi, xtol=1e-15, rtol=1e-15)
        value = abs(z - a) / math.cosh(z) ** 2
        if value > best:
            best, best_z = value, z
    return best / abs(h_prev), (best_z - a) / h_prev


# ---- the memory task ----------------------------------------------------------------------------
def first_token_task(
    n: int, length: int, seed: int = 0, device: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of ``length`` steps with two input channels (n × length × 2), and labels.

    Channel 0 holds a random sign ±1 at step 0 and zeros after it; channel 1 holds zero at
    step 0 and N(0, 1) noise at every later step. The label is 1 when the sign was +1 and 0
    otherwise. The loss sits at the last step only, so a model must carry one bit across
    ``length`` − 1 steps of distractors (chapter 15).
    """
    n = _validate.positive_int("n", n)
    length = _validate.positive_int("length", length)
    seed = _validate.non_negative_int("seed", seed)
    if length < 2:
        raise ValueError(
            f"length must be >= 2 (a token and at least one step to carry it), got {length}"
        )
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.zeros(n, length, 2)
    x[:, 1:, 1] = torch.randn(n, length - 1, generator=gen)
    x[:, 0, 0] = 2.0 * y - 1.0
    return x.to(device), y.to(device)


class ProposedRNN(torch.nn.Module):
    """The article's GRU/LSTM hybrid (its eq. (14)), batch-first, single layer.

    z = σ(W_z x + U_z h + b_z), r = σ(W_r x + U_r h + b_r), ĉ = tanh(W_h x + U_h h + b_h),
    c_t = (1 − z)∘c_{t−1} + z∘ĉ, h_t = r∘c_t. Like an LSTM it carries c along a path
    whose step Jacobian is dominated by diag(1 − z); like a GRU it has two gates.
    Returns (outputs h_1..h_T, (h_T, c_T)).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = _validate.positive_int("input_size", input_size)
        self.hidden_size = _validate.positive_int("hidden_size", hidden_size)
        self.inp = torch.nn.Linear(input_size, 3 * hidden_size)
        self.rec = torch.nn.Linear(hidden_size, 3 * hidden_size, bias=False)
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's RNN default
        for p in self.parameters():
            torch.nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run over a batch (batch × time × input_size) from zero states."""
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have shape (batch, time, {self.input_size}), got {tuple(x.shape)}"
            )
        h = x.new_zeros(x.shape[0], self.hidden_size)
        c = torch.zeros_like(h)
        pre = self.inp(x)
        outs = []
        for t in range(x.shape[1]):
            a_z, a_r, a_h = (pre[:, t] + self.rec(h)).chunk(3, dim=-1)
            z = torch.sigmoid(a_z)
            c = (1 - z) * c + z * torch.tanh(a_h)
            h = torch.sigmoid(a_r) * c
            outs.append(h)
        return torch.stack(outs, 1), (h, c)


class SequenceClassifier(torch.nn.Module):
    """A one-layer recurrent network read out at its last step: logits = Linear(h_T).

    ``kind``: ``"rnn"`` (tanh), ``"lstm"``, ``"gru"`` (PyTorch's fused layers) or
    ``"proposed"`` (:class:`ProposedRNN`). ``memory_bias`` initialises the bias of the gate
    that keeps the old state (LSTM forget gate f, GRU update gate z as in :func:`init_cell`,
    and 1 − z of the proposed cell), so that gate starts near σ(memory_bias).
    """

    def __init__(
        self,
        kind: ModelKind,
        hidden_size: int,
        *,
        input_size: int = 2,
        classes: int = 2,
        memory_bias: float | None = None,
    ) -> None:
        super().__init__()
        self.kind = _validate.choice("kind", kind, MODEL_KINDS)
        hidden_size = _validate.positive_int("hidden_size", hidden_size)
        input_size = _validate.positive_int("input_size", input_size)
        classes = _validate.positive_int("classes", classes)
        if memory_bias is not None and kind == "rnn":
            raise ValueError(
                "memory_bias applies to kind 'lstm', 'gru' or 'proposed' only, got kind='rnn'"
            )
        if kind == "proposed":
            self.rnn: Any = ProposedRNN(input_size, hidden_size)
        else:
            fused = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
            self.rnn = fused(input_size, hidden_size, batch_first=True)
        if memory_bias is not None:
            value = _validate.real("memory_bias", memory_bias)
            with torch.no_grad():
                if kind == "proposed":  # keep gate 1 − z = σ(−a_z): put −value on the z block
                    self.rnn.inp.bias[:hidden_size] = -value
                else:
                    _set_memory_bias(self.rnn, value)
        self.head = torch.nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the last hidden state, for x of shape (batch, time, input_size)."""
        out, _ = self.rnn(x)
        return self.head(out[:, -1])
