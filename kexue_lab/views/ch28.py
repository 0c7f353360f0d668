"""Chapter 28 (adversarial training): the FGM ≈ gradient-penalty exploration and the figures.

* :data:`penalty_match`: how closely one adversarial step with Δ held fixed matches the
  gradient of a penalty (½ε‖∇ₓL‖², ε‖∇ₓL‖₂ or ε‖∇ₓL‖₁), against ε, for a smooth (tanh) or a
  piecewise-linear (ReLU) network;
* :func:`robustness_curves`: accuracy of the review classifiers under embedding attacks;
* :func:`comparison_rows`: the article's numbers beside ours.

The numbers come from :mod:`kexue_lab.regularization.adversarial`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import torch

from ..nn import mlp
from ..plot import figure
from ..regularization.adversarial import PENALTIES, penalty_gradient_gap
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: the ε grid of the exploration's curves
EPS_GRID = tuple(float(e) for e in np.geomspace(1e-4, 1.0, 25))


@cache
def _toy(activation: str) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A fixed random 8-32-32-3 network (float64) and a batch of 64 Gaussian inputs."""
    gen = torch.Generator().manual_seed(28)
    torch.manual_seed(28)
    model = mlp([8, 32, 32, 3], activation=activation).double()
    x = torch.randn(64, 8, generator=gen, dtype=torch.float64)
    return model, x, torch.randint(0, 3, (64,), generator=gen)


