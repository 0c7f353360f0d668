"""Chapter 05 (a CNN + VAE that writes couplets): the exploration and the figures of the notebook.

* :data:`temperature`: sharpen or flatten one position's character distribution with a
  temperature T (T = 0 is the author's argmax decoding) and watch its entropy;
* :func:`poem_table`: couplets side by side as an HTML table (Chinese renders in the browser);
* :func:`training_and_latent`: the loss terms per epoch and the KL of each latent dimension;
* :func:`top_characters`: the most frequent characters of the corpus and of the samples, as
  bars with Chinese tick labels (needs a CJK font: :func:`kexue_lab.plot.use_cjk_font`).
"""

from __future__ import annotations

import functools
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _validate
from ..generative import poetry_data
from ..plot import figure, use_cjk_font
from ..widgets import Curve, Panel, View, choice, exploration, slider

_RANKS = 40


@functools.lru_cache(maxsize=1)
def _position_frequencies() -> tuple[list[str], np.ndarray]:
    """The shipped couplets' characters and their frequency at each of the 10 positions."""
    couplets = poetry_data.load_couplets("shipped")
    chars = sorted(set("".join(couplets)))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([[index[c] for c in s] for s in couplets])
    freq = np.stack([np.bincount(ids[:, t], minlength=len(chars)) for t in range(10)]).astype(float)
    return chars, freq / freq.sum(1, keepdims=True)


def _with_temperature(p: np.ndarray, t: float) -> np.ndarray:
    if t == 0:
        out = np.zeros_like(p)
        out[np.argmax(p)] = 1.0
        return out
    logits = np.log(np.where(p > 0, p, np.finfo(float).tiny)) / t
    w = np.exp(logits - logits.max())
    return w / w.sum()


@exploration(
    choice("position", {str(t): t for t in range(1, 11)}, default=5, label="position"),
    slider("t", 0.0, 1.5, steps=16, default=1.0, label="temperature T"),
    title="Decoding one position: softmax(log p / T) over the corpus's characters",
)
def temperature(position: int = 5, t: float = 1.0) -> View:
    """The 40 most likely characters at one position of a couplet, before and after a temperature.

    p is the frequency of each character at ``position`` (1–10) in the shipped couplets; the
    decoder samples from softmax(log p / T): T → 0 keeps only the most likely character (the
    article's argmax), T = 1 leaves p unchanged, T > 1 flattens it. The readout gives the entropy
    of both distributions and the characters they favour.
    """
    position = int(_validate.in_range("position", position, 1, 10))
    t = _validate.in_range("t", t, 0.0, 10.0)
    chars, freq = _position_frequencies()
    p = freq[position - 1]
    q = _with_temperature(p, t)
    order = np.argsort(-p, kind="stable")[:_RANKS]
    ranks = np.arange(1, _RANKS + 1)

    def entropy(r: np.ndarray) -> float:
        nz = r[r > 0]
        return float(-(nz * np.log(nz)).sum())

    panel = Panel(
        curves=[
            Curve(ranks, p[order].round(5), "corpus p (T = 1)", style="dashed", color=7),
            Curve(ranks, q[order].round(5), f"T = {t:.1f}", color=0),
        ],
        title=f"position {position}: the {_RANKS} most frequent characters",
        xlabel="rank of the character in the corpus",
        ylabel="probability",
        ylog=True,
        ylim=(1e-5, 1.0),
    )
    top = "".join(chars[i] for i in order[:8])
    return View(
        [panel],
        readout=(
            f"most frequent here: {top} · entropy {entropy(p):.2f} nats at T = 1, "
            f"{entropy(q):.2f} nats at T = {t:.1f} · P(top character) = {q[order[0]]:.3f}"
        ),
    )


def poem_table(columns: Mapping[str, Sequence[str]], *, caption: str = "") -> Any:
    """An HTML table with one column per source of couplets, printed "5 characters，5 characters".

    ``columns`` maps a header to its couplets (10-character strings); shorter columns are padded
    with empty cells. Returns an ``IPython.display.HTML``.
    """
    from IPython.display import HTML

    if not columns:
        raise ValueError("columns must hold at least one column of couplets")
    for name, couplets in columns.items():
        bad = [c for c in couplets if not isinstance(c, str) or len(c) != 10]
        if bad:
            raise ValueError(f"column {name!r} must hold 10-character strings, got {bad[0]!r}")
    rows = max(len(c) for c in columns.values())
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = ""
    for i in range(rows):
        cells = [c[i][:5] + "，" + c[i][5:] + "。" if i < len(c) else "" for c in columns.values()]
        body += "<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>"
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return HTML(
        f'<table class="kexue-table" lang="zh">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def training_and_latent(history: Any, kl_dims: Any) -> Any:
    """Left: reconstruction and KL per epoch (training-batch means). Right: KL per latent dim.

    ``history`` is the :class:`kexue_lab.train.History` of the run (metrics ``nll``, ``kl``);
    ``kl_dims`` the held-out KL of each latent dimension
    (:func:`kexue_lab.generative.poetry.kl_per_dim`), drawn sorted, largest first.
    """
    kl = np.sort(_validate.real_array("kl_dims", np.asarray(kl_dims, dtype=float)))[::-1]
    fig, (left, right) = figure(1, 2, figsize=(10, 3.6))
    epochs = range(1, len(history["nll"]) + 1)
    left.plot(epochs, history["nll"], "o-", ms=3, label="−Σ log p(c_t | z)")
    left.plot(epochs, history["kl"], "s-", ms=3, label="KL")
    left.set(title="training loss terms", xlabel="epoch", ylabel="nats per couplet")
    left.set_yscale("log")
    left.legend()
    right.bar(np.arange(1, len(kl) + 1), kl, color="C1")
    right.axhline(0.01, color="0.5", lw=0.8, ls="--")
    right.set(title="held-out KL per latent dimension", xlabel="dimension (sorted)", ylabel="nats")
    return fig


def top_characters(groups: Mapping[str, Sequence[str]], k: int = 20) -> Any:
    """Bars of the ``k`` most frequent characters of each group of couplets (share of all
    characters), one panel per group, with the characters as tick labels."""
    k = _validate.positive_int("k", k)
    if not groups:
        raise ValueError("groups must hold at least one group of couplets")
    use_cjk_font()
    fig, axes = figure(1, len(groups), figsize=(5 * len(groups), 3.4), squeeze=False)
    for ax, (name, couplets) in zip(axes[0], groups.items(), strict=True):
        counts = Counter("".join(couplets))
        total = sum(counts.values())
        if not total:
            raise ValueError(f"group {name!r} holds no characters")
        top = counts.most_common(k)
        ax.bar(range(len(top)), [n / total for _, n in top], color="C0")
        ax.set_xticks(range(len(top)), [c for c, _ in top], fontsize=11)
        ax.set(title=name, ylabel="share of characters")
    return fig
