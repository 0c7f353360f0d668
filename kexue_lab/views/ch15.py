"""Chapter 15's explorations and figure: gradients through time in RNN, LSTM and GRU cells.

* :data:`rnn_gain`: the scalar SimpleRNN factor |∂h_t/∂h_{t−1}| as a function of U, tanh
  (bounded, article eq. (6)) against ReLU (|U| on the active side);
* :data:`jacobian_norms`: log₁₀‖∂s_t/∂s_0‖₂ at initialisation for four cells of width 32;
* :func:`norms_at_init`: the figure of §7 (log-norms of Jacobian products over t).

The maths lives in :mod:`kexue_lab.architecture.recurrent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import _validate
from ..architecture import recurrent as rec
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

#: The U axis of :data:`rnn_gain`.
GAIN_U = np.linspace(-8.0, 8.0, 161)
#: Steps and width of the cells in :data:`jacobian_norms`.
NORM_STEPS, NORM_WIDTH = 60, 32


@exploration(
    slider("a", -3.0, 3.0, steps=13, default=0.0, label="a = Wx + b"),
    slider("h_prev", 0.2, 2.0, steps=10, default=1.0, label="h_(t−1)"),
    title="|∂h_t/∂h_(t−1)| of a scalar RNN as a function of U",
)
def rnn_gain(a: float, h_prev: float) -> View:
    """|∂h_t/∂h_{t−1}| of a scalar RNN as a function of U: tanh (bounded) against ReLU (|U|).

    h_t = φ(a + U·h_prev); the tanh factor is |U|·sech²(a + U·h_prev) (article eq. (6)), the
    ReLU factor |U|·1[a + U·h_prev > 0]. The readout gives the tanh sup
    (:func:`kexue_lab.architecture.recurrent.tanh_gain_sup`).
    """
    a = _validate.real("a", a)
    h_prev = _validate.real("h_prev", h_prev)
    pre = a + GAIN_U * h_prev
    tanh_gain = np.abs(GAIN_U) / np.cosh(pre) ** 2
    relu_gain = np.abs(GAIN_U) * (pre > 0)
    sup, at = rec.tanh_gain_sup(a, h_prev)
    curves = [
        Curve(GAIN_U, tanh_gain, "tanh: |U|·sech²(a+U·h)"),
        Curve(GAIN_U, relu_gain, "ReLU: |U|·1[a+U·h>0]", style="dashed", color=1),
    ]
    panel = Panel(
        curves=curves,
        title=f"|∂h_t/∂h_(t−1)| for a = {a:.2f}, h_(t−1) = {h_prev:.2f}",
        xlabel="U",
        ylabel="|∂h_t/∂h_(t−1)|",
        ylim=(0.0, 8.0),
    )
    readout = (
        f"tanh: sup over U = {sup:.4f} at U = {at:.3f}; ReLU: unbounded (= |U| on the active side)"
    )
    return View([panel], readout=readout)


@exploration(
    slider("gain", 0.5, 2.5, steps=9, default=1.0, label="ρ (plain RNNs)"),
    slider("memory_bias", -1.0, 5.0, steps=7, default=0.0, label="b_f, b_z"),
    title="log₁₀‖∂s_t/∂s_0‖₂ at initialisation",
)
def jacobian_norms(gain: float, memory_bias: float) -> View:
    """log₁₀‖∂s_t/∂s_0‖₂ over t = 1..60 at initialisation, for four cells of width 32 (ch. 15).

    The recurrent matrices of the tanh and ReLU RNNs are rescaled to spectral radius
    ``gain``; the LSTM forget gate and the GRU update gate get the bias ``memory_bias``
    (:func:`kexue_lab.architecture.recurrent.init_cell`). Inputs are N(0, 1), the same seed
    for every cell (:func:`kexue_lab.architecture.recurrent.jacobian_norms`).
    """
    gain = _validate.positive("gain", gain)
    memory_bias = _validate.real("memory_bias", memory_bias)
    t = np.arange(1, NORM_STEPS + 1)
    cells = {
        f"tanh RNN, ρ = {gain:.2f}": rec.init_cell("rnn", 4, NORM_WIDTH, radius=gain),
        f"ReLU RNN, ρ = {gain:.2f}": rec.init_cell("relu-rnn", 4, NORM_WIDTH, radius=gain),
        f"LSTM, b_f = {memory_bias:.1f}": rec.init_cell(
            "lstm", 4, NORM_WIDTH, memory_bias=memory_bias
        ),
        f"GRU, b_z = {memory_bias:.1f}": rec.init_cell(
            "gru", 4, NORM_WIDTH, memory_bias=memory_bias
        ),
    }
    curves, finals = [], []
    for k, (name, cell) in enumerate(cells.items()):
        logs = np.log10(np.maximum(rec.jacobian_norms(cell, NORM_STEPS), 1e-300))
        curves.append(Curve(t, logs, name, style="dashed" if k % 2 else "line", color=k))
        finals.append(f"{name.split(',')[0]} {logs[-1]:+.1f}")
    panel = Panel(
        curves=curves,
        title="gradient gain back to step 0 at initialisation",
        xlabel="t",
        ylabel="log₁₀ ‖∂s_t/∂s_0‖₂",
        ylim=(-40.0, 20.0),
    )
    return View([panel], readout="log₁₀ norm at t = 60: " + ", ".join(finals))


def norms_at_init(log_norms: Mapping[str, Any]) -> Any:
    """The figure of §7: log₁₀‖∂s_t/∂s_0‖₂ against t, one line per cell (ReLU dashed).

    ``log_norms`` maps a cell's name to its log-norms at t = 1..T (all of one length T).
    Returns the matplotlib figure.
    """
    if not isinstance(log_norms, Mapping) or not log_norms:
        raise ValueError(f"log_norms must be a non-empty dict of name → curve, got {log_norms!r}")
    curves = {name: np.asarray(c, dtype=float) for name, c in log_norms.items()}
    lengths = {c.shape for c in curves.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError(f"every curve must be 1-D and of one length, got shapes {sorted(lengths)}")
    fig, ax = figure(figsize=(9, 4.2))
    for name, curve in curves.items():
        t_axis = np.arange(1, len(curve) + 1)
        ax.plot(t_axis, curve, label=name, ls="--" if "ReLU" in name else "-")
    ax.set(xlabel="t", ylabel="log₁₀ ‖∂s_t/∂s_0‖₂", title="Jacobian products at init")
    ax.legend(ncol=3, fontsize=8)
    return fig