@cache
def _gap_curve(kind: str, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and relative error of :func:`penalty_gradient_gap` over :data:`EPS_GRID`."""
    rows = [penalty_gradient_gap(*_toy(activation), e, kind) for e in EPS_GRID]
    cos, rel = (np.array(v) for v in zip(*rows))
    return cos, rel


@exploration(
    slider("eps", 1e-4, 1.0, steps=9, log=True, default=1e-2, label="ε"),
    choice(
        "kind",
        {
            "ε∇ₓL (unnormalised)": "unnormalised",
            "ε∇ₓL/‖∇ₓL‖ (FGM)": "normalised",
            "ε·sign ∇ₓL (FGSM)": "sign",
        },
        default="normalised",
        label="perturbation",
    ),
    choice("activation", {"tanh (smooth)": "tanh", "ReLU (kinks)": "relu"}, label="network"),
    title="One adversarial step vs a gradient penalty",
    height=380,
)
def penalty_match(eps: float = 1e-2, kind: str = "normalised", activation: str = "tanh") -> View:
    """The θ-gradient increment of L(x + Δ) (Δ fixed) against the penalty's θ-gradient.

    Left: ‖a − b‖/‖b‖ against ε (log–log; first order: slope 1 for the smooth network);
    right: 1 − cosine. The marker is the chosen ε; the readout names the matching penalty.
    """
    from .. import _validate

    eps = _validate.positive("eps", eps)
    _validate.choice("kind", kind, tuple(PENALTIES))
    _validate.choice("activation", activation, ("tanh", "relu"))
    cos, rel = _gap_curve(kind, activation)
    grid = np.array(EPS_GRID)
    c, r = penalty_gradient_gap(*_toy(activation), eps, kind)
    line = Curve(grid, np.maximum(rel, 1e-12), "‖a − b‖/‖b‖", color=0)
    slope = Curve(grid, grid, "∝ ε (first order)", style="dotted", color=7)
    here = Curve([eps], [max(r, 1e-12)], f"ε = {eps:.3g}", style="markers", color=3)
    one_minus = Curve(grid, np.maximum(1 - cos, 1e-16), "1 − cos(a, b)", color=1)
    here2 = Curve([eps], [max(1 - c, 1e-16)], "", style="markers", color=3)
    log = {"xlabel": "ε", "xlog": True, "ylog": True}
    panels = [
        Panel([line, slope, here], title="relative error", ylim=(1e-6, 10), **log),
        Panel([one_minus, here2], title="1 − cosine", ylim=(1e-14, 2), **log),
    ]
    readout = f"penalty {PENALTIES[kind]} · ε = {eps:.3g}: cosine {c:.6f}, relative error {r:.2g}"
    return View(panels, readout=readout)


def robustness_curves(eps: Sequence[float], acc: Mapping[str, np.ndarray], title: str = "") -> Any:
    """Accuracy (mean over seeds, band = min…max) against the attack size, one line per run.

    ``acc[name]`` has shape (seeds, len(eps)); ``eps`` starts at 0 (the clean accuracy). Names
    ``"model, attack"`` share a colour per model; an attack named ``"FGM attack"`` is dashed
    with open markers, so it stays visible where it coincides with PGD.
    """
    fig, ax = figure(figsize=(7, 3.6))
    models = list(dict.fromkeys(name.split(",")[0] for name in acc))
    for name, a in acc.items():
        a = np.asarray(a, dtype=float)
        color = f"C{models.index(name.split(',')[0])}"
        one_step = "FGM attack" in name
        style = dict(ls="--", marker="s", mfc="none", ms=9) if one_step else dict(marker="o")
        ax.plot(eps, a.mean(0), color=color, label=name, **style)
        ax.fill_between(eps, a.min(0), a.max(0), color=color, alpha=0.15)
    ax.set(xlabel="ℓ2 size ε of the attack on the embedded review", ylabel="test accuracy")
    ax.set(title=title)
    ax.legend(fontsize=8.5)
    return fig


#: the article's CLUE results (BERT-base; its baseline is the CLUE leaderboard's number)
ARTICLE = {"IFLYTEK": (60.29, 62.46, 62.31), "TNEWS": (56.58, 57.66, 57.81)}


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article, ours, recorded full run): clean and attacked accuracy, %.

    ``ours``/``recorded`` hold ``clean`` and ``attacked`` (each ``{"plain": [...], "fgm":
    [...]}`` over seeds, fractions), ``attack_eps`` and ``data``; ``recorded`` is empty
    before a full run (its column then shows "—").
    """

    def cell(m: Mapping[str, Any], key: str, method: str) -> str:
        if not m:
            return "—"
        v = 100 * np.asarray(m[key][method], dtype=float)
        return f"{v.mean():.1f} ± {v.std():.1f} ({len(v)} seeds)"

    def delta(m: Mapping[str, Any], key: str) -> str:
        if not m:
            return "—"
        d = 100 * (np.asarray(m[key]["fgm"]) - np.asarray(m[key]["plain"]))
        return f"{d.mean():+.1f} (min {d.min():+.1f}, max {d.max():+.1f})"

    art = ARTICLE
    rows = [
        ("clean accuracy, no adversarial training", "IFLYTEK 60.29 / TNEWS 56.58 (BERT-base)"),
        ("clean accuracy, FGM on the embedding matrix", "IFLYTEK 62.46 / TNEWS 57.66"),
        ("clean accuracy, gradient penalty", "IFLYTEK 62.31 / TNEWS 57.81 (not run here)"),
    ]
    out = [(rows[0][0], rows[0][1], cell(ours, "clean", "plain"), cell(recorded, "clean", "plain"))]
    out.append((rows[1][0], rows[1][1], cell(ours, "clean", "fgm"), cell(recorded, "clean", "fgm")))
    gain = (
        f"+{art['IFLYTEK'][1] - art['IFLYTEK'][0]:.2f} / +{art['TNEWS'][1] - art['TNEWS'][0]:.2f}"
    )
    out.append(
        ("FGM − plain, clean accuracy (pp)", gain, delta(ours, "clean"), delta(recorded, "clean"))
    )
    out.append((rows[2][0], rows[2][1], "—", "—"))
    size = ours.get("attack_eps", "ε")
    for method, name in [("plain", "no adversarial training"), ("fgm", "FGM")]:
        out.append(
            (
                f"accuracy under PGD on the embeddings (ε = {size}), {name}",
                "not measured",
                cell(ours, "attacked", method),
                cell(recorded, "attacked", method),
            )
        )
    return out
