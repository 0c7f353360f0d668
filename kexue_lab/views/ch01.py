"""Chapter 01 (from maximum likelihood to EM): the explorations and the figures of the notebook.

* :data:`coordinate_descent`: EM on iris petal lengths as alternating minimisation of the
  joint objective J(q, θ), half step by half step (article eqs. (17)–(20));
* :data:`local_optima`: EM from four starts on the iris petals (2-D, spherical components):
  one start ends in a worse optimum, one on a saddle it never leaves;
* :func:`kl_staircase`: the joint and the marginal KL of the two-coin problem per half step;
* :func:`loglik_curves`: the mean log-likelihood per iteration of several EM runs.

Each figure function returns a matplotlib ``Figure`` (:func:`kexue_lab.plot.figure`), shown once
as a cell's last expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..foundations import em
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Do & Batzoglou (Nature Biotechnology 26, 2008), Fig. 1b, as printed: (values, half a unit of
#: the last printed digit). Sets of 10 tosses with 5, 9, 8, 4, 7 heads; start θ_A = 0.6, θ_B = 0.5.
DO_BATZOGLOU: dict[str, tuple[list, float]] = {
    "p(A | set), E-step 1": ([0.45, 0.80, 0.73, 0.35, 0.65], 0.005),
    "expected heads, tails of coin A": (
        [[2.2, 2.2], [7.2, 0.8], [5.9, 1.5], [1.4, 2.1], [4.5, 1.9]],
        0.05,
    ),
    "expected heads, tails of coin B": (
        [[2.8, 2.8], [1.8, 0.2], [2.1, 0.5], [2.6, 3.9], [2.5, 1.1]],
        0.05,
    ),
    "totals: heads A, B; tails A, B": ([21.3, 11.7, 8.6, 8.4], 0.05),
    "θ_A, θ_B after iteration 1": ([0.71, 0.58], 0.005),
    "θ_A, θ_B after iteration 10": ([0.80, 0.52], 0.005),
}
#: The start of :data:`coordinate_descent`: both means among the long petals, so EM needs
#: about fifteen iterations to move one of them to the short ones.
PETAL_START = ((5.0,), (6.0,))
PETAL_ITERS = 25
#: The starts of :data:`local_optima` (petal length, petal width in cm).
STARTS: dict[str, tuple[tuple[float, float], ...]] = {
    "one per species": ((1.5, 0.3), (4.3, 1.3), (5.5, 2.0)),
    "two in setosa": ((1.3, 0.2), (1.3, 0.4), (4.9, 1.8)),
    "all in a corner": ((6.5, 2.3), (6.7, 2.4), (6.9, 2.5)),
    "all equal": ((3.76, 1.2), (3.76, 1.2), (3.76, 1.2)),
}
OPTIMA_ITERS = 40
_GRID = np.linspace(0.5, 7.5, 141)
_CIRCLE = np.linspace(0, 2 * np.pi, 49)
_FLOOR = 1e-12  # log axes: distances below this are drawn at this height


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    bunch = load_iris()
    return bunch.data, bunch.target


@lru_cache(maxsize=1)
def petal_half_steps() -> list[em.HalfStep]:
    """EM with k = 2 on the 150 iris petal lengths from :data:`PETAL_START` (2·25 + 1 states)."""
    x = _iris()[0][:, 2:3]
    return em.em_half_steps(x, 2, PETAL_ITERS, init_means=np.array(PETAL_START))


@lru_cache(maxsize=1)
def petal_optima() -> dict[str, list[em.HalfStep]]:
    """EM (k = 3, spherical) on iris petal length and width from each of :data:`STARTS`."""
    x = _iris()[0][:, 2:4]
    return {
        name: em.em_half_steps(x, 3, OPTIMA_ITERS, init_means=np.array(start), cov="spherical")
        for name, start in STARTS.items()
    }


def _normal_pdf(x: np.ndarray, mean: float, var: float) -> np.ndarray:
    return np.exp(-0.5 * (x - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


def _posterior_first(state: em.HalfStep) -> np.ndarray:
    """p_θ(component 1 | x) on the plotting grid for the state's θ."""
    dens = np.stack(
        [
            w * _normal_pdf(_GRID, m[0], c[0, 0])
            for w, m, c in zip(state.weights, state.means, state.covariances)
        ]
    )
    return dens[0] / dens.sum(0)


