"""Chapter 25 (flooding): the two-step-map exploration and the chapter's figures.

* :data:`two_step`: alternate a descent step ε₁ and an ascent step ε₂ on a 2-D toy loss and
  compare the path with gradient descent on L + λ‖∇L‖², λ = ε₁ε₂/(2(ε₁ − ε₂)) (article
  eq. (6); for ε₁ = ε₂ the pure penalty ‖∇L‖² with learning rate ε²/2, article eq. (3));
* figures (each returns a matplotlib ``Figure`` from :func:`kexue_lab.plot.figure`):
  :func:`pair_errors`, :func:`sinusoid_curves`, :func:`real_data_bars`;
* :func:`comparison_rows`: the rows of the chapter's comparison table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: where every path of the exploration starts
START = (1.2, -1.6)
_EPS_GRID = np.geomspace(1e-3, 0.3, 40)


def toy_loss(theta: np.ndarray) -> np.ndarray:
    """L(θ) = θ₁⁴/4 + θ₁θ₂ + sin θ₂ + θ₂², the chapter's 2-D toy loss (rows of θ)."""
    t1, t2 = theta[..., 0], theta[..., 1]
    return t1**4 / 4 + t1 * t2 + np.sin(t2) + t2**2


def toy_grad(theta: np.ndarray) -> np.ndarray:
    """∇L of :func:`toy_loss`: (θ₁³ + θ₂, θ₁ + cos θ₂ + 2θ₂)."""
    t1, t2 = theta[..., 0], theta[..., 1]
    return np.stack([t1**3 + t2, t1 + np.cos(t2) + 2 * t2], axis=-1)


def _penalty_grad(theta: np.ndarray) -> np.ndarray:
    """∇‖∇L‖² = 2Hg for :func:`toy_loss`, H = [[3θ₁², 1], [1, 2 − sin θ₂]]."""
    g = toy_grad(theta)
    t1, t2 = theta[..., 0], theta[..., 1]
    h11, h22 = 3 * t1**2, 2 - np.sin(t2)
    return 2 * np.stack([h11 * g[..., 0] + g[..., 1], g[..., 0] + h22 * g[..., 1]], axis=-1)


def pair_map(theta: np.ndarray, eps1: float, eps2: float, order: str) -> np.ndarray:
    """One exact pair: descent ε₁ then ascent ε₂ (``order="down-up"``), or the reverse."""
    if order == "down-up":
        mid = theta - eps1 * toy_grad(theta)
        return mid + eps2 * toy_grad(mid)
    mid = theta + eps2 * toy_grad(theta)
    return mid - eps1 * toy_grad(mid)


def predicted_map(theta: np.ndarray, eps1: float, eps2: float) -> np.ndarray:
    """The second-order prediction −(ε₁ − ε₂)g − (ε₁ε₂/2)∇‖g‖² added to θ (article eq. (6))."""
    return theta - (eps1 - eps2) * toy_grad(theta) - eps1 * eps2 / 2 * _penalty_grad(theta)


def _grad_scalar(p: tuple[float, float]) -> tuple[float, float]:
    return p[0] ** 3 + p[1], p[0] + math.cos(p[1]) + 2 * p[1]


def _pair_scalar(
    p: tuple[float, float], eps1: float, eps2: float, order: str
) -> tuple[float, float]:
    """:func:`pair_map` on one point, with floats."""
    first, second = (-eps1, eps2) if order == "down-up" else (eps2, -eps1)
    g = _grad_scalar(p)
    mid = (p[0] + first * g[0], p[1] + first * g[1])
    g = _grad_scalar(mid)
    return mid[0] + second * g[0], mid[1] + second * g[1]


def _predicted_scalar(p: tuple[float, float], eps1: float, eps2: float) -> tuple[float, float]:
    """:func:`predicted_map` on one point, with floats."""
    g = _grad_scalar(p)
    h11, h22 = 3 * p[0] ** 2, 2 - math.sin(p[1])
    pen = (2 * (h11 * g[0] + g[1]), 2 * (g[0] + h22 * g[1]))
    c = eps1 * eps2 / 2
    return p[0] - (eps1 - eps2) * g[0] - c * pen[0], p[1] - (eps1 - eps2) * g[1] - c * pen[1]


def _relative_error(eps1: np.ndarray, ratio: float, order: str) -> np.ndarray:
    th = np.asarray(START, dtype=float)
    exact = np.stack([pair_map(th, e, ratio * e, order) - th for e in eps1])
    pred = np.stack([predicted_map(th, e, ratio * e) - th for e in eps1])
    return np.linalg.norm(exact - pred, axis=-1) / np.linalg.norm(pred, axis=-1)


