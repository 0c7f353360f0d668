"""Chapter 22 (batch size and learning rate): the exploration and the chapter's figures.

* :data:`sgd_scaling`: η*(B) = η_max/(1 + B_noise/B) beside the linear and square-root rules,
  and the steps–examples trade-off S = (1 + B_noise/B)·S_min, E = B·S;
* figures (each returns a matplotlib ``Figure`` from :func:`kexue_lab.plot.figure`):
  :func:`quadratic_check`, :func:`surge_curves` and :func:`network_sweep`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _validate
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

_B = np.geomspace(1, 1e5, 81)


@exploration(
    slider("b_noise", 10, 10_000, steps=13, log=True, default=100, label="B_noise"),
    slider("anchor", 1, 1000, steps=7, log=True, default=10, label="rules anchored at B"),
    title="SGD: the optimal learning rate and the steps–examples trade-off",
    height=380,
)
def sgd_scaling(b_noise: float = 100.0, anchor: float = 10.0) -> View:
    """η*(B)/η_max = 1/(1 + B_noise/B) on log–log axes (left), with the linear rule η ∝ B and
    the square-root rule η ∝ √B matched to it at B = ``anchor``; right: steps against examples,
    S/S_min = 1 + B_noise/B and E/E_min = 1 + B/B_noise, one point per batch size.
    """
    b_noise = _validate.positive("b_noise", b_noise)
    anchor = _validate.positive("anchor", anchor)
    eta = 1 / (1 + b_noise / _B)
    at = 1 / (1 + b_noise / anchor)
    left = Panel(
        [
            Curve(_B, eta, "η*/η_max = 1/(1 + B_noise/B)"),
            Curve(_B, np.minimum(at * _B / anchor, 1e3), "linear rule", style="dashed", color=1),
            Curve(_B, at * np.sqrt(_B / anchor), "square-root rule", style="dotted", color=2),
        ],
        title="optimal learning rate",
        xlabel="batch size B",
        ylabel="η / η_max",
        xlog=True,
        ylog=True,
        ylim=(1e-5, 10.0),
        vlines=[(b_noise, "B_noise")],
    )
    steps, examples = 1 + b_noise / _B, 1 + _B / b_noise
    right = Panel(
        [Curve(examples, steps, "(S/S_min − 1)(E/E_min − 1) = 1", color=3)],
        title="steps vs examples",
        xlabel="E / E_min",
        ylabel="S / S_min",
        xlog=True,
        ylog=True,
    )
    lin = at * 1e5 / anchor
    readout = (
        f"η*(B_noise) = η_max/2 · at B = 10⁵: η* = {eta[-1]:.3f}·η_max, while the linear rule "
        f"asks for {lin:.3g}·η_max · critical batch (S = 2S_min, E = 2E_min): B = {b_noise:.3g}"
    )
    return View([left, right], readout=readout)


# ---- figures ----
def quadratic_check(
    Bs: Sequence[float], predicted: Sequence[float], measured: Sequence[float]
) -> Any:
    """Predicted η*(B) against the Monte-Carlo argmin on a random quadratic (§2)."""
    fig, ax = figure(1, 1, figsize=(6, 3.6))
    ax.loglog(Bs, predicted, "-", label="η* = gᵀg / (gᵀHg + tr(ΣH)/B)")
    ax.loglog(Bs, measured, "o", label="argmin of the Monte-Carlo loss")
    ax.set(xlabel="batch size B", ylabel="η*", title="SGD on a quadratic")
    ax.legend()
    return fig


def surge_curves(
    Bs: np.ndarray, curves: Mapping[str, np.ndarray], mc: tuple[np.ndarray, np.ndarray]
) -> Any:
    """SignSGD's optimal rate against B: formulas as lines, Monte Carlo as points (§5)."""
    fig, ax = figure(1, 1, figsize=(6.5, 3.8))
    for name, eta in curves.items():
        ax.semilogx(Bs, eta, label=name)
    ax.semilogx(*mc, "o", ms=4, color="k", label="Monte Carlo")
    ax.set(xlabel="batch size B", ylabel="η*", title="SignSGD: the surge")
    ax.legend(fontsize=8)
    return fig


def network_sweep(
    etas: np.ndarray, losses: Mapping[int, np.ndarray], predicted: Mapping[int, float]
) -> Any:
    """Mean one-step loss change against η for each B, the prediction marked (§6)."""
    fig, ax = figure(1, 1, figsize=(6.5, 3.8))
    for k, (B, curve) in enumerate(losses.items()):
        ax.semilogx(etas, curve, color=f"C{k}", label=f"B = {B}")
        ax.axvline(predicted[B], color=f"C{k}", ls=":", lw=1)
    ax.set(xlabel="learning rate η", ylabel="E[L(w − ηg̃_B)] − L(w)", title="one SGD step")
    lowest = min(float(np.min(c)) for c in losses.values())
    ax.set_ylim(1.25 * lowest, -0.25 * lowest)  # the minima, not the blow-up at large η
    ax.legend(fontsize=8)
    return fig