@exploration(
    slider("step", 1, PETAL_ITERS, steps=PETAL_ITERS, default=1, integer=True, label="iteration r"),
    choice("half", {"after the M-step": "M", "after the E-step": "E"}, default="M", label="half"),
    title="EM as coordinate descent on J(q, θ): iris petal lengths, two components",
    height=400,
)
def coordinate_descent(step: int = 1, half: str = "M") -> View:
    """One half step of EM on the iris petal lengths (chapter 01, article eqs. (18)–(20)).

    Left: the data (histogram, density scale) and the mixture p_θ. Middle: the guess
    q(component 1 | x) that J uses and the posterior p_θ(component 1 | x) of the current θ;
    they coincide after each E-step. Right: J and −ℓ = −(1/n) Σ log p_θ(x_i) over the
    neighbouring half steps: the M-step lowers both, the E-step drops J onto −ℓ.
    """
    step = _validate.int_at_least("step", step, 1)
    _validate.choice("half", half, ("M", "E"))
    states = petal_half_steps()
    step = min(step, PETAL_ITERS)
    index = 2 * step - (half == "M")
    state, before = states[index], states[2 * step - 2]
    x = _iris()[0][:, 2]
    counts, edges = np.histogram(x, bins=28, range=(0.5, 7.5), density=True)
    parts = [
        w * _normal_pdf(_GRID, m[0], c[0, 0])
        for w, m, c in zip(state.weights, state.means, state.covariances)
    ]
    left = Panel(
        [
            Curve(np.repeat(edges, 2)[1:-1], np.repeat(counts, 2).round(4), "data", color=5),
            Curve(_GRID, (parts[0] + parts[1]).round(5), "mixture p_θ(x)", color=0),
            Curve(_GRID, parts[0].round(5), "π₁N(x; μ₁, σ₁²)", "dashed", 1),
            Curve(_GRID, parts[1].round(5), "π₂N(x; μ₂, σ₂²)", "dashed", 2),
        ],
        title="petal length and the mixture",
        xlabel="petal length (cm)",
        ylabel="density",
        ylim=(0.0, 0.85),
    )
    guess = _posterior_first(before if half == "M" else state)
    middle = Panel(
        [
            Curve(_GRID, guess.round(4), "q(1 | x), used by J", color=3),
            Curve(_GRID, _posterior_first(state).round(4), "p_θ(1 | x)", "dashed", 0),
        ],
        title="responsibility of component 1",
        xlabel="petal length (cm)",
        ylabel="probability",
        ylim=(-0.02, 1.02),
    )
    lo, hi = max(0, index - 4), min(len(states), index + 5)
    t = np.arange(lo, hi) / 2
    right = Panel(
        [
            Curve(t, [s.objective for s in states[lo:hi]], "J(q, θ)", color=3),
            Curve(t, [s.nll for s in states[lo:hi]], "−ℓ(θ)", "dashed", 0),
            Curve([index / 2], [state.objective], state.step, "markers", 7),
        ],
        title="J and −ℓ around this half step",
        xlabel="iteration (M-step at r − ½)",
        ylabel="nats per sample",
    )
    readout = (
        f"{state.step}: J = {state.objective:.6f}, −ℓ = {state.nll:.6f}, "
        f"gap J − (−ℓ) = mean KL(q ‖ p_θ(·|x)) = {state.gap:.2e}"
    )
    return View([left, middle, right], readout=readout)


