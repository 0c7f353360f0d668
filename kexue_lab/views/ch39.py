"""Chapter 39 (math word problems): the cows-and-grass exploration and the accuracy figure.

* :data:`cows_grass` solves the classic 牛吃草 problem for a pasture (two observations fix the
  daily growth ``g`` and the initial stock ``G``) and a herd of ``N3`` cows: the days until the
  grass is gone, ``G/(N3 − g)``, the expression a teacher writes, and the grass left over time;
  with ``N3 ≤ g`` the pasture never runs out and the expression has no meaningful value;
* :func:`accuracy_bars` draws accuracy by problem type at two beam widths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..sequences.mwp import CLASSIC, safe_eval
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: pastures (N1 cows finish in D1 days, N2 cows in D2 days)
PASTURES = {
    "10 cows 20 days, 15 cows 10 days": (10, 20, 15, 10),
    "27 cows 6 days, 23 cows 9 days": (27, 6, 23, 9),
    "8 cows 18 days, 14 cows 6 days": (8, 18, 14, 6),
}


def pasture(n1: int, d1: int, n2: int, d2: int) -> tuple[float, float]:
    """``(g, G)``: daily growth and initial stock (in cow-days) from two observations,
    ``G + g·D = N·D`` for both (chapter 39, §3)."""
    g = (n1 * d1 - n2 * d2) / (d1 - d2)
    return g, n1 * d1 - g * d1


@exploration(
    choice(
        "field", PASTURES, default=PASTURES["10 cows 20 days, 15 cows 10 days"], label="pasture"
    ),
    slider("n3", 1, 30, steps=30, default=25, integer=True, label="N3 cows"),
    title="Cows eating grass: how many days for N3 cows?",
)
def cows_grass(field: tuple[int, int, int, int] = (10, 20, 15, 10), n3: int = 25) -> View:
    """Days until ``n3`` cows have eaten the pasture, against the herd size (chapter 39)."""
    n1, d1, n2, d2 = field
    g, stock = pasture(n1, d1, n2, d2)
    herd = np.arange(1, 31)
    ok = herd > g
    days = np.where(ok, stock / np.maximum(herd - g, 1e-9), np.nan)
    curves = [Curve(herd[ok].tolist(), days[ok].tolist(), "G/(N3 − g)", color=0)]
    if n3 > g:
        curves.append(Curve([n3], [stock / (n3 - g)], f"N3 = {n3}", style="markers", color=1))
    left = Panel(curves, title="days to finish", xlabel="cows N3", ylabel="days", ylog=True)
    t = np.linspace(0, 2 * max(d1, d2), 121)
    left_over = np.maximum(stock + (g - n3) * t, 0)
    right = Panel(
        [Curve(t.tolist(), left_over.tolist(), "grass left", color=2)],
        title=f"{n3} cows: grass left (cow-days)",
        xlabel="day",
        ylabel="grass",
    )
    form = CLASSIC["cows_grass"]["form"]
    for name, v in (("N1", n1), ("D1", d1), ("N2", n2), ("D2", d2), ("N3", n3)):
        form = form.replace(name, str(v))
    head = f"g = {g:g} cows' worth per day, G = {stock:g} · expression {form}"
    if n3 <= g:
        return View([left, right], readout=f"{head} · N3 ≤ g: the grass never runs out")
    return View([left, right], readout=f"{head} = {safe_eval(form):.6g} days")


def accuracy_bars(accuracy: Mapping[str, Sequence[float]], beams: Sequence[int] = (1, 3)) -> Any:
    """Bars of accuracy per problem type, a bar per beam; ``accuracy[kind] = (a_1, a_3)``."""
    fig, ax = figure(1, 1, figsize=(8, 3.2))
    names = list(accuracy)
    x = np.arange(len(names))
    width = 0.8 / len(beams)
    for j, k in enumerate(beams):
        offset = (j - (len(beams) - 1) / 2) * width
        ax.bar(x + offset, [accuracy[n][j] for n in names], width, label=f"beam {k}")
    ax.set_xticks(x, [n.replace("_", "\n") for n in names])
    ax.set(ylim=(0, 1.15), ylabel="accuracy", title="test problems, by type")
    ax.legend(loc="upper center", ncol=len(beams))
    return fig
