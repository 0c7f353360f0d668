"""Chapter 40 (SPACES): the margin exploration and the chapter's figure.

* :data:`margin` draws the logit gap ``s_max − s_min`` that cross-entropy needs to reach a loss ε
  with the target on top, ``log(n − 1) − log(e^ε − 1)`` (article eq. (3)), against the vocabulary
  size n, beside Sparse Softmax's ``log(k − 1) − log(e^ε − 1)``;
* :func:`fidelity_bars` compares plain and copy-constrained decoding (§4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..sequences.summarization import required_margin
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: BERT-base Chinese vocabulary size, the readout's reference point
BERT_VOCAB = 21128


@exploration(
    choice("k", [2, 5, 10, 20, 50], default=10, label="top-k"),
    slider("eps", 0.01, 1.0, steps=9, log=True, default=math.log(2), label="target loss ε"),
    title="Logit gap that cross-entropy demands, full vs top-k",
)
def margin(k: int = 10, eps: float = math.log(2)) -> View:
    """Required gap against n (exploration of chapter 40)."""
    n = np.unique(np.geomspace(max(k, 2), 100_000, 100).round().astype(int))
    full = [required_margin(int(v), eps) for v in n]
    sparse = [required_margin(k, eps)] * len(n) if k >= 2 else [0.0] * len(n)
    panel = Panel(
        [
            Curve(n.tolist(), full, "softmax over n classes", color=0),
            Curve(n.tolist(), sparse, f"Sparse Softmax, k = {k}", color=1),
        ],
        title=f"ε = {eps:.3g}",
        xlabel="number of classes n",
        ylabel="s_max − s_min needed",
        xlog=True,
    )
    readout = (
        f"n = {BERT_VOCAB}: gap ≥ {required_margin(BERT_VOCAB, eps):.3f}; "
        f"top-{k}: ≥ {required_margin(k, eps):.3f}"
    )
    return View([panel], readout=readout)


def fidelity_bars(results: Mapping[str, Sequence[float]], labels: Sequence[str]) -> Any:
    """Grouped bars: one group per measure in ``labels``, one bar per decoder in ``results``."""
    fig, ax = figure(1, 1, figsize=(7.5, 3.2))
    names = list(results)
    x = np.arange(len(labels))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * width, results[name], width, label=name)
    ax.set_xticks(x, labels)
    ax.set(ylim=(0, 1.15), ylabel="share", title="test judgments")
    ax.legend(loc="upper center", ncol=len(names))
    return fig
