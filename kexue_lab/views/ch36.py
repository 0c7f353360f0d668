"""Chapter 36 (fine-tuning BERT with a minimal head): explorations and figures.

* :data:`schedule`: the article's warm-up / linear-decay learning rate for chosen ``S``,
  ``η_max``, ``η_min``;
* :data:`pair_cost`: FLOPs of one concatenated pass over a sentence pair against two separate
  passes, as the pair's length grows, for a chosen width ``d``;
* figures: :func:`training_curves`; :func:`comparison_rows` for the table of numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..sequences import fine_tuning as ft
from ..widgets import Curve, Panel, View, exploration, slider

_M = np.arange(4, 257, 4)


@exploration(
    slider("steps_per_epoch", 10, 100, steps=10, default=50, integer=True, label="S"),
    slider("lr_max", 1e-5, 1e-4, steps=10, default=5e-5, label="η_max"),
    slider("lr_min", 0.0, 1e-5, steps=6, default=1e-5, label="η_min"),
    title="The article's warm-up and linear decay",
)
def schedule(steps_per_epoch: int = 50, lr_max: float = 5e-5, lr_min: float = 1e-5) -> View:
    """η_s over three epochs: up to η_max in epoch 1, down to η_min in epoch 2, then flat."""
    big_s = int(round(steps_per_epoch))
    steps = np.arange(3 * big_s)
    lr = [ft.warmup_decay(int(s), big_s, lr_max, lr_min) for s in steps]
    panel = Panel(
        curves=[Curve(steps, lr, "η_s")],
        title=f"S = {big_s} steps per epoch",
        xlabel="step s",
        ylabel="learning rate",
        vlines=[(big_s, "epoch 2"), (2 * big_s, "epoch 3")],
    )
    first = ft.warmup_decay(0, big_s, lr_max, lr_min)
    jump = lr[big_s - 1] - lr[big_s]
    return View(
        [panel],
        readout=f"η_0 = {first:.3g}, peak {lr[big_s - 1]:.3g} at s = S − 1, step down "
        f"{jump:.3g} at s = S, η_min = {lr[2 * big_s - 1]:.3g} from s = 2S − 1",
    )


@exploration(
    slider("d", 128, 1024, steps=15, default=768, include=[384], integer=True, label="width d"),
    title="Concatenate a pair, or encode the two sentences separately?",
)
def pair_cost(d: int = 768) -> View:
    """FLOP ratio (one pass over ``[CLS] a [SEP] b [SEP]``) / (two passes over ``[CLS] x
    [SEP]``) for two sentences of ``m`` tokens each, per layer (``ffn = 4d``)."""
    d = int(round(d))
    ratio = [ft.transformer_flops(2 * m + 3, d) / (2 * ft.transformer_flops(m + 2, d)) for m in _M]
    above = _M[np.asarray(ratio) > 1]
    first = f"first m with ratio > 1: {int(above[0])}" if len(above) else "ratio < 1 throughout"
    panel = Panel(
        curves=[Curve(_M, ratio, "concatenated / separate"), Curve(_M, [1.0] * len(_M), "equal")],
        title=f"d = {d}",
        xlabel="tokens per sentence m",
        ylabel="FLOP ratio",
    )
    return View([panel], readout=f"ratio at m = 32: {ratio[7]:.4f}; {first}")


def training_curves(curves: Mapping[str, Sequence[float]], *, window: int = 10) -> Any:
    """Per-step losses (moving average over ``window`` steps), one line per run."""
    fig, ax = figure(1, 1, figsize=(8, 3.5))
    for name, loss in curves.items():
        y = np.asarray(loss, dtype=float)
        w = max(1, min(window, len(y)))
        smooth = np.convolve(y, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(w - 1, len(y)), smooth, lw=1.0, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    return fig


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article, ours, recorded full run) of the chapter's table."""

    def cell(m: Mapping[str, Any], key: str) -> str:
        return f"{m[key]:.3f}" if m and m.get(key) is not None else "—"

    says: Sequence[tuple[str, str, str]] = [
        (
            "accuracy, pre-trained encoder + [CLS] head",
            "0.955+ (BERT-base, Chinese reviews)",
            "pre",
        ),
        ("accuracy, same encoder from scratch", "—", "scratch"),
        ("accuracy, bag of n-grams", "≈ 0.90 (earlier non-BERT models)", "bow"),
        ("frozen MiniLM, mean-pooled, 200 labels (RT)", "—", "probe_mean"),
        ("frozen MiniLM, [CLS] state, 200 labels (RT)", "—", "probe_cls"),
        ("bag of words, 200 labels (RT)", "—", "bow_probe"),
        ("MiniLM fine-tuned + [CLS] head, RT (smoke: 2 steps)", "—", "minilm"),
        ("bag of words, all RT training sentences", "—", "bow_rt"),
    ]
    return [(q, a, cell(ours, k), cell(recorded, k)) for q, a, k in says]
