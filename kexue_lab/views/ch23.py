"""Chapter 23 (exponentiated gradient + meta-learned gains): exploration and figures.

* :data:`quadratic`: GD with EG-learned per-coordinate gains on the separable quadratic
  ½(θ₁² + h₂θ₂²): the loss and the effective steps η ν_i h_i, for the rule off, raw or sign;
* figures (each a matplotlib ``Figure`` from :func:`kexue_lab.plot.figure`, shown once as a
  cell's last expression): :func:`quadratic_runs` and :func:`training_curves`.

The numbers come from :mod:`kexue_lab.optimization.eg`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..optimization import eg
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

STEPS = 300
_T = np.unique(np.geomspace(1, STEPS + 1, 90).astype(int)) - 1  # steps drawn (log grid)
_FLOOR = 1e-30  # losses below this are drawn at the floor


@exploration(
    slider("h2", 1, 1000, steps=7, log=True, default=100, label="curvature h₂ (h₁ = 1)"),
    slider("eta_h2", 0.1, 1.9, steps=5, default=1.5, include=[1.0], label="η·h₂"),
    slider("gamma", 0.001, 0.3, steps=6, log=True, default=0.1, label="γ"),
    choice("mode", {"off (GD)": "off", "raw": "raw", "sign": "sign"}, default="sign", label="rule"),
    title="Learned gains on ½(θ₁² + h₂θ₂²)",
    height=400,
)
def quadratic(
    h2: float = 100.0, eta_h2: float = 1.5, gamma: float = 0.1, mode: str = "sign"
) -> View:
    """Loss and effective steps η ν_i h_i of GD with EG-learned gains (exploration, chapter 23).

    η = ``eta_h2``/h₂, θ_0 = (1, 1), 300 steps; gains clipped to [0.01, 100] in sign mode
    (as in the paper's EGDD), unclipped in raw mode (the article's rule). Effective step 1 is
    the one-step minimiser of a coordinate, 2 the edge of stability.
    """
    from .. import _validate

    h2 = _validate.positive("h2", h2)
    eta_h2 = _validate.positive("eta_h2", eta_h2)
    gamma = _validate.non_negative("gamma", gamma)
    _validate.choice("mode", mode, ("off", "raw", "sign"))
    h = np.array([1.0, h2])
    lr = eta_h2 / h2
    rule = "raw" if mode == "off" else mode
    clip = (0.01, 100.0) if mode == "sign" else None
    run = eg.quadratic_run(h, lr, 0.0 if mode == "off" else gamma, rule, STEPS, gain_clip=clip)
    base = eg.quadratic_run(h, lr, 0.0, "raw", STEPS)
    finite = np.isfinite(run.loss[_T])
    t = _T[finite]
    loss_curves = [
        Curve(t + 1, np.maximum(run.loss[t], _FLOOR), f"rule: {mode}", color=0),
        Curve(_T + 1, np.maximum(base.loss[_T], _FLOOR), "plain GD", style="dashed", color=1),
    ]
    with np.errstate(all="ignore"):
        eff = lr * run.gain * h
    step_curves = []
    for i in range(2):
        ok = np.isfinite(eff[_T, i]) & (eff[_T, i] > 0)
        ti = _T[ok]
        step_curves.append(
            Curve(ti + 1, np.clip(eff[ti, i], 1e-6, 1e6), f"η ν{i + 1} h{i + 1}", color=i)
        )
    for level, name in ((1.0, "1: one-step minimiser"), (2.0, "2: stability edge")):
        step_curves.append(Curve([1, STEPS + 1], [level, level], name, style="dotted", color=3))
    final = run.loss[-1]
    text = f"{final:.3g}" if np.isfinite(final) else "diverged (NaN/inf)"
    readout = f"final loss {text} (plain GD {base.loss[-1]:.3g})"
    if np.isfinite(eff[-1]).all():
        readout += f"; final η ν h = {eff[-1, 0]:.3g}, {eff[-1, 1]:.3g}"
    panels = [
        Panel(loss_curves, title="loss", xlabel="step", ylabel="L(θ_t)", xlog=True, ylog=True),
        Panel(
            step_curves,
            title="effective step",
            xlabel="step",
            ylabel="η ν_i h_i",
            xlog=True,
            ylog=True,
        ),
    ]
    return View(panels, readout=readout)


def quadratic_runs(runs: Mapping[str, eg.QuadraticRun], h: Sequence[float], lr: float) -> Any:
    """Two panels for §4: the loss of every run and the effective steps η ν_i h_i of the runs
    that learn gains (solid: coordinate 1, dashed: coordinate 2), drawn on [10⁻³, 10³]."""
    hv = np.asarray(h, dtype=float)
    fig, (left, right) = figure(1, 2, figsize=(10, 3.6))
    for k, (name, run) in enumerate(runs.items()):
        t = np.arange(len(run.loss))
        ok = np.isfinite(run.loss)
        left.semilogy(t[ok], np.maximum(run.loss[ok], _FLOOR), color=f"C{k}", label=name)
        if np.ptp(run.gain) > 0:
            with np.errstate(all="ignore"):
                eff = lr * run.gain * hv
            for i, style in enumerate(("-", "--")):
                right.semilogy(t, eff[:, i], style, color=f"C{k}", label=f"{name}, i = {i + 1}")
    right.axhline(1.0, color="grey", lw=0.8)
    right.axhline(2.0, color="grey", lw=0.8, ls=":")
    left.set(xlabel="step t", ylabel="loss", title="½ Σ h_i θ_i²", ylim=(_FLOOR, None))
    right.set(xlabel="step t", ylabel="η ν_i h_i", title="effective step per coordinate")
    right.set_ylim(1e-3, 1e3)  # the raw rule's gains leave this band within a few steps
    left.legend(fontsize=8.5)
    right.legend(fontsize=8)
    return fig


def training_curves(curves: Mapping[str, Sequence[float]], title: str = "") -> Any:
    """Training loss per step of every optimiser (§5), log scale."""
    fig, ax = figure(figsize=(7, 3.6))
    for key, loss in curves.items():
        ax.semilogy(np.arange(1, len(loss) + 1), loss, label=key)
    ax.set(xlabel="step", ylabel="training loss", title=title)
    ax.legend(fontsize=8.5)
    return fig


# ---- the comparison table ----
#: the optimiser names of §5, in the order of the table
OPTIMISERS = (
    "GD, η = 0.1",
    "raw EG gains, γ = 10",
    "sign EG gains, γ = 0.1",
    "Adam, lr 0.01",
    "Adam, lr 0.1",
)


def _spread(metrics: Mapping[str, Any], name: str) -> str:
    if not metrics:
        return "—"
    vals = np.asarray(metrics["final_train_loss"][name], dtype=float)
    return f"{vals.mean():.4f} ({vals.min():.4f}–{vals.max():.4f}, {metrics['data']})"


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article, ours, recorded full run) of the chapter's table (§5).

    ``ours`` and ``recorded`` are metrics as the chapter saves them (``data``,
    ``final_train_loss`` per optimiser of :data:`OPTIMISERS` as a list over splits,
    ``quadratic_loss_50`` per run of §4, ``gains_below_one``); ``recorded`` is empty before a
    full run has been recorded (its column then shows "—"). The article runs no experiment, so
    its column quotes what it states in words.
    """
    quad = ours["quadratic_loss_50"]
    below = ours["gains_below_one"]
    rows = [
        (
            "½(θ₁² + 100θ₂²), loss at step 50: GD / sign rule",
            "consistent gradient signs raise a coordinate's step (qualitative)",
            f"{quad['GD']:.3g} / {quad['sign, γ = 0.1']:.2g}",
            "—",
        )
    ]
    for name in OPTIMISERS:
        rows.append(
            (f"final training loss, {name}", "—", _spread(ours, name), _spread(recorded, name))
        )
    rows.append(
        (
            "fraction of gains below 1, minibatch 16",
            "the rule drives the learning rate to 0 with noisy gradients (reader, comments)",
            f"{below['minibatch 16']:.0%} (full batch {below['full batch']:.0%})",
            f"{recorded['gains_below_one']['minibatch 16']:.0%}" if recorded else "—",
        )
    )
    return rows
