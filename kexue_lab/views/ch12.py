"""Chapter 12's explorations and figures: the error of GELU's two elementary approximations.

* :data:`tanh_error`: move a and c in Φ(x) ≈ ½[1 + tanh(a(x + c·x³))] and watch the error;
* :data:`sigmoid_error`: move λ in Φ(x) ≈ σ(λx);
* :func:`error_curves`: the Taylor and min–max fits of both forms, side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..architecture import activations as act
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The article's printed min–max c = b/a (article eq. (9)), marked on the c slider.
ARTICLE_C = 0.04471491123850965
#: The article's printed min–max λ of σ(λx) (article, Bowling et al. 2009), marked on the λ slider.
ARTICLE_LAMBDA = 1.7017449256323682

_X = np.linspace(0.0, 5.0, 101)


def _readout(approx: Callable[[np.ndarray], np.ndarray]) -> str:
    worst, at = act.max_phi_error(approx, x_max=8.0, step=1e-3)
    return f"max |error| over ℝ = {worst:.3e} at |x| = {at:.2f}"


@exploration(
    slider("a", 0.76, 0.84, steps=9, default=act.SQRT_2_OVER_PI, label="a"),
    slider(
        "c",
        0.040,
        0.050,
        steps=21,
        default=act.TANH_C,
        include=[act.TANH_C_TAYLOR, ARTICLE_C],
        label="c",
    ),
    title="Φ(x) ≈ ½[1 + tanh(a(x + c x³))]: the error on x ≥ 0",
)
def tanh_error(a: float = act.SQRT_2_OVER_PI, c: float = act.TANH_C) -> View:
    """Error Φ(x) − ½[1 + tanh(a(x + c·x³))] on [0, 5] (× 10⁴) and its maximum over ℝ."""
    err = act.normal_cdf(_X) - act.phi_tanh(_X, a, c)
    ref = act.normal_cdf(_X) - act.phi_tanh(_X)
    panel = Panel(
        curves=[
            Curve(_X, err * 1e4, f"a={a:.4f}, c={c:.5f}"),
            Curve(_X, ref * 1e4, "paper (√(2/π), 0.044715)", style="dashed", color=1),
        ],
        title="Φ(x) − tanh approximation",
        xlabel="x",
        ylabel="error × 10⁴",
        ylim=(-25.0, 25.0),
    )
    return View([panel], readout=_readout(lambda t: act.phi_tanh(t, a, c)))


@exploration(
    slider(
        "lam",
        1.50,
        1.90,
        steps=41,
        default=act.SIGMOID_LAMBDA,
        include=[act.SIGMOID_LAMBDA_SLOPE, ARTICLE_LAMBDA],
        label="λ",
    ),
    title="Φ(x) ≈ σ(λx): the error on x ≥ 0",
)
def sigmoid_error(lam: float = act.SIGMOID_LAMBDA) -> View:
    """Error Φ(x) − σ(λx) on [0, 5] (× 10²) and its maximum over ℝ."""
    err = act.normal_cdf(_X) - act.phi_sigmoid(_X, lam)
    ref = act.normal_cdf(_X) - act.phi_sigmoid(_X)
    panel = Panel(
        curves=[
            Curve(_X, err * 1e2, f"λ = {lam:.3f}"),
            Curve(_X, ref * 1e2, "paper λ = 1.702", style="dashed", color=1),
        ],
        title="Φ(x) − σ(λx)",
        xlabel="x",
        ylabel="error × 10²",
        ylim=(-4.0, 4.0),
    )
    return View([panel], readout=_readout(lambda t: act.phi_sigmoid(t, lam)))


def error_curves(c_taylor: float, c_minimax: float, lam_slope: float, lam_minimax: float) -> Figure:
    """Two panels on x ∈ [0, 5]: Φ(x) − ½[1 + tanh(√(2/π)(x + c x³))] for the Taylor and the
    min–max c (× 10⁴), and Φ(x) − σ(λx) for the slope-matched and the min–max λ (× 10²).

    The figure of chapter 12, §3: a matplotlib ``Figure``, shown as a cell's last expression.
    """
    from .. import _validate

    c_taylor, c_minimax = (
        _validate.real("c_taylor", c_taylor),
        _validate.real("c_minimax", c_minimax),
    )
    lam_slope = _validate.real("lam_slope", lam_slope)
    lam_minimax = _validate.real("lam_minimax", lam_minimax)
    xs = np.linspace(0, 5, 801)
    phi = act.normal_cdf(xs)
    fig, (left, right) = figure(1, 2, figsize=(10, 3.6))
    left.plot(xs, 1e4 * (phi - act.phi_tanh(xs, c=c_taylor)), label=f"Taylor c = {c_taylor:.6f}")
    left.plot(xs, 1e4 * (phi - act.phi_tanh(xs, c=c_minimax)), label=f"min–max c = {c_minimax:.6f}")
    left.set(title="Φ(x) − ½[1 + tanh(√(2/π)(x + c x³))]", xlabel="x", ylabel="error × 10⁴")
    right.plot(
        xs, 1e2 * (phi - act.phi_sigmoid(xs, lam_slope)), label=f"slope-matched λ = {lam_slope:.4f}"
    )
    right.plot(
        xs, 1e2 * (phi - act.phi_sigmoid(xs, lam_minimax)), label=f"min–max λ = {lam_minimax:.4f}"
    )
    right.set(title="Φ(x) − σ(λx)", xlabel="x", ylabel="error × 10²")
    for ax in (left, right):
        ax.axhline(0, color="0.6", lw=0.8)
        ax.legend()
    return fig