@exploration(
    choice("start", {name: name for name in STARTS}, default="two in setosa", label="start"),
    slider(
        "r",
        0,
        OPTIMA_ITERS,
        steps=OPTIMA_ITERS + 1,
        default=OPTIMA_ITERS,
        integer=True,
        label="iteration",
    ),
    title="Where EM ends depends on where it starts: iris petals, three spherical components",
    height=400,
)
def local_optima(start: str = "two in setosa", r: int = OPTIMA_ITERS) -> View:
    """EM (k = 3, spherical) on iris petal length and width from one of :data:`STARTS`.

    Left: the three species and each component's mean and 2σ contour (a circle, drawn
    on unequal axes) after ``r`` iterations.
    Right: the mean log-likelihood of every start per iteration. "all equal" sits on a saddle
    point (the three components stay identical), "two in setosa" ends below the others.
    """
    _validate.choice("start", start, tuple(STARTS))
    r = min(_validate.non_negative_int("r", r), OPTIMA_ITERS)
    runs = petal_optima()
    state = runs[start][2 * r]
    data, species = _iris()
    curves = [
        Curve(data[species == s, 2], data[species == s, 3], name, "markers", colour)
        for s, (name, colour) in enumerate((("setosa", 5), ("versicolor", 6), ("virginica", 3)))
    ]
    for j, (m, c) in enumerate(zip(state.means, state.covariances)):
        radius = 2 * np.sqrt(c[0, 0])
        ring_x = (m[0] + radius * np.cos(_CIRCLE)).round(3)
        ring_y = (m[1] + radius * np.sin(_CIRCLE)).round(3)
        curves.append(Curve(ring_x, ring_y, f"component {j + 1} (2σ contour)", color=j))
    curves.append(
        Curve(state.means[:, 0].round(3), state.means[:, 1].round(3), "means", "markers", 7)
    )
    left = Panel(
        curves, title=f"after {r} iterations", xlabel="petal length (cm)", ylabel="petal width (cm)"
    )
    its = np.arange(OPTIMA_ITERS + 1)
    lines = [
        Curve(its, [-s.nll for s in states[::2]], name, "line" if name == start else "dotted", i)
        for i, (name, states) in enumerate(runs.items())
    ]
    right = Panel(
        lines,
        title="mean log-likelihood per iteration",
        xlabel="iteration",
        ylabel="(1/n) Σ log p_θ(x_i)",
        ylim=(-3.6, -1.1),
        vlines=[(r, "")],
    )
    final = -runs[start][-1].nll
    return View(
        [left, right],
        readout=f"{start}: mean log-likelihood {-state.nll:.4f} at iteration {r}, "
        f"{final:.4f} at {OPTIMA_ITERS}; weights {np.round(state.weights, 3).tolist()}",
    )


def kl_staircase(
    joint: Sequence[float], marginal: Sequence[float], labels: Sequence[str]
) -> Figure:
    """The joint KL (article eq. (17)) and the marginal KL per half step of the two-coin EM.

    ``labels`` name the half steps ("start", "M 1", "E 1", …). Left: both on a linear scale;
    right: the gap joint − marginal on a log scale (zero after every E-step, so not drawn
    there).
    """
    joint_a = _validate.real_array("joint", joint).reshape(-1)
    marginal_a = _validate.real_array("marginal", marginal).reshape(-1)
    if not len(joint_a) == len(marginal_a) == len(labels) or len(labels) < 2:
        raise ValueError("joint, marginal and labels must have the same length (at least 2)")
    t = np.arange(len(labels)) / 2
    fig, (left, right) = figure(1, 2, figsize=(10, 3.4))
    left.step(t, joint_a, where="post", label="joint KL(p̃(X)q(Y|X) ‖ p_θ(X, Y))")
    left.step(t, marginal_a, where="post", ls="--", label="marginal KL(p̃(X) ‖ p_θ(X))")
    left.set(title="two coins: the two KLs per half step", xlabel="iteration", ylabel="nats")
    left.legend()
    m_steps = np.array([lab.startswith("M") for lab in labels])
    right.semilogy(t[m_steps], (joint_a - marginal_a)[m_steps], "o-", label="after each M-step")
    right.set(title="gap = E KL(q(Y|X) ‖ p_θ(Y|X))", xlabel="iteration", ylabel="nats")
    right.legend()
    return fig


def loglik_curves(
    curves: Mapping[str, Any], *, title: str = "", reference: Mapping[str, float] | None = None
) -> Figure:
    """Mean log-likelihood per iteration of several EM runs (left) and its distance to the final
    value (right, log scale). ``reference`` adds a marker per run (e.g. scikit-learn's score)."""
    if not curves:
        raise ValueError("curves must name at least one run")
    fig, (left, right) = figure(1, 2, figsize=(10, 3.4))
    for i, (name, values) in enumerate(curves.items()):
        y = _validate.real_array(f"curves[{name!r}]", values).reshape(-1)
        its = np.arange(1, len(y) + 1)
        left.plot(its, y, color=f"C{i}", label=name)
        right.semilogy(its[:-1], np.maximum(y[-1] - y[:-1], _FLOOR), color=f"C{i}", label=name)
        if reference and name in reference:
            left.plot([its[-1]], [reference[name]], "x", color=f"C{i}", ms=9)
    left.set(title=title or "mean log-likelihood", xlabel="iteration", ylabel="(1/n) Σ log p(x)")
    right.set(title="distance to the final value", xlabel="iteration", ylabel="nats per sample")
    left.legend()
    return fig
