"""Chapter 37 (GPT2_ML): the exploration and the chapter's figures.

* :data:`sampling_knobs`: temperature, top-k and top-p applied to one next-token distribution;
* figures: :func:`block_diagrams` (BERT, GPT-2 and GPT2_ML blocks, redrawn),
  :func:`training_curve` (validation loss against the entropy rate);
* :func:`comparison_rows`: the table of the article's numbers beside ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..maths.entropy import entropy
from ..plot import figure
from ..sequences.gpt import filter_probs
from ..widgets import Curve, Panel, View, exploration, slider

#: A Zipf-like next-token distribution over 20 tokens, p_i ∝ i^(−1.2) (the exploration's input).
ZIPF_LOGITS = -1.2 * np.log(np.arange(1, 21))
_TOKENS = [str(i) for i in range(1, 21)]


@exploration(
    slider("temperature", 0.25, 2.0, steps=8, default=1.0, label="temperature T"),
    slider("top_k", 1, 20, steps=5, default=5, include=[2, 3, 10], integer=True, label="top-k"),
    slider("top_p", 0.5, 1.0, steps=6, default=1.0, include=[0.95], label="top-p"),
    title="Temperature, then top-k, then top-p (bert4keras order)",
)
def sampling_knobs(temperature: float = 1.0, top_k: int = 5, top_p: float = 1.0) -> View:
    """The distribution sampled from after the three knobs, beside softmax(logits / T)."""
    logits = torch.as_tensor(ZIPF_LOGITS)
    tempered = filter_probs(logits, temperature=temperature).numpy()
    kept = filter_probs(logits, top_k, top_p, temperature).numpy()
    panel = Panel(
        curves=[
            Curve(_TOKENS, tempered, "softmax(logits / T)", style="bar", color=1),
            Curve(_TOKENS, kept, "after top-k and top-p", style="bar", color=0),
        ],
        title="next-token distribution (tokens by rank)",
        xlabel="token rank",
        ylabel="probability",
        ylim=(0.0, 1.0),
    )
    n_kept = int((kept > 0).sum())
    readout = (
        f"{n_kept} token(s) kept, entropy {abs(entropy(kept)):.3f} nats "
        f"(before truncation {entropy(tempered):.3f})"
    )
    return View([panel], readout=readout)


_LAYOUTS: dict[str, list[str]] = {
    "BERT (post-LN)": ["Att", "Add", "LN", "FFN", "Add", "LN"],
    "OpenAI GPT-2 (pre-LN)": ["LN", "Att", "Add", "LN", "FFN", "Add"],
    "GPT2_ML (Grover)": ["Att", "Add", "LN", "FFN", "Add", "LN"],
}
# where each residual branch leaves the stream (box index before which it splits) and rejoins
_SKIPS: dict[str, list[tuple[int, int]]] = {
    "BERT (post-LN)": [(0, 1), (3, 4)],
    "OpenAI GPT-2 (pre-LN)": [(0, 2), (3, 5)],
    "GPT2_ML (Grover)": [(0, 1), (2, 4)],
}
_COLOURS = {"Att": "#f4b183", "FFN": "#9dc3e6", "LN": "#ffe699", "Add": "#e2efda"}


def block_diagrams() -> Any:
    """The three blocks bottom to top, with their skip connections (the article's figures,
    redrawn from bert4keras's ``apply_main_layers``)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, axes = figure(1, 3, figsize=(10, 4.6))
    for ax, (name, boxes) in zip(axes, _LAYOUTS.items()):
        ys = np.arange(len(boxes)) * 1.0 + 0.8
        for y, label in zip(ys, boxes):
            ax.add_patch(
                FancyBboxPatch(
                    (-0.55, y - 0.28), 1.1, 0.56, boxstyle="round,pad=0.02",
                    fc=_COLOURS[label], ec="black", lw=0.8,
                )
            )  # fmt: skip
            ax.text(0, y, label, ha="center", va="center", fontsize=10)
        for y0, y1 in zip([0.0, *ys[:-1]], ys):
            ax.add_patch(FancyArrowPatch((0, y0 + 0.28), (0, y1 - 0.28), arrowstyle="-|>",
                                         mutation_scale=10, lw=0.8))  # fmt: skip
        ax.add_patch(FancyArrowPatch((0, ys[-1] + 0.28), (0, ys[-1] + 0.8), arrowstyle="-|>",
                                     mutation_scale=10, lw=0.8))  # fmt: skip
        for k, (src, dst) in enumerate(_SKIPS[name]):
            y_src = (ys[src] - 0.5) if src else 0.3
            x = 0.85 + 0.2 * k
            ax.plot([0, x, x], [y_src, y_src, ys[dst]], color="0.35", lw=1.0)
            ax.add_patch(FancyArrowPatch((x, ys[dst]), (0.56, ys[dst]), arrowstyle="-|>",
                                         mutation_scale=10, lw=1.0, color="0.35"))  # fmt: skip
        ax.text(0, -0.1, "x", ha="center", va="top", fontsize=10)
        ax.text(0, ys[-1] + 0.85, "y", ha="center", va="bottom", fontsize=10)
        ax.set(xlim=(-1.2, 1.4), ylim=(-0.5, ys[-1] + 1.3), title=name)
        ax.axis("off")
    return fig


def training_curve(
    steps: Sequence[int], val_loss: Sequence[float], rate: float, oracle: float
) -> Any:
    """Validation cross-entropy of the tiny GPT against the source's entropy rate."""
    rate, oracle = _validate.real("rate", rate), _validate.real("oracle", oracle)
    steps = np.asarray(steps, dtype=float)
    val_loss = _validate.real_array("val_loss", val_loss)
    if steps.shape != val_loss.shape or steps.ndim != 1 or not len(steps):
        raise ValueError("steps and val_loss must be 1-D and of the same, non-zero length")
    fig, ax = figure(1, 1, figsize=(6.5, 3.6))
    ax.plot(steps, val_loss, "o-", label="tiny GPT2_ML, validation loss")
    ax.axhline(rate, color="black", ls="--", lw=1, label=f"entropy rate H = {rate:.4f}")
    ax.axhline(oracle, color="C2", ls=":", lw=1, label="the true chain on the same tokens")
    ax.set(xlabel="training step", ylabel="cross-entropy (nats / token)")
    ax.legend()
    return fig


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article, ours, recorded full run) of the chapter's table."""

    def cell(m: Mapping[str, Any], key: str, fmt: str) -> str:
        return format(m[key], fmt) if m and m.get(key) is not None else "—"

    says = [
        ("GPT2_ML parameters (BERT vocabulary)", "1.5 billion", "params", ",d"),
        (
            "fp32 weights + grads + Adam m, v (GiB)",
            "does not fit 22G at batch 1",
            "adam_gib",
            ".2f",
        ),
        ("… with Adafactor's factored state (GiB)", "fits (fine-tuning works)", "ada_gib", ".2f"),
        ("tiny GPT2_ML: validation loss − entropy rate", "—", "excess", ".4f"),
        ("tiny GPT2_ML: sampled lengths in [min_len, max_len]", "—", "lengths_ok", ""),
        ("SmolLM2: distinct-2, top-k 5 (full only)", "—", "distinct2_topk5", ".3f"),
    ]
    return [(q, a, cell(ours, k, f), cell(recorded, k, f)) for q, a, k, f in says]
