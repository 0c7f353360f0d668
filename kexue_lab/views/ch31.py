"""Chapter 31 (GRU + AM-Softmax sentence similarity): the margin exploration and the figures.

* :data:`margin_geometry`: two unit class vectors φ apart and a feature z in their plane at
  angle θ from c₁: the target logit ψ(θ) of softmax, AM-Softmax and the simpler A-Softmax, the
  loss of class 1 along θ, and the angles where class 1 wins under each;
* :func:`embedding_geometry`: cosines of same-group and other-group pairs of held-out
  sentences, and a 2-D PCA of a few groups, for each loss;
* :func:`comparison_rows`: the article's retrieval table beside ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: the article's retrieval accuracies on its private corpus (top-1, top-5, top-10)
ARTICLE = {
    "softmax": (0.9077, 0.9565, 0.9673),
    "am": (0.9172, 0.9607, 0.9709),
    "simpler_a": (0.9135, 0.9587, 0.9697),
}
NAMES = {"softmax": "softmax (s = 30, m = 0)", "am": "AM-Softmax", "simpler_a": "simpler A-Softmax"}

_THETA = np.linspace(0.0, 180.0, 181)


def psi(theta_deg: np.ndarray, kind: str, m: float) -> np.ndarray:
    """The target logit ψ(θ): cos θ, cos θ − m, or min(cos 4θ, cos θ) (θ in degrees)."""
    t = np.radians(theta_deg)
    if kind == "softmax":
        return np.cos(t)
    if kind == "am":
        return np.cos(t) - m
    return np.minimum(np.cos(4 * t), np.cos(t))


def _win_angle(kind: str, m: float, phi: float) -> float:
    """The largest θ ∈ [0°, φ] up to which class 1 beats class 2 (fine grid, 0.01°)."""
    theta = np.arange(0.0, phi + 1e-9, 0.01)
    wins = psi(theta, kind, m) > np.cos(np.radians(phi - theta))
    return float(theta[np.argmin(wins)]) if not wins.all() else phi


@exploration(
    slider("s", 1.0, 64.0, steps=7, log=True, default=30.0, label="scale s"),
    slider("m", 0.0, 0.6, steps=7, default=0.35, include=[0.35], label="AM margin m"),
    slider("phi", 30.0, 150.0, steps=5, default=90.0, label="angle φ between c₁, c₂ (°)"),
    choice("loss", {"all three": "all", "AM-Softmax only": "am"}, label="show"),
    title="Margins on the circle: where class 1 wins, and what it costs",
    height=380,
)
def margin_geometry(s: float = 30.0, m: float = 0.35, phi: float = 90.0, loss: str = "all") -> View:
    """Class vectors c₁, c₂ at angle φ; z at angle θ from c₁ (between them for θ < φ).

    Left: the target logit ψ(θ) of each loss. Right: the loss of target class 1 in the
    two-class problem, softplus(s·cos(φ − θ) − s·ψ(θ)). Readout: the angle up to which
    class 1 wins; without a margin it is φ/2, the margin moves it towards c₁ and leaves a band
    that neither class claims.
    """
    kinds = ["softmax", "am", "simpler_a"] if loss == "all" else ["am"]
    left, right, wins = [], [], []
    for k in kinds:
        color = ["softmax", "am", "simpler_a"].index(k)
        p = psi(_THETA, k, m)
        left.append(Curve(_THETA, p, NAMES[k], color=color))
        rival = s * np.cos(np.radians(np.abs(phi - _THETA)))
        right.append(Curve(_THETA, np.logaddexp(0.0, rival - s * p), "", color=color))
        wins.append(f"{NAMES[k].split(' (')[0]} θ < {_win_angle(k, m, phi):.1f}°")
    left.append(
        Curve(_THETA, np.cos(np.radians(np.abs(phi - _THETA))), "cos(φ − θ): rival", "dashed", 3)
    )
    panels = [
        Panel(left, "target logit ψ(θ) (÷ s)", "θ = angle(z, c₁) (°)", "ψ", ylim=(-1.1, 1.1),
              vlines=[(phi, "c₂")]),
        Panel(right, "loss of class 1 (two classes)", "θ (°)", "−log p₁", ylim=(0.0, 2.0 * s),
              vlines=[(phi / 2, "φ/2")]),
    ]  # fmt: skip
    return View(panels, readout="class 1 wins for: " + "; ".join(wins))


def embedding_geometry(
    cosines: Mapping[str, tuple[np.ndarray, np.ndarray]],
    points: Mapping[str, np.ndarray],
    groups: np.ndarray,
) -> Any:
    """Per loss: histograms of same-group and other-group cosines (top row) and a 2-D PCA of
    the embeddings of a few held-out groups, coloured by group (bottom row).

    ``cosines[kind]`` = (same-group cosines, other-group cosines); ``points[kind]`` the
    (n, dim) embeddings of the sentences whose group ids are ``groups``.
    """
    kinds = list(cosines)
    if not kinds or set(kinds) != set(points):
        raise ValueError(
            f"cosines and points must name the same losses, got {kinds}, {list(points)}"
        )
    fig, axes = figure(
        2, len(kinds), figsize=(4.2 * len(kinds), 7.2), squeeze=False, layout="constrained"
    )
    bins = np.linspace(-1, 1, 61)
    for j, k in enumerate(kinds):
        same, other = cosines[k]
        ax = axes[0, j]
        ax.hist(other, bins, density=True, alpha=0.6, label="other groups")
        ax.hist(same, bins, density=True, alpha=0.6, label="same group")
        ax.set(title=NAMES.get(k, k), xlabel="cosine of two held-out sentences")
        ax.legend(fontsize=8)
        z = np.asarray(points[k], dtype=float)
        z = z - z.mean(0)
        _, _, vt = np.linalg.svd(z, full_matrices=False)
        xy = z @ vt[:2].T
        axes[1, j].scatter(xy[:, 0], xy[:, 1], c=np.asarray(groups), cmap="tab10", s=18)
        axes[1, j].set(title="PCA of 10 held-out groups", xticks=[], yticks=[])
    return fig


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (loss, article top-1/5/10, ours, recorded full run): ``ours["topk"][kind]`` holds
    the mean and spread of top-1, top-5, top-10 over seeds, as ``[[mean, std], ×3]``."""

    def cell(metrics: Mapping[str, Any], kind: str) -> str:
        if not metrics or kind not in metrics.get("topk", {}):
            return "—"
        stats = " / ".join(f"{mu:.3f}±{sd:.3f}" for mu, sd in metrics["topk"][kind])
        n = metrics.get("seeds", {}).get(kind)
        return f"{stats} ({n} seed{'s' if n != 1 else ''})" if n else stats

    rows = [
        (NAMES[k], " / ".join(f"{v:.4f}" for v in ARTICLE[k]), cell(ours, k), cell(recorded, k))
        for k in ARTICLE
    ]
    if "bag_of_chars" in ours:
        base = " / ".join(f"{v:.3f}" for v in ours["bag_of_chars"])
        full = " / ".join(f"{v:.3f}" for v in recorded.get("bag_of_chars", [])) or "—"
        rows.append(("bag of characters (no training)", "—", base, full))
    return rows
