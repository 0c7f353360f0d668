"""Chapter 32 (MEMM vs CRF): the "same scores, three normalisations" exploration and figures.

* :data:`normalisations`: the 8 path probabilities of a 3-step, 2-tag toy under the CRF and
  the left-to-right and right-to-left MEMM, for a transition score and a first emission chosen
  with sliders; the readout gives each model's most probable path;
* figures: :func:`toy_bars` (§2) and :func:`training_bars` (§5); :func:`comparison_rows` builds
  the table of the article's statements beside our numbers.

The numbers come from :mod:`kexue_lab.sequences`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..plot import figure
from ..sequences.memm import path_log_probs
from ..widgets import Curve, Panel, View, exploration, slider

#: the toy of §2: emissions (n = 3, K = 2) and transition scores (row = previous tag)
TOY_F = ((1.0, 0.0), (0.0, 1.0), (0.5, 0.5))
TOY_G = ((1.0, -1.0), (0.0, 2.0))
MODELS = {"crf": "CRF", "l2r": "MEMM L→R", "r2l": "MEMM R→L"}


def toy(g11: float = TOY_G[1][1], f10: float = TOY_F[0][0]) -> tuple[list[str], dict]:
    """Path labels and probabilities of the toy with g(1, 1) = ``g11`` and f(0; x_1) = ``f10``."""
    f = torch.tensor(TOY_F, dtype=torch.float64)
    g = torch.tensor(TOY_G, dtype=torch.float64)
    f[0, 0], g[1, 1] = float(f10), float(g11)
    paths, logp = path_log_probs(f, g)
    labels = ["".join(map(str, p)) for p in paths.tolist()]
    return labels, {k: v.exp().numpy() for k, v in logp.items()}


@exploration(
    slider("g11", -1.0, 3.0, steps=9, default=2.0, label="g(1, 1)"),
    slider("f10", 0.0, 3.0, steps=7, default=1.0, label="f(0; x₁)"),
    title="Same scores, three normalisations",
    height=360,
)
def normalisations(g11: float = 2.0, f10: float = 1.0) -> View:
    """The toy's 8 path probabilities under CRF, MEMM L→R and MEMM R→L (chapter 32, §2).

    All three share the numerator e^{s(y)}; only the normaliser differs. The readout names
    each model's most probable path and KL(CRF ‖ MEMM L→R) in nats.
    """
    from .. import _validate

    labels, probs = toy(_validate.real("g11", g11), _validate.real("f10", f10))
    ticks = ["→".join(p) for p in labels]  # "0→0→0": category names, not numbers
    curves = [
        Curve(ticks, probs[key].tolist(), name, style="markers", color=i)
        for i, (key, name) in enumerate(MODELS.items())
    ]
    panel = Panel(curves, title="P(path)", xlabel="path y₁y₂y₃", ylabel="probability", ylim=(0, 1))
    kl = float(np.sum(probs["crf"] * np.log(probs["crf"] / probs["l2r"])))
    best = " · ".join(f"{MODELS[k]}: {labels[int(np.argmax(v))]}" for k, v in probs.items())
    return View([panel], readout=f"most probable path: {best} · KL(CRF‖L→R) = {kl:.3f} nats")


def toy_bars(labels: list[str], probs: Mapping[str, np.ndarray]) -> Any:
    """Grouped bars: the 8 path probabilities of the toy under the three models (§2)."""
    fig, ax = figure(1, 1, figsize=(8, 3.2))
    x = np.arange(len(labels))
    for i, (key, name) in enumerate(MODELS.items()):
        ax.bar(x + (i - 1) * 0.27, probs[key], width=0.27, label=name)
    ax.set_xticks(x, labels)
    ax.set(xlabel="path y₁y₂y₃", ylabel="probability", title="same numerator, three normalisers")
    ax.legend()
    return fig


def training_bars(results: Mapping[str, Mapping[str, list[float]]]) -> Any:
    """Left: test span F1 per head (mean, seeds as dots); right: training seconds per head (§5)."""
    fig, axes = figure(1, 2, figsize=(10, 3.2))
    names = list(results)
    for ax, key, title in [
        (axes[0], "f1", "test word F1"),
        (axes[1], "seconds", "training time (s)"),
    ]:
        vals = [np.asarray(results[h][key]) for h in names]
        ax.bar(names, [v.mean() for v in vals], color=[f"C{i}" for i in range(len(names))])
        for i, v in enumerate(vals):
            ax.plot(np.full(len(v), i), v, "k.", ms=5)
        ax.set(title=title)
        if key == "f1":
            lo = min(v.min() for v in vals)
            ax.set_ylim(lo - 0.02, min(1.0, max(v.max() for v in vals) + 0.01))
    return fig


def comparison_rows(ours: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[tuple]:
    """Rows (quantity, article, ours, recorded full run) of the chapter's table (§6)."""

    def f1(m: Mapping[str, Any], head: str) -> str:
        return f"{np.mean(m['f1'][head]):.4f}" if m else "—"

    def ratio(m: Mapping[str, Any]) -> str:
        return f"{np.mean(m['seconds']['crf']) / np.mean(m['seconds']['bi']):.2f}×" if m else "—"

    says = {
        "crf": "CRF basically no worse than Bi-MEMM; ≈0.5% ahead with a weak encoder",
        "bi": "Bi-MEMM always better than MEMM",
        "l2r": "MEMM better than per-step softmax",
        "r2l": "(the article trains R→L only inside Bi-MEMM)",
    }
    rows = [(f"word F1, {h}", says[h], f1(ours, h), f1(recorded, h)) for h in ours["f1"]]
    rows.append(
        (
            "training time CRF / Bi-MEMM",
            "1.25× (12-layer BERT), '1.5 times faster' (2-layer BERT)",
            ratio(ours),
            ratio(recorded),
        )
    )
    return rows
