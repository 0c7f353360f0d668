"""Chapter 29 (logit adjustment): the 1-D exploration, the chapter's figures and its table.

* :data:`two_gaussians`: the prior-weighted densities of x|0 ~ N(0, 1) and x|1 ~ N(Δ, 1)
  with the plain-CE (Bayes) boundary, the balanced boundary and the τ-adjusted one, and the
  head, tail, balanced and overall errors of each;
* figures: :func:`tau_sweep` (balanced accuracy against τ, post-hoc and loss-time) and
  :func:`per_class` (per-class accuracy of each method, head to tail);
* :func:`comparison_rows`: our balanced accuracies beside the paper's CIFAR-LT ones.

The formulas live in :mod:`kexue_lab.losses.logit_adjustment`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..losses import logit_adjustment as la
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

_X = np.linspace(-4.0, 8.0, 97)

#: balanced test accuracy with ResNet-32 on CIFAR-LT (EXP-100), README of the paper's code
#: (google-research/logit_adjustment): ERM, post-hoc adjustment, logit-adjusted loss
PAPER = {
    "CIFAR-10-LT": (0.7136, 0.7732, 0.7789),
    "CIFAR-100-LT": (0.3987, 0.4407, 0.4406),
}


def _normal(x: np.ndarray, mean: float) -> np.ndarray:
    return np.exp(-0.5 * (x - mean) ** 2) / np.sqrt(2 * np.pi)


@exploration(
    slider("p", 0.01, 0.5, steps=7, log=True, default=0.1, label="tail prior p(y = 1)"),
    slider("delta", 1.0, 4.0, steps=7, default=2.0, label="separation Δ"),
    slider("tau", 0.0, 2.0, steps=9, default=0.5, label="τ"),
    title="Two Gaussians: where the boundary goes as τ moves from 0 (plain CE) to 1 (balanced)",
    height=360,
)
def two_gaussians(p: float = 0.1, delta: float = 2.0, tau: float = 0.5) -> View:
    """Prior-weighted class densities and three boundaries (exploration of chapter 29).

    x*(τ) = Δ/2 + (1 − τ)·ln((1 − p)/p)/Δ: τ = 0 is the rule plain cross-entropy learns (best
    overall accuracy), τ = 1 the logit-adjusted one (best balanced accuracy). The readout gives
    the tail-class error and the balanced and overall errors of each boundary.
    """
    bayes = la.two_gaussian_boundary(p, delta, 0.0)
    balanced = la.two_gaussian_boundary(p, delta, 1.0)
    chosen = la.two_gaussian_boundary(p, delta, tau)
    curves = [
        Curve(_X, (1 - p) * _normal(_X, 0.0), "(1 − p)·N(x; 0, 1), head", color=0),
        Curve(_X, p * _normal(_X, delta), "p·N(x; Δ, 1), tail", color=1),
    ]
    vlines = [(bayes, "plain CE (τ = 0)"), (balanced, "balanced (τ = 1)"), (chosen, f"τ = {tau:g}")]
    panel = Panel(
        curves, title="prior-weighted densities", xlabel="x", ylabel="density", vlines=vlines
    )
    parts = []
    for name, b in [("τ = 0", bayes), ("τ = 1", balanced), (f"τ = {tau:g}", chosen)]:
        e = la.two_gaussian_errors(p, delta, b)
        parts.append(
            f"{name}: x* = {b:.3f}, tail error {e['tail']:.3f}, "
            f"balanced {e['balanced']:.3f}, overall {e['overall']:.3f}"
        )
    return View([panel], readout=" · ".join(parts))


# ---- figures ----
def tau_sweep(
    taus: Sequence[float],
    posthoc: np.ndarray,
    loss_taus: Sequence[float],
    loss: np.ndarray,
    title: str = "",
) -> Any:
    """Balanced accuracy against τ: post-hoc (rows of ``posthoc``: one per run, one column per
    τ in ``taus``) and loss-time (``loss``: runs × ``loss_taus``); mean ± one standard deviation."""
    fig, ax = figure(figsize=(7, 3.6))
    for k, (xs, acc, name) in enumerate(
        [
            (taus, posthoc, "post-hoc: argmax g − τ log π"),
            (loss_taus, loss, "loss: CE(f + τ log π)"),
        ]
    ):
        acc = np.asarray(acc, dtype=float)
        mean, sd = acc.mean(0), acc.std(0)
        ax.plot(xs, mean, "o-" if k else "-", color=f"C{k}", label=name)
        ax.fill_between(xs, mean - sd, mean + sd, color=f"C{k}", alpha=0.2)
    ax.axvline(1.0, color="0.6", lw=0.8)
    ax.set(xlabel="τ", ylabel="balanced test accuracy", title=title)
    ax.legend()
    return fig


def per_class(recalls: Mapping[str, np.ndarray], counts: Sequence[int], title: str = "") -> Any:
    """Per-class test accuracy of each method (bars; classes head to tail, labelled n_c)."""
    fig, ax = figure(figsize=(8, 3.6))
    k = len(recalls)
    width = 0.8 / k
    pos = np.arange(len(counts))
    for i, (name, r) in enumerate(recalls.items()):
        ax.bar(pos + (i - (k - 1) / 2) * width, r, width, label=name)
    ax.set_xticks(pos, [f"{c}\n(n={n})" for c, n in enumerate(counts)])
    ax.set(xlabel="class (training count)", ylabel="test accuracy", ylim=(0, 1.22), title=title)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(fontsize=8.5, loc="upper center", ncol=k)
    return fig


# ---- the comparison table ----
def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (method, paper, ours, recorded full run) of balanced test accuracies.

    ``ours``/``recorded`` hold ``data`` and ``balanced_accuracy`` = {"erm", "posthoc", "loss"}:
    (mean, sd) over the runs; ``recorded`` is empty before a full run is recorded ("—").
    """

    def cell(metrics: Mapping[str, Any], key: str) -> str:
        if not metrics:
            return "—"
        mean, sd = metrics["balanced_accuracy"][key]
        return f"{mean:.3f} ± {sd:.3f} ({metrics['data']}-LT)"

    names = {
        "erm": "plain CE (ERM)",
        "posthoc": "post-hoc adjustment, τ = 1",
        "loss": "logit-adjusted loss, τ = 1",
    }
    rows = []
    for i, (key, name) in enumerate(names.items()):
        paper = " / ".join(f"{v[i]:.4f}" for v in PAPER.values())
        rows.append((name, paper, cell(ours, key), cell(recorded, key)))
    return rows
