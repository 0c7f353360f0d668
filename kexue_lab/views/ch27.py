"""Chapter 27 (input- vs parameter-gradient penalties): the exploration and the figures.

* :data:`inequality_explorer`: both sides of the per-layer inequalities and the ratio
  LHS/RHS of article eq. (2) over random MLPs, with controls for depth, width, activation,
  initialisation scale and input norm;
* figures (matplotlib ``Figure`` from :func:`kexue_lab.plot.figure`): :func:`ratio_histogram`
  and :func:`penalty_effects`;
* :func:`comparison_rows`, the rows of the chapter's table.

The numbers come from :mod:`kexue_lab.regularization.gradient_inequality`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..plot import figure
from ..regularization import gradient_inequality as gi
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: the exploration draws this many networks per setting (input dimension 4, one output)
N_NETS = 100
_BINS = np.linspace(-4.0, 0.0, 33)  # log10 of the ratio LHS/RHS


@exploration(
    slider("depth", 1, 4, steps=4, default=3, integer=True, label="layers l"),
    choice("width", [4, 16, 64], default=16, label="hidden width"),
    choice("activation", ["tanh", "relu", "linear"], default="tanh", label="activation"),
    slider("scale", 0.5, 2.0, steps=3, log=True, default=1.0, label="init scale"),
    slider("x_norm", 0.1, 10.0, steps=3, log=True, default=1.0, label="‖x‖"),
    title="Eq. (2) on random MLPs: the per-layer sides and the ratio LHS/RHS",
    height=400,
)
def inequality_explorer(
    depth: int = 3,
    width: int = 16,
    activation: str = "tanh",
    scale: float = 1.0,
    x_norm: float = 1.0,
) -> View:
    """Both sides of eq. (3) per layer (medians over N_NETS networks) and the ratio's histogram.

    Networks 4 → width → … → 1 with ``depth`` layers, weights and biases N(0, scale²/fan_in),
    f = ½h², one input of norm ``x_norm`` per network (random direction). With one layer the
    output is a scalar function of wᵀx + b and the two sides are equal.
    """
    depth = int(depth)
    widths = [4, *[int(width)] * (depth - 1), 1]
    model = gi.random_networks(widths, N_NETS, activation=activation, scale=scale, seed=0)
    gen = torch.Generator().manual_seed(1)
    x = torch.nn.functional.normalize(torch.randn(N_NETS, 4, generator=gen, dtype=torch.float64))
    terms = gi.inequality_terms(model, x * x_norm)
    layers = np.arange(1, depth + 1)
    left = np.median(terms.left.numpy(), axis=1)
    right = np.median(terms.right.numpy(), axis=1)
    ratio = terms.ratio.numpy()
    counts, _ = np.histogram(np.log10(np.clip(ratio, 1e-4, 1.0)), bins=_BINS)
    centres = 0.5 * (_BINS[1:] + _BINS[:-1])
    panels = [
        Panel(
            [
                Curve(layers - 0.2, np.maximum(left, 1e-12), "input side (left of (3))", "bar", 0),
                Curve(layers + 0.2, np.maximum(right, 1e-12), "parameter side", "bar", 1),
            ],
            title="per layer t: medians over networks",
            xlabel="layer t",
            ylabel="term",
            ylog=True,
        ),
        Panel(
            [Curve(centres, counts.astype(float), "networks", "bar", 2)],
            title=f"log₁₀(LHS/RHS) over {N_NETS} networks",
            xlabel="log₁₀ ratio",
            ylabel="count",
        ),
    ]
    readout = (
        f"ratio LHS/RHS: median {np.median(ratio):.3g}, max {ratio.max():.3g} "
        f"(≤ 1 everywhere: {bool((ratio <= 1 + 1e-9).all())})"
    )
    return View(panels, readout=readout)


def ratio_histogram(ratios: Mapping[str, np.ndarray]) -> Any:
    """Histograms of log₁₀(LHS/RHS) of eq. (2), one per activation (§2)."""
    fig, ax = figure(figsize=(7.5, 3.4))
    bins = np.linspace(-4, 0.1, 42)
    for name, r in ratios.items():
        r = np.asarray(r, dtype=float)
        ax.hist(
            np.log10(r),
            bins=bins,
            histtype="step",
            lw=1.6,
            label=f"{name} (median {np.median(r):.3f})",
        )
    ax.axvline(0.0, color="0.4", lw=0.9, ls="--")
    ax.set(xlabel="log₁₀ (LHS / RHS)", ylabel="networks", title="eq. (2): ratio over random MLPs")
    ax.legend(fontsize=8.5)
    return fig


def penalty_effects(metrics: Mapping[str, np.ndarray], lambdas: Sequence[float]) -> Any:
    """Per-seed test metrics against the penalty weight λ (§4): arrays (len(λ), seeds)."""
    panels = [
        ("dirichlet", "E‖∂logits/∂x‖²_F"),
        ("input_grad", "E‖∇ₓL‖"),
        ("residual", "E‖softmax − e_y‖"),
        ("fgsm_accuracy", "FGSM accuracy"),
    ]
    fig, axes = figure(1, 4, figsize=(12, 3.2))
    pos = np.arange(len(lambdas))
    for ax, (key, label) in zip(axes, panels):
        values = np.asarray(metrics[key], dtype=float)
        for s in range(values.shape[1]):
            ax.plot(pos, values[:, s], "o-", color="0.6", lw=0.8, ms=3)
        ax.plot(pos, values.mean(axis=1), "s-", color="C0", lw=1.8)
        ax.set(xticks=pos, xticklabels=[f"{v:g}" for v in lambdas], xlabel="λ", title=label)
    return fig


def _fmt(values: Sequence[float], fmt: str) -> str:
    return " / ".join(fmt.format(v) for v in values)


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article / paper, ours, recorded full run) of the chapter's table (§5).

    ``ours``/``recorded`` hold ``max_ratio``, ``median_ratio`` (by activation), ``init_norms``
    (spectral norms of random inits), ``lambdas`` and the per-λ seed means ``dirichlet``,
    ``input_grad``, ``fgsm_accuracy``, ``accuracy`` and ``bracket_drop``; ``recorded`` is empty
    before a full run is recorded (its column then shows "—").
    """

    def col(m: Mapping[str, Any], key: str, fmt: str) -> str:
        if not m:
            return "—"
        v = m[key]
        return _fmt(v.values() if isinstance(v, Mapping) else v, fmt)

    lam = "λ = " + " / ".join(f"{v:g}" for v in ours["lambdas"])
    rows = [
        ("max LHS/RHS of eq. (2), tanh / relu / linear", "≤ 1 (proof)", "{:.3f}", "max_ratio"),
        ("median LHS/RHS, tanh / relu / linear", "—", "{:.3f}", "median_ratio"),
        (
            "‖W‖ at init: N(0, 1/n) / PyTorch default / orthogonal",
            "≈ 0 (paper); ≈ 1, nearly orthogonal (article)",
            "{:.2f}",
            "init_norms",
        ),
        (
            f"E‖∂logits/∂x‖²_F on test, {lam}",
            "falls with the penalty (paper)",
            "{:.0f}",
            "dirichlet",
        ),
        (f"E‖∇ₓL‖ on test, {lam}", "falls (implied by eq. (2))", "{:.3f}", "input_grad"),
        (f"FGSM accuracy, {lam}", "—", "{:.3f}", "fgsm_accuracy"),
        (f"clean test accuracy, {lam}", "—", "{:.3f}", "accuracy"),
        (
            "bracket of eq. (2) after training / at init",
            "roughly constant (article)",
            "{:.3f}",
            "bracket_drop",
        ),
    ]
    return [(q, said, col(ours, key, fmt), col(recorded, key, fmt)) for q, said, fmt, key in rows]
