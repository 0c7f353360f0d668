"""Chapter 18's exploration and figure: the dimension formula n > 8.33 log N.

* :data:`dimension_view`: the tilted angle weight behind E[e^{n cos θ}] beside its Laplace
  Gaussian, and the chosen (ln N, n) against the threshold lines;
* :func:`needed_dimension_figure`: the needed dimension against ln N for random and trained
  vectors (experiments 1 and 2 of the chapter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import _validate
from ..architecture import embeddings as emb
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_THETA = np.linspace(0.45, 1.45, 101)
_LOG_N = np.linspace(math.log(10), math.log(1e7), 61)


@exploration(
    slider("n", 8, 512, steps=25, log=True, integer=True, default=64, label="n"),
    slider("N", 1e2, 1e7, steps=21, log=True, include=[512, 1e5], default=1e5, label="N"),
    title="H ≈ 2 ln N + h_n: when does n = dimension suffice?",
)
def dimension_view(n: float = 64, N: float = 1e5) -> View:
    """The tilted angle density and the (ln N, n) plane (chapter 18's exploration).

    Left: sin^{n−2}θ e^{n cos θ}, normalised to peak 1, beside the Laplace Gaussian
    exp(−(√5/2) n (θ − θ*)²) at θ* = arctan √φ. Right: the threshold lines
    n = 8.33 ln N and n = (4/log φ) ln N with the chosen (ln N, n). The readout
    gives H ≈ 2 ln N + h_n and says whether n clears the threshold.
    """
    n = _validate.in_range("n", n, 3.0, 2000.0)
    N = _validate.in_range("N", N, 2.0, 1e12)
    theta_star = math.atan(math.sqrt(emb.PHI))
    logf = (n - 2) * np.log(np.sin(_THETA)) + n * np.cos(_THETA)
    exact = np.exp(logf - logf.max())
    gauss = np.exp(-(math.sqrt(5) / 2) * n * (_THETA - theta_star) ** 2)
    left = Panel(
        curves=[
            Curve(_THETA, exact, "sin^(n−2)θ·e^(n cos θ), scaled"),
            Curve(_THETA, gauss, "Laplace Gaussian", style="dashed", color=1),
        ],
        title="where E[e^(n cos θ)] comes from",
        xlabel="θ (radians)",
        ylabel="relative weight",
        ylim=(0.0, 1.3),
        vlines=[(theta_star, "θ* = 0.905")],
    )
    right = Panel(
        curves=[
            Curve(_LOG_N, emb.ARTICLE_COEF * _LOG_N, "n = 8.33 ln N"),
            Curve(_LOG_N, emb.EXACT_COEF * _LOG_N, "n = 8.312 ln N", style="dotted", color=2),
            Curve([math.log(N)], [n], "your (ln N, n)", style="markers", color=3),
        ],
        title="the threshold in the (ln N, n) plane",
        xlabel="ln N",
        ylabel="dimension n",
        ylim=(0.0, 520.0),
    )
    H = float(emb.approx_entropy(N, n))
    verdict = "H < 0: enough dimensions" if H < 0 else "H ≥ 0: not enough by the formula"
    return View(
        [left, right],
        readout=(
            f"n = {n:.0f}, N = {N:.3g}: H ≈ 2 ln N + h_n = {H:.2f} ({verdict}); "
            f"8.33 ln N = {emb.ARTICLE_COEF * math.log(N):.1f}"
        ),
    )


def needed_dimension_figure(
    random: tuple[Sequence[float], Sequence[float], dict[str, float]],
    trained: tuple[Sequence[float], Sequence[float], dict[str, float]],
) -> Figure:
    """Needed dimension against ln N, with fitted lines and n = 8.33 ln N (chapter 18, §6–7).

    ``random`` and ``trained`` are each ``(Ns, needed n, fit)`` with ``fit`` from
    :func:`kexue_lab.architecture.embeddings.fit_log_slope`. Returns a matplotlib Figure.
    """
    fig, ax = figure(figsize=(7, 3.8))
    labels = ("random vectors: approximation breaks", "trained, k = 4: recall ≥ 0.9")
    for (Ns, ys, fit), label in zip((random, trained), labels):
        if len(Ns) != len(ys) or not {"slope", "intercept"} <= set(fit):
            raise ValueError(f"{label!r}: Ns and n must match and fit needs slope and intercept")
        x = np.log(np.asarray(Ns, dtype=float))
        (line,) = ax.plot(x, ys, "o", label=label)
        ax.plot(x, fit["slope"] * x + fit["intercept"], color=line.get_color())
    xx = np.log([16, 8192])
    ax.plot(xx, emb.ARTICLE_COEF * xx, "--", color="0.4", label="8.33 ln N")
    ax.set(xlabel="ln N", ylabel="needed dimension n", title="needed n vs ln N")
    ax.legend()
    return fig
