"""Chapter 20 (gradient accumulation hidden in momentum): exploration and figures.

* :data:`block_weights`: the weight each of the last 3k micro-gradients carries in the momentum
  at a block end, for true accumulation (block averages) and for an EMA with β̃ = 1 − (1 − β)/k;
* :func:`weight_bars`: the same weights as a figure (§3);
* :func:`loss_curves`: the training-loss curves of the chapter's runs, one panel per optimizer.

The formulas live in :mod:`kexue_lab.optimization.accumulation`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _validate
from ..optimization import accumulation as acc
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider


def weights(beta: float, k: int, blocks: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the micro-gradients g_t, g_{t−1}, … (newest first) in m_t at a block end.

    Accumulation gives every gradient of the j-th most recent block (j = 0, 1, …) the weight
    (1 − β)β^j/k; an EMA with β̃ gives the i-th newest gradient (1 − β̃)β̃^i. Returns the two
    arrays of length ``blocks·k``.
    """
    bt = acc.beta_tilde(beta, k)
    k = _validate.positive_int("k", k)
    i = np.arange(_validate.positive_int("blocks", blocks) * k)
    return (1 - beta) * beta ** (i // k) / k, (1 - bt) * bt**i


@exploration(
    slider("beta", 0.5, 0.99, steps=8, default=0.9, include=[0.9], label="β"),
    slider("k", 1, 32, steps=6, log=True, integer=True, default=8, include=[4, 8], label="k"),
    title="Accumulation vs an EMA with β̃: weights on the last 3k micro-gradients",
)
def block_weights(beta: float = 0.9, k: int = 8) -> View:
    """Bars: the weight of each recent micro-gradient in the momentum at a block end."""
    beta = float(beta)
    k = int(k)
    exact, ema = weights(beta, k)
    ages = np.arange(len(exact))
    bt = acc.beta_tilde(beta, k)
    panel = Panel(
        curves=[
            Curve(ages, exact * k / (1 - beta), "accumulation (block averages)", style="bar"),
            Curve(ages, ema * k / (1 - beta), "EMA with β̃", style="line", color=1),
        ],
        title="weight × k/(1 − β), newest micro-gradient first",
        xlabel="age of the micro-gradient (micro-steps)",
        ylabel="relative weight",
        ylim=(0.0, 1.05),
    )
    readout = f"β̃ = {bt:.6g}, β̃^k = {bt**k:.6g} vs β = {beta:g}; "
    readout += f"inside a block the EMA weights fall to β̃^(k−1) = {bt ** (k - 1):.4f}"
    return View([panel], readout=readout)


def loss_curves(runs: Mapping[str, Mapping[str, Sequence[float]]], data_name: str) -> Any:
    """One panel per optimizer family: the full training loss after every epoch (log scale).

    ``runs`` maps a panel title (e.g. ``"SGD-momentum"``) to ``{label: per-epoch losses}``.
    """
    if not runs:
        raise ValueError("runs must hold at least one panel of curves, got an empty mapping")
    fig, axes = figure(
        1, len(runs), figsize=(5 * len(runs), 3.6), squeeze=False, layout="constrained"
    )
    for ax, (title, curves) in zip(axes[0], runs.items()):
        for i, (label, losses) in enumerate(curves.items()):
            epochs = np.arange(1, len(losses) + 1)
            ax.plot(epochs, losses, label=label, ls=("-", "--", ":", "-.")[i % 4], lw=1.6)
        ax.set(title=f"{title}, {data_name}", xlabel="epoch", ylabel="training loss", yscale="log")
        ax.legend(fontsize=8)
    return fig


def weight_bars(beta: float, k: int) -> Any:
    """The figure of chapter 20, §3: :func:`weights` at a block end, bars and line, one panel."""
    exact, ema = weights(beta, k)
    scale = k / (1 - beta)
    ages = np.arange(len(exact))
    fig, ax = figure(1, 1, figsize=(7, 3.2), layout="constrained")
    ax.bar(ages, exact * scale, color="C0", alpha=0.7, label="accumulation (block averages)")
    ax.plot(
        ages,
        ema * scale,
        color="C1",
        marker=".",
        label=rf"EMA with $\tilde\beta$ = {1 - (1 - beta) / k:g}",
    )
    for edge in range(k, len(exact), k):
        ax.axvline(edge - 0.5, color="grey", lw=0.6, ls=":")
    ax.set(
        title=f"weights at a block end, β = {beta:g}, k = {k}",
        xlabel="age of the micro-gradient (micro-steps, newest first)",
        ylabel="weight × k/(1 − β)",
        ylim=(0.0, 1.3),
    )
    ax.legend(fontsize=8, loc="upper right")
    return fig
