"""Chapter 13's exploration and figures: averaging fan-in and fan-out of a non-square matrix.

* :data:`averaging`: the two per-layer losses against log₂(d̄/√(mn)), and the linear
  theory's second moments through m→n→m pairs, for the six rules of
  :mod:`kexue_lab.architecture.init`;
* :func:`stack_profiles`: a theory (lines) against Monte-Carlo means (dots) through a stack;
* :func:`training_curves`: the training loss of each rule, epoch by epoch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..architecture import init
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_X = np.linspace(-3.0, 3.0, 97)  # log₂(d̄/√(mn)) on the loss panel
_LABEL = {
    "fan_in": "fan-in",
    "harmonic": "harmonic",
    "geometric": "geometric",
    "arithmetic": "arithmetic (Xavier)",
    "quadratic": "quadratic (least squares)",
    "fan_out": "fan-out",
}
_SHORT = {
    "fan_in": "in",
    "harmonic": "H",
    "geometric": "G",
    "arithmetic": "A",
    "quadratic": "Q",
    "fan_out": "out",
}


@exploration(
    slider("m", 16, 1024, steps=7, log=True, default=64, label="m (fan-in)"),
    slider("n", 16, 1024, steps=7, log=True, default=256, label="n (fan-out)"),
    slider("pairs", 1, 8, steps=8, integer=True, default=4, label="pairs"),
    title="Average dimensions, losses and moments through m→n→m pairs",
    height=430,
)
def averaging(m: int = 64, n: int = 256, pairs: int = 4) -> View:
    """The two per-layer losses, and moments through m→n→m pairs (chapter 13).

    Left: the excess over their minima of (mt−1)² + (nt−1)² and of
    (ln mt)² + (ln nt)² against log₂(d̄/√(mn)), t = 1/d̄, with the six rules
    marked. Middle and right: the linear theory (``init.stack_log_gains``, as
    log₁₀) of the forward and backward second moments after each matrix of
    ``pairs`` alternating m→n→m pairs.
    """
    m, n, pairs = (
        _validate.positive_int(k, int(round(_validate.real(k, v))))
        for k, v in (("m", m), ("n", n), ("pairs", pairs))
    )
    g = math.sqrt(m * n)
    t = 2.0**-_X / g
    sq = (m * t - 1) ** 2 + (n * t - 1) ** 2 - (m - n) ** 2 / (m * m + n * n)
    lg = np.log(m * t) ** 2 + np.log(n * t) ** 2 - 0.5 * math.log(m / n) ** 2
    marks = [(math.log2(init.average_dim(m, n, k) / g), _SHORT[k]) for k in init.KINDS]
    loss = Panel(
        [
            Curve(_X, sq, "(mt−1)² + (nt−1)²", color=7),
            Curve(_X, lg, "(ln mt)² + (ln nt)²", style="dashed", color=7),
        ],
        title="per-layer losses above their minima",
        xlabel="log₂(d̄ / √(mn))",
        ylabel="excess loss",
        ylim=(0.0, 2.5),
        vlines=marks,
    )
    dims = init.alternating_dims(m, n, pairs)
    k = np.arange(len(dims))
    fwd_curves, bwd_curves = [], []
    for c, kind in enumerate(init.KINDS):
        fwd, bwd = init.stack_log_gains(dims, kind)
        fwd_curves.append(Curve(k, fwd / math.log(10), _LABEL[kind], color=c))
        bwd_curves.append(Curve(k, bwd / math.log(10), "", style="dashed", color=c))
    span = 0.5 + (pairs + 1) * abs(math.log10(n / m))
    panels = [
        loss,
        Panel(
            fwd_curves,
            title="forward: activations",
            xlabel="matrices from the input",
            ylabel="log₁₀ E[h²]/E[x²]",
            ylim=(-span, span),
        ),
        Panel(
            bwd_curves,
            title="backward: gradients",
            xlabel="matrices from the output",
            ylabel="log₁₀ E[g²]/E[g_top²]",
            ylim=(-span, span),
        ),
    ]
    named = {"fan_in": "fan-in", "fan_out": "fan-out"}
    dbars = ", ".join(
        f"{named.get(k, _SHORT[k])} {init.average_dim(m, n, k):.3g}" for k in init.KINDS
    )
    gains = ", ".join(
        f"{_SHORT[k]} {init.pair_gain(m, n, k) ** pairs:.3g}"
        for k in init.MEANS
        if k != "geometric"
    )
    readout = (
        f"m = {m}, n = {n} · d̄: {dbars} · gain after {pairs} pair(s), both ways: {gains}, others 1"
    )
    return View(panels, readout=readout)


def _check_kinds(name: str, values: Any) -> Mapping[str, Any]:
    if not isinstance(values, Mapping) or not values:
        raise TypeError(f"{name} must be a non-empty dict from rule to values, got {values!r}")
    for kind in values:
        _validate.choice(f"{name} key", kind, init.KINDS)
    return values


def stack_profiles(
    lines: Mapping[str, Sequence[np.ndarray]],
    dots: Mapping[str, Sequence[np.ndarray]],
    *,
    title: str,
    note: str = "",
) -> Figure:
    """Forward and backward log₁₀ second-moment ratios through a stack (chapter 13, §5 and §6).

    ``lines[kind]`` is a theory ``(forward, backward)``, each of length L+1 as returned by
    ``init.stack_log_gains`` or ``init.mean_field`` (natural logs); ``dots[kind]`` is a
    Monte-Carlo estimate ``(forward, backward)`` of shape ``(seeds, L+1)`` from
    ``init.propagate``, drawn as the mean over seeds. Each panel is titled
    ``"{title}, forward{note}"`` (or backward). Returns a matplotlib ``Figure`` (shown as a
    cell's last expression).
    """
    lines, dots = _check_kinds("lines", lines), _check_kinds("dots", dots)
    if list(dots) != list(lines):
        raise ValueError(f"dots must have the rules of lines, {list(lines)}, got {list(dots)}")
    fig, axes = figure(1, 2, figsize=(10, 3.8), sharey=True)
    for which, (ax, name) in enumerate(zip(axes, ("forward", "backward"))):
        for c, kind in enumerate(lines):
            theory = np.asarray(lines[kind][which]) / math.log(10)
            depth = np.arange(len(theory))
            ax.plot(depth, theory, color=f"C{c}", lw=1.2, label=kind)
            mc = np.asarray(dots[kind][which]).mean(0) / math.log(10)
            ax.plot(depth, mc, "o", ms=3, color=f"C{c}")
        ax.set(
            title=f"{title}, {name}{note}",
            xlabel="matrices from the " + ("input" if which == 0 else "output"),
        )
    axes[0].set_ylabel("log₁₀ second-moment ratio")
    axes[1].legend(ncol=2)
    return fig


def training_curves(curves: Mapping[str, Sequence[float]], *, title: str) -> Figure:
    """The training loss of each rule per epoch, log scale (chapter 13, §7).

    ``curves[kind]`` holds one loss per epoch. Returns a matplotlib ``Figure``.
    """
    curves = _check_kinds("curves", curves)
    fig, ax = figure(figsize=(7, 3.6))
    for c, (kind, losses) in enumerate(curves.items()):
        ax.plot(np.arange(1, len(losses) + 1), losses, color=f"C{c}", label=kind)
    ax.set(yscale="log", xlabel="epoch", ylabel="training loss (mean over seeds)", title=title)
    ax.legend(ncol=2)
    return fig
