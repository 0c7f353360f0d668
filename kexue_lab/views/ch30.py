"""Chapter 30's exploration and figures: re-weighting read through the per-sample gradient.

* :data:`gradient_factors`: |∂ℓ/∂z| against p for smooth accuracy, CE, focal loss (γ slider)
  and the F1-weighted CE (soft-F1 slider), for positives and negatives;
* :func:`descent_curves`: training accuracy of CE and of smooth accuracy from a bad start;
* :func:`f1_bars`: test F1 of each loss at threshold 0.5 and at the validation-tuned threshold;
* :func:`comparison_rows`: the chapter's table beside the article.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..losses import reweighting as rw
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

_P = np.linspace(0.01, 0.99, 99)


@exploration(
    slider("gamma", 0.0, 5.0, steps=11, default=2.0, label="focal γ"),
    slider("f1", 0.1, 1.0, steps=10, default=0.4, label="soft F1 (F)"),
    title="Per-sample gradient factor |∂ℓ/∂z| against p = σ(z)",
)
def gradient_factors(gamma: float = 2.0, f1: float = 0.4) -> View:
    """|∂ℓ/∂z| for a positive (y = 1) and a negative (y = 0) sample, four losses."""
    panels = []
    for y, side in ((1, "positive (y = 1)"), (0, "negative (y = 0)")):
        curves = [
            Curve(_P, rw.gradient_factor("smooth_acc", _P, y), "−smooth accuracy", color=0),
            Curve(_P, rw.gradient_factor("ce", _P, y), "cross-entropy", style="dashed", color=1),
            Curve(
                _P, rw.gradient_factor("focal", _P, y, gamma=gamma), f"focal γ={gamma:g}", color=2
            ),
            Curve(
                _P, rw.gradient_factor("f1_ce", _P, y, f1=f1), f"F1-weighted CE, F={f1:g}", color=3
            ),
        ]
        panels.append(
            Panel(curves, title=side, xlabel="p = σ(z)", ylabel="|∂ℓ/∂z|", ylim=(0.0, 1.4))
        )
    w_pos, w_neg = 1 - f1 / 2, f1 / 2
    readout = (
        f"F1-weighted CE: positives ×{w_pos:.2f}, negatives ×{w_neg:.2f} "
        f"(ratio {w_pos / w_neg:.2f}); smooth accuracy peaks at 0.25"
    )
    return View(panels, readout=readout)


def descent_curves(accuracy: Mapping[str, Sequence[float]]) -> Any:
    """Training accuracy per gradient step of each objective (keys are the legend)."""
    fig, ax = figure(figsize=(6.5, 3.2))
    for name, acc in accuracy.items():
        ax.plot(np.arange(len(acc)), acc, label=name)
    ax.set(xlabel="gradient step", ylabel="training accuracy", ylim=(0.4, 1.0))
    ax.legend()
    return fig


def f1_bars(labels: Sequence[str], at_half: np.ndarray, tuned: np.ndarray, title: str = "") -> Any:
    """Mean ± standard deviation over seeds of test F1 per loss; arrays are (losses, seeds)."""
    at_half, tuned = np.asarray(at_half, dtype=float), np.asarray(tuned, dtype=float)
    if at_half.shape != tuned.shape or at_half.shape[0] != len(labels):
        raise ValueError(
            f"at_half and tuned must both be (losses={len(labels)}, seeds), got "
            f"{at_half.shape} and {tuned.shape}"
        )
    fig, ax = figure(figsize=(7.5, 3.4))
    pos = np.arange(len(labels))
    for shift, (name, val) in zip((-0.2, 0.2), (("threshold 0.5", at_half), ("tuned", tuned))):
        ax.bar(pos + shift, val.mean(1), 0.4, yerr=val.std(1, ddof=1), capsize=3, label=name)
    ax.set_xticks(pos, [label.replace(" (", "\n(") for label in labels], fontsize=8.5)
    ax.set(ylabel="test F1 (mean ± sd over seeds)", ylim=(0.0, 1.15), title=title)
    ax.legend(loc="upper center", ncol=2)
    return fig


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article, ours, recorded full run) of the chapter's table."""

    def f1_cell(m: Mapping[str, Any], name: str) -> str:
        if name not in m.get("f1_half", {}):
            return "–"
        return f"{m['f1_half'][name]:.3f} → {m['f1_tuned'][name]:.3f}"

    rows = [
        (
            "|∂ℓ/∂z| at p = 0.01 (positive): smooth acc. / CE",
            "p(1 − p) vs 1 − p (§ 'smooth accuracy')",
            ours["factor_at_001"],
            recorded.get("factor_at_001", "–"),
        ),
        (
            "training accuracy after 200 steps from a bad start: CE / smooth acc.",
            "CE optimises better (qualitative)",
            ours["descent"],
            recorded.get("descent", "–"),
        ),
    ]
    for name, label in rw.LOSS_LABELS.items():
        rows.append(
            (
                f"test F1, threshold 0.5 → tuned: {label}",
                "no experiment",
                f1_cell(ours, name),
                f1_cell(recorded, name),
            )
        )
    return rows
