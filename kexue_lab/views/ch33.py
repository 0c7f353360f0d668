"""Chapter 33 (exposure bias): the "when beam search hurts" exploration and the figures.

* :data:`beam_table`: the article's two-step probability table with ``p(a)``, ``p(b|a)`` and
  ``p(d|c)`` on sliders; bars of the four sequence probabilities, and a readout of what greedy
  decoding and beam search of width 2 return;
* figures: :func:`gap_bars` (teacher-forced vs free-running accuracy) and :func:`beam_sweep`
  (ROUGE-L and BLEU against beam size per variant, seeds as dots); :func:`comparison_rows`
  builds the table of the article's CSL numbers beside ours.

The numbers come from :mod:`kexue_lab.sequences.exposure_bias`; only the drawing is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..plot import figure
from ..sequences.exposure_bias import TABLE_TOKENS, path_probabilities, table_step_logprobs
from ..sequences.seq2seq import beam_search
from ..widgets import Curve, Panel, View, exploration, slider

#: the article's CSL table (×100): variant → beam size → (Rouge-L, Rouge-1, Rouge-2, BLEU)
ARTICLE_CSL = {
    "baseline": {1: (63.81, 65.45, 54.91, 45.52), 2: (64.44, 66.09, 55.75, 46.39),
                 3: (64.75, 66.34, 56.06, 46.70)},
    "replace": {1: (64.44, 66.09, 55.56, 46.10), 2: (65.04, 66.75, 56.51, 47.19),
                3: (65.15, 66.96, 56.74, 47.42)},
    "penalty": {1: (65.41, 67.29, 56.64, 47.37), 2: (65.94, 67.84, 57.38, 48.16),
                3: (66.10, 68.08, 57.70, 48.56)},
}  # fmt: skip
METRICS = ("rouge-l", "rouge-1", "rouge-2", "bleu")
NAMES = {"baseline": "baseline", "replace": "random replacement", "penalty": "gradient penalty"}
_LETTERS = {v: k for k, v in TABLE_TOKENS.items()}


def decode(p_a: float, p_b_a: float, p_d_c: float, k: int) -> str:
    """The two letters beam search of width ``k`` returns on the table model."""
    seq = beam_search(table_step_logprobs(p_a, p_b_a, p_d_c), 0, TABLE_TOKENS["eos"], k, 3)
    return "".join(_LETTERS[t] for t in seq if t != TABLE_TOKENS["eos"])


@exploration(
    slider("p_a", 0.5, 0.9, steps=5, default=0.6, label="p(a)"),
    slider("p_b_a", 0.5, 0.9, steps=5, default=0.55, include=[0.55], label="p(b|a)"),
    slider("p_d_c", 0.0, 1.0, steps=11, default=0.9, label="p(d|c)"),
    title="When beam search hurts: the article's two-step table",
    height=340,
)
def beam_table(p_a: float = 0.6, p_b_a: float = 0.55, p_d_c: float = 0.9) -> View:
    """The four sequence probabilities p(y₁)p(y₂|y₁) and the greedy and beam-2 outputs.

    Training on the target (a, b) only shapes p(a) and p(b|a); p(d|c) is never trained (c is
    never a gold prefix). Greedy decoding reads only the trained entries; beam 2 searches all
    four sequences and so depends on p(d|c).
    """
    probs = path_probabilities(p_a, p_b_a, p_d_c)
    names = [f"({a}, {b})" for a, b in probs]
    curve = Curve(names, list(probs.values()), "p(y₁, y₂)", style="bar", color=0)
    panel = Panel([curve], title="sequence probabilities", xlabel="sequence", ylim=(0, 1))
    greedy, beam2 = decode(p_a, p_b_a, p_d_c, 1), decode(p_a, p_b_a, p_d_c, 2)
    verdict = "target" if beam2 == "ab" else "not the target"
    return View(
        [panel],
        readout=f"greedy (beam 1): ({greedy[0]}, {greedy[1]}) · beam 2: ({beam2[0]}, {beam2[1]}),"
        f" {verdict}",
    )


def gap_bars(results: Mapping[str, Mapping[str, Sequence[float]]]) -> Any:
    """Teacher-forced and free-running (greedy) token accuracy per variant, seeds as dots."""
    fig, ax = figure(1, 1, figsize=(7, 3.2))
    names = list(results)
    x = np.arange(len(names))
    for j, (key, label) in enumerate((("tf_acc", "teacher-forced"), ("free_acc", "free-running"))):
        vals = [np.asarray(results[v][key]) for v in names]
        ax.bar(x + (j - 0.5) * 0.38, [v.mean() for v in vals], width=0.38, label=label)
        for i, v in enumerate(vals):
            ax.plot(np.full(len(v), x[i] + (j - 0.5) * 0.38), v, "k.", ms=4)
    ax.set_xticks(x, [NAMES.get(v, v) for v in names])
    ax.set(ylabel="token accuracy", ylim=(0, 1.25), title="same model, gold vs own prefixes")
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(loc="upper center", ncol=2)
    return fig


def beam_sweep(scores: Mapping[str, Mapping[int, Mapping[str, Sequence[float]]]]) -> Any:
    """ROUGE-L and BLEU against beam size, one line per variant (mean), seeds as dots."""
    fig, axes = figure(1, 2, figsize=(10, 3.2))
    for ax, metric in zip(axes, ("rouge-l", "bleu"), strict=True):
        for i, (variant, by_k) in enumerate(scores.items()):
            ks = sorted(by_k)
            means = [np.mean(by_k[k][metric]) for k in ks]
            ax.plot(ks, means, "o-", color=f"C{i}", label=NAMES.get(variant, variant))
            for k in ks:
                ax.plot(np.full(len(by_k[k][metric]), k + 0.04 * (i - 1)), by_k[k][metric],
                        ".", color=f"C{i}", ms=4)  # fmt: skip
        label = {"rouge-l": "ROUGE-L", "bleu": "BLEU"}[metric]
        ax.set(xlabel="beam size", ylabel=label, xticks=sorted(next(iter(scores.values()))))
    axes[0].legend()
    return fig


def comparison_rows(
    ours: Mapping[str, Mapping[int, Mapping[str, Sequence[float]]]],
    recorded: Mapping[str, Any],
) -> list[tuple]:
    """Rows (variant, k, article CSL, ours mean [min–max], recorded full run) per metric set."""

    def cell(m: Mapping[str, Any] | None, variant: str, k: int) -> str:
        if not m or variant not in m or k not in m[variant] and str(k) not in m[variant]:
            return "—"
        row = m[variant][k] if k in m[variant] else m[variant][str(k)]
        return " / ".join(f"{np.mean(row[x]):.1f}" for x in METRICS)

    rows = []
    for k in (1, 2, 3):
        for variant in ARTICLE_CSL:
            article = " / ".join(f"{v:.2f}" for v in ARTICLE_CSL[variant][k])
            rows.append(
                (NAMES[variant], k, article, cell(ours, variant, k), cell(recorded, variant, k))
            )
    return rows
