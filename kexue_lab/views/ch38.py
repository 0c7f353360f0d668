"""Chapter 38 (triple extraction): the power-trick exploration and the chapter's figure.

* :data:`power_trick` draws the powered BCE ``ℓ_n`` and its logit gradient for a positive and a
  negative label against the logit ``z``, for a power ``n`` and a decision threshold ``τ`` on
  ``p^n``, with the equivalent threshold on ``z`` marked;
* :func:`class_bars` draws precision, recall and F1 per overlap class (§6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..sequences.triples import threshold_equivalent
from ..widgets import Curve, Panel, View, exploration, slider

_Z = np.linspace(-6.0, 6.0, 121)


def _loss_and_grad(z: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """ℓ_n(1, z), ℓ_n(0, z) and their derivatives in z, for p = σ(z)."""
    p = 1 / (1 + np.exp(-z))
    pos, neg = -n * np.log(p), -np.log1p(-(p**n))
    gpos, gneg = -n * (1 - p), n * p**n * (1 - p) / (1 - p**n)
    return pos, neg, gpos, gneg


@exploration(
    slider("n", 1, 6, steps=6, default=4, integer=True, label="power n"),
    slider("tau", 0.1, 0.9, steps=9, default=0.6, include=[0.5], label="threshold τ on pⁿ"),
    title="Raising p to the n-th power: loss, gradient and threshold",
)
def power_trick(n: int = 4, tau: float = 0.6) -> View:
    """``ℓ_n`` and ``∂ℓ_n/∂z`` for t = 1 and t = 0 beside plain BCE, threshold marked in z."""
    n = int(n)
    pos, neg, gpos, gneg = _loss_and_grad(_Z, n)
    pos1, neg1, gpos1, gneg1 = _loss_and_grad(_Z, 1)
    p_eq, z_eq = threshold_equivalent(tau, n)
    mark = [(z_eq, f"pⁿ = {tau:g}")]
    loss = Panel(
        [
            Curve(_Z, pos, f"t = 1, n = {n}", color=0),
            Curve(_Z, neg, f"t = 0, n = {n}", color=1),
            Curve(_Z, pos1, "t = 1, plain BCE", style="dashed", color=0),
            Curve(_Z, neg1, "t = 0, plain BCE", style="dashed", color=1),
        ],
        title="loss ℓₙ",
        xlabel="logit z",
        ylabel="loss",
        ylim=(0.0, 8.0),
        vlines=mark,
    )
    grad = Panel(
        [
            Curve(_Z, gpos, f"t = 1, n = {n}", color=0),
            Curve(_Z, gneg, f"t = 0, n = {n}", color=1),
            Curve(_Z, gpos1, "t = 1, plain BCE", style="dashed", color=0),
            Curve(_Z, gneg1, "t = 0, plain BCE", style="dashed", color=1),
        ],
        title="gradient ∂ℓₙ/∂z",
        xlabel="logit z",
        ylabel="gradient",
        ylim=(-6.5, 1.5),
        vlines=mark,
    )
    readout = (
        f"at z = 0: P = 2^−{n} = {0.5**n:.4f}, negative loss −ln(1 − 2^−{n}) = "
        f"{-np.log1p(-(0.5**n)):.4f} (plain: ln 2 = 0.6931) · pⁿ > {tau:g} ⇔ p > {p_eq:.6f} "
        f"⇔ z > {z_eq:.6f}"
    )
    return View([loss, grad], readout=readout)


def class_bars(scores: Mapping[str, Sequence[float]]) -> Any:
    """Bars of F1, precision and recall per overlap class; ``scores[cls] = (f1, p, r)`` (§6)."""
    fig, ax = figure(1, 1, figsize=(7, 3.2))
    names = list(scores)
    x = np.arange(len(names))
    for k, label in enumerate(("F1", "precision", "recall")):
        ax.bar(x + (k - 1) * 0.27, [scores[c][k] for c in names], 0.27, label=label)
    ax.set_xticks(x, names)
    ax.set(ylim=(0, 1.2), ylabel="score", title="test triples by overlap class")
    ax.legend(loc="upper center", ncol=3)
    return fig
