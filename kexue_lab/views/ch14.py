"""Chapter 14's exploration and figure: conditioning under GD at η = 1/L, and the BN sweep.

* :data:`conditioning`: GD at η = 1/L on a 2-D regression with raw, centred or standardised
  inputs (the exploration of the chapter's "Explore" section);
* :func:`sweep_figure`: final loss and landscape measurements against the learning rate, for
  the MLP without BatchNorm, with it (before or after the Linear) and with centring only (§5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..architecture import conditioning as cd
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: the steps at which the exploration draws the loss gap: 80 log-spaced integers up to 10⁷
STEPS = np.unique(np.round(np.geomspace(1, 1e7, 80)))


@exploration(
    slider("offset", 0, 10, steps=11, default=3, label="input mean c"),
    slider("ratio", 1, 100, steps=5, log=True, default=10, label="scale ratio r"),
    choice("prep", {p: p for p in cd.PREPS}, label="inputs"),
    title="GD at η = 1/L: raw, centred or standardised inputs",
    height=380,
)
def conditioning(offset: float = 3.0, ratio: float = 10.0, prep: cd.Prep = "raw") -> View:
    """GD at η = 1/L on the 2-D regression of :func:`cd.conditioning_problem` (chapter 14).

    Left: relative loss gap against the step (log–log), with the standardised problem (whose
    curvature E[x̃x̃ᵀ] does not depend on ``offset`` or ``ratio``) dashed. Right: the weight
    path in raw-input units. Readout: L = λ_max(E[x̃x̃ᵀ]), the condition number and the steps
    needed.
    """
    H, star, A, _ = cd.conditioning_problem(offset, ratio, prep)
    gap, thetas = cd.gd_trajectory(H, star, STEPS)
    Hs, stars, _, _ = cd.conditioning_problem(offset, ratio, "standardised")
    ref, _ = cd.gd_trajectory(Hs, stars, STEPS)
    path = np.vstack([np.zeros(3) @ A.T, thetas @ A.T])
    lam = np.linalg.eigvalsh(H)
    n = cd.steps_to_tol(H, -star)
    needed = f"{n:,} steps" if n is not None else "more than 10⁹ steps"
    gaps = [
        Curve(STEPS, np.maximum(gap, 1e-16), prep),
        Curve(STEPS, np.maximum(ref, 1e-16), "standardised", style="dashed", color=1),
    ]
    weights = [
        Curve(path[:, 0], path[:, 1], "GD path"),
        Curve([cd.VIEW_W[0]], [cd.VIEW_W[1]], "w*", style="markers", color=2),
    ]
    panels = [
        Panel(
            curves=gaps,
            title="loss gap (f − f*)/(f₀ − f*)",
            xlabel="GD step t",
            ylabel="relative gap",
            xlog=True,
            ylog=True,
            ylim=(1e-16, 2.0),
        ),
        Panel(curves=weights, title="weights in raw-input units", xlabel="w₁", ylabel="w₂"),
    ]
    readout = (
        f"L = λ_max = {lam.max():.4g}, condition number {lam.max() / lam.min():.3g}; "
        f"GD at η = 1/L needs {needed} to cut the gap by a factor 1e10"
    )
    return View(panels, readout=readout)


#: the panels of :func:`sweep_figure`: summary key and title
SWEEP_PANELS: tuple[tuple[str, str], ...] = (
    ("loss", "final training loss"),
    ("grad change", "‖∇L(θ−ηg) − ∇L(θ)‖ at η = lr"),
    ("loss range", "range of L(θ−ηg), η/lr ∈ {½,1,2,4}"),
)


def sweep_figure(
    summary: Mapping[tuple[str, float], Mapping[str, float]],
    lrs: Sequence[float],
    norms: Sequence[str],
) -> Any:
    """Final training loss and the two landscape measurements against the learning rate (§5).

    ``summary[(norm, lr)]`` holds ``"loss"``, ``"grad change"`` and ``"loss range"`` (the
    medians over a run's probes); a diverged run (infinite loss) is drawn at the top edge
    (values are capped at 10³, the loss axis at 20). Returns the matplotlib figure.
    Chapter 14.
    """
    missing = [(n, lr) for n in norms for lr in lrs if (n, lr) not in summary]
    if missing:
        raise ValueError(f"summary has no entry for (norm, lr) = {missing[0]!r}")
    fig, axes = figure(1, 3, figsize=(10, 3.5))
    for ax, (key, title) in zip(axes, SWEEP_PANELS):
        for norm in norms:
            vals = [min(summary[(norm, lr)][key], 1e3) for lr in lrs]
            ax.plot(lrs, vals, "o-", label=norm)
        ax.set(xscale="log", yscale="log", xlabel="learning rate", title=title)
    axes[0].set_ylim(top=20)
    axes[0].legend(title="variant")
    return fig
