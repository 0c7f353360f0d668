"""Chapter 24 (why SimSiam does not collapse): the toy exploration and the chapter's figures.

* :data:`toy_phase`: the scalar toy from a chosen start (φ0, θ0) with a predictor k times
  faster than the encoder, with and without stop-gradient;
* figures (each returns a matplotlib ``Figure``, shown once as a cell's last expression):
  :func:`toy_curves` (the article's two plots) and :func:`collapse_curves` (the small SimSiam).

The numbers come from :mod:`kexue_lab.optimization.simsiam`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..optimization import simsiam
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the article's starting point of the toy, (φ0, θ0)
ARTICLE_START = (0.6, 0.1)
#: the exploration integrates on [0, T_MAX] with STEPS RK4 steps
T_MAX, STEPS = 30.0, 300
_LABEL = {"stopgrad": "with stop-gradient", "full": "without stop-gradient"}


@exploration(
    slider("phi0", -0.8, 0.9, steps=6, default=ARTICLE_START[0], label="φ0 (predictor)"),
    slider("theta0", 0.05, 0.5, steps=4, default=ARTICLE_START[1], label="θ0 (encoder)"),
    slider("speed", 0.25, 8.0, steps=5, log=True, default=1.0, label="predictor speed k"),
    title="The scalar toy: φ̇ = −k(φθ − θ)θ, with and without stop-gradient",
    height=380,
)
def toy_phase(phi0: float = 0.6, theta0: float = 0.1, speed: float = 1.0) -> View:
    """Trajectories in the (φ, θ) plane (left) and θ(t) (right) for both flows from (φ0, θ0);
    the readout gives θ and φ at t = 30."""
    every = STEPS // 100
    phase, series, parts = [], [], []
    for color, mode in enumerate(("stopgrad", "full")):
        t, phi, theta = simsiam.toy_flow(phi0, theta0, mode, T_MAX, STEPS, predictor_speed=speed)
        keep = slice(None, None, every)
        phase.append(Curve(phi[keep], theta[keep], _LABEL[mode], color=color))
        series.append(Curve(t[keep], theta[keep], "", color=color))
        parts.append(f"{_LABEL[mode]}: θ → {theta[-1]:.3f}, φ → {phi[-1]:.3f}")
    left = Panel(phase, title="phase plane", xlabel="φ (predictor)", ylabel="θ (encoder)")
    right = Panel(series, title="encoder output θ(t)", xlabel="t", ylabel="θ", ylim=(-0.05, 1.3))
    return View([left, right], readout="; ".join(parts) + " (at t = 30)")


def toy_curves(runs: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Figure:
    """One panel per run: φ(t) and θ(t). ``runs`` maps a title to ``(t, phi, theta)``."""
    fig, axes = figure(1, len(runs), figsize=(5 * len(runs), 3.4))
    axes = np.atleast_1d(axes)
    for ax, (title, (t, phi, theta)) in zip(axes, runs.items()):
        ax.plot(t, phi, label="φ (predictor)")
        ax.plot(t, theta, label="θ (encoder)")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set(title=title, xlabel="t", ylim=(-0.05, 1.1))
        ax.legend(loc="center right")
    return fig


def collapse_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]], d: int, seed_note: str = ""
) -> Figure:
    """Output std of the ℓ2-normalised encoder output against the step, one curve per variant,
    with the isotropic level 1/√d dashed. ``histories`` maps a name to ``{"step", "std"}``."""
    fig, axes = figure(1, 1, figsize=(6.5, 3.6))
    ax = np.atleast_1d(axes)[0]
    for name, hist in histories.items():
        ax.plot(hist["step"], hist["std"], label=name)
    ax.axhline(1 / np.sqrt(d), color="0.5", ls="--", lw=1, label="1/√d (spread on the sphere)")
    ax.set(title=f"collapse monitor {seed_note}".strip(), xlabel="step", ylabel="output std")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return fig