@exploration(
    slider("eps", 0.01, 0.3, steps=5, log=True, default=0.1, include=[0.1], label="ε₁"),
    slider("ratio", 0.0, 1.0, steps=5, default=1.0, label="ε₂/ε₁"),
    choice("order", ["down-up", "up-down"], default="down-up", label="order"),
    title="Flooding's two-step map against gradient descent on L + λ‖∇L‖²",
    height=380,
)
def two_step(eps: float = 0.1, ratio: float = 1.0, order: str = "down-up") -> View:
    """Paths of the exact pairs and of the predicted map on the 2-D toy loss (chapter 25).

    Both start at :data:`START` and run for the same number of pairs, chosen so the path
    covers about the same distance whatever ε; the right panel shows the one-pair relative
    error ‖Δ_exact − Δ_pred‖/‖Δ_pred‖ against ε₁ (it falls like ε₁).
    """
    from .. import _validate

    eps = _validate.positive("eps", eps)
    ratio = _validate.in_range("ratio", ratio, 0.0, 1.0)
    _validate.choice("order", order, ("down-up", "up-down"))
    eps2 = ratio * eps
    speed = (eps - eps2) + eps * eps2  # the predicted step's scale per pair
    pairs = int(min(1500, math.ceil(1.5 / speed)))
    exact, pred = [START], [START]
    for _ in range(pairs):  # scalar loops: far faster than NumPy on 2-vectors
        exact.append(_pair_scalar(exact[-1], eps, eps2, order))
        pred.append(_predicted_scalar(pred[-1], eps, eps2))
    keep = np.unique(np.linspace(0, pairs, 90).astype(int))
    ex, pr = np.array(exact)[keep], np.array(pred)[keep]
    err = _relative_error(_EPS_GRID, ratio, order)
    lam = "∞ (pure penalty)" if ratio == 1 else f"{eps * eps2 / (2 * (eps - eps2)):.3g}"
    panels = [
        Panel(
            [
                Curve(ex[:, 0], ex[:, 1], "exact pairs", color=0),
                Curve(pr[:, 0], pr[:, 1], "GD on L + λ‖∇L‖²", style="dashed", color=1),
            ],
            title=f"{pairs} pairs from {START}",
            xlabel="θ₁",
            ylabel="θ₂",
        ),
        Panel(
            [Curve(_EPS_GRID, err, "one pair, from the start", color=2)],
            title="relative error of the prediction",
            xlabel="ε₁",
            ylabel="‖Δ − Δ_pred‖ / ‖Δ_pred‖",
            xlog=True,
            ylog=True,
            vlines=[(eps, "ε₁")],
        ),
    ]
    gap = float(np.linalg.norm(ex[-1] - pr[-1]))
    here = float(_relative_error(np.array([eps]), ratio, order)[0])
    readout = (
        f"λ = ε₁ε₂/(2(ε₁ − ε₂)) = {lam} · one-pair relative error {here:.2e} · "
        f"end points {gap:.1e} apart"
    )
    return View(panels, readout=readout)


# ---- figures ----
def pair_errors(eps: Sequence[float], errors: Mapping[str, Sequence[float]]) -> Any:
    """Relative error of the two-step prediction against ε, one line per scheme (log–log)."""
    fig, ax = figure(1, 1, figsize=(6, 3.6))
    e = np.asarray(eps, dtype=float)
    for name, err in errors.items():
        ax.loglog(e, err, "o-", label=name)
    ax.loglog(e, e * errors[next(iter(errors))][0] / e[0], ":", color="0.5", label="∝ ε")
    ax.set(xlabel="ε", ylabel="‖Δ − Δ_pred‖ / ‖Δ_pred‖", title="two steps vs one penalty step")
    ax.legend(fontsize=8.5)
    return fig


def sinusoid_curves(
    steps: np.ndarray,
    train: Mapping[str, np.ndarray],
    test_steps: np.ndarray,
    test: Mapping[str, np.ndarray],
) -> Any:
    """Left: training loss per flood level (mean over seeds); right: test loss (Sinusoid-2D)."""
    fig, axes = figure(1, 2, figsize=(10, 3.6))
    for k, (name, curve) in enumerate(train.items()):
        axes[0].plot(steps, curve, color=f"C{k}", label=name)
        axes[1].plot(test_steps, test[name], color=f"C{k}", label=name)
    axes[0].set(xlabel="step", ylabel="training loss", title="training loss (mean over seeds)")
    axes[0].set_ylim(0, 0.75)
    axes[1].set(xlabel="step", ylabel="test loss", title="test loss (mean over seeds)")
    axes[0].legend(fontsize=8.5)
    return fig


def real_data_bars(levels: Sequence[float], val: np.ndarray, test: np.ndarray) -> Any:
    """Validation and test accuracy per flood level, mean ± std over seeds (rows: seeds)."""
    fig, axes = figure(1, 2, figsize=(10, 3.4))
    x = np.arange(len(levels))
    for ax, acc, name in [(axes[0], val, "validation"), (axes[1], test, "test")]:
        acc = 100 * np.asarray(acc)
        ax.errorbar(x, acc.mean(0), yerr=acc.std(0, ddof=1), fmt="o", capsize=4)
        for row in acc:
            ax.plot(x, row, color="0.75", lw=0.8, zorder=0)
        ax.set_xticks(x, [f"b = {b:g}" for b in levels])
        ax.set(ylabel="accuracy (%)", title=f"{name} accuracy, mean ± std over seeds")
    return fig


def comparison_rows(ours: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[list[str]]:
    """Rows (quantity, article / paper, ours, recorded full run) of the comparison table."""

    def acc(m: Mapping[str, Any], key: str) -> str:
        if key not in m:
            return "—"
        mean, std = m[key]
        where = f" ({m['data']})" if key.startswith("real") and "data" in m else ""
        return f"{100 * mean:.1f} ± {100 * std:.1f} %{where}"

    rows = [
        [
            "training loss after flooding starts",
            "floats around b (paper, Fig. 1)",
            f"within {ours['band']:.1e} of b (full batch)",
            "—",
        ],
        [
            "Sinusoid-2D test accuracy, b = 0",
            "flooding helps or matches (paper, abstract; demo run_demo_synth.py)",
            acc(ours, "sin_acc_b0"),
            "—",
        ],
        ["Sinusoid-2D test accuracy, b chosen on validation", "", acc(ours, "sin_acc_chosen"), "—"],
        [
            "real data: test accuracy, b = 0",
            "improves performance (paper, abstract)",
            acc(ours, "real_acc_b0"),
            acc(recorded, "real_acc_b0"),
        ],
        [
            "real data: test accuracy, b chosen on validation",
            "",
            acc(ours, "real_acc_chosen"),
            acc(recorded, "real_acc_chosen"),
        ],
    ]
    return rows
