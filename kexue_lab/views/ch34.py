"""Chapter 34 (DGCNN): the receptive-field exploration and the chapter's figure.

* :data:`receptive` shows which input positions reach one output of a stack of dilated
  stride-1 convolutions (the number of paths from each input, all weights 1), for a kernel
  size and a dilation pattern, with the closed form ``1 + Σ (k − 1) rₗ`` in the readout;
* :func:`vote_bars` draws exact match and character F1 of the decision rules (§4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..sequences.dgcnn import receptive_field
from ..widgets import Curve, Panel, View, choice, exploration

#: dilation patterns offered by the exploration
PATTERNS = {
    "1,1,1,1 (plain)": "1,1,1,1",
    "1,2,4,1 (this chapter)": "1,2,4,1",
    "1,2,4,8": "1,2,4,8",
    "2,2,2,2 (gridding)": "2,2,2,2",
    "1,2,4,8,16,1": "1,2,4,8,16,1",
}


def path_counts(kernel: int, dilations: Sequence[int]) -> np.ndarray:
    """Paths from each input offset to one output through the stack (all weights 1);
    index ``m`` is the offset ``m − (len − 1)/2``. Non-zero exactly on the receptive field."""
    counts = np.ones(1)
    for r in dilations:
        taps = np.zeros(r * (kernel - 1) + 1)
        taps[::r] = 1.0
        counts = np.convolve(counts, taps)
    return counts


@exploration(
    choice("kernel", [3, 5, 7], default=3, label="kernel k"),
    choice("pattern", PATTERNS, default="1,2,4,1", label="dilations"),
    title="Which inputs reach one output of a dilated stack",
)
def receptive(kernel: int = 3, pattern: str = "1,2,4,1") -> View:
    """Path counts from each input offset to the centre output (exploration of chapter 34)."""
    rates = [int(r) for r in pattern.split(",")]
    counts = path_counts(kernel, rates)
    half = (len(counts) - 1) // 2
    offsets = np.arange(-half, half + 1)
    rf = receptive_field(kernel, rates)
    holes = int((counts == 0).sum())
    panel = Panel(
        [Curve(offsets.tolist(), counts.tolist(), "paths", style="bar", color=0)],
        title=f"k = {kernel}, dilations {pattern}",
        xlabel="input offset from the output position",
        ylabel="number of paths",
    )
    readout = f"receptive field 1 + Σ(k − 1)rₗ = {rf} · positions inside it never reached: {holes}"
    return View([panel], readout=readout)


def vote_bars(results: Mapping[str, Sequence[float]]) -> Any:
    """Bars of exact match and character F1 per rule; ``results[rule] = (em, f1)`` (§4)."""
    fig, ax = figure(1, 1, figsize=(7, 3.2))
    names = list(results)
    x = np.arange(len(names))
    for k, label in enumerate(("exact match", "character F1")):
        ax.bar(x + (k - 0.5) * 0.38, [results[n][k] for n in names], 0.38, label=label)
    ax.set_xticks(x, names)
    ax.set(ylim=(0, 1.2), ylabel="score", title="test questions")
    ax.legend(loc="upper center", ncol=2)
    return fig
