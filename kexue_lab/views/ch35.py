"""Chapter 35 (Conv1D spectrum classification): the exploration and the chapter's figures.

* :data:`accuracy_hides`: accuracy against macro F1 for a classifier that finds a share r of
  the rare classes and calls everything else a star;
* figures: :func:`spectra_examples`, :func:`training_curves`, :func:`saliency_map`;
* :func:`comparison_rows`: the table of the article's numbers beside ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _validate
from ..plot import figure
from ..sequences import spectra
from ..widgets import Curve, Panel, View, exploration, slider

_R = np.linspace(0.0, 1.0, 101)
_RARE = np.array(spectra.PRIORS[1:]) / sum(spectra.PRIORS[1:])  # the rare classes' mix


def _scores(star: float, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro F1 when stars are always right and each rare class is found with
    recall r (misses are called stars): F1_rare = 2r/(1 + r), F1_star = 2s/(2s + (1−s)(1−r))."""
    acc = star + (1 - star) * r
    f1_star = 2 * star / (2 * star + (1 - star) * (1 - r))
    f1_rare = 2 * r / (1 + r)
    return acc, (f1_star + 3 * f1_rare) / 4


@exploration(
    slider("star", 0.5, 0.98, steps=13, default=spectra.PRIORS[0], label="star prior"),
    slider("recall", 0.0, 1.0, steps=21, default=0.5, label="rare-class recall r"),
    title="Accuracy hides the rare classes; macro F1 does not",
)
def accuracy_hides(star: float = spectra.PRIORS[0], recall: float = 0.5) -> View:
    """Accuracy and macro F1 against the rare classes' recall, for a given share of stars."""
    acc, f1 = _scores(star, _R)
    a, f = _scores(star, np.array([recall]))
    panel = Panel(
        curves=[Curve(_R, acc, "accuracy"), Curve(_R, f1, "macro F1", color=1)],
        title=f"star prior {star:.2f}",
        xlabel="recall r of each rare class (unknown, galaxy, qso)",
        ylabel="score",
        ylim=(0.0, 1.02),
        vlines=[(recall, "r")],
    )
    return View([panel], readout=f"r = {recall:.2f}: accuracy {a[0]:.3f}, macro F1 {f[0]:.3f}")


def spectra_examples(data: Mapping[str, np.ndarray]) -> Any:
    """One generated spectrum per class with the noise-free line signal beneath it."""
    fig, axes = figure(2, 2, figsize=(10, 5.5), sharex=True)
    for c, ax in enumerate(axes.flat):
        i = int(np.flatnonzero(data["labels"] == c)[0])
        ax.plot(data["wave"], data["flux"][i], lw=0.8, label="flux (standardised)")
        ax.plot(data["wave"], data["lines"][i] - 3, lw=0.8, label="|lines| − 3")
        ax.set_title(f"{spectra.CLASSES[c]} (z = {data['z'][i]:.3f})")
    axes[0, 0].legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("wavelength (Å)")
    return fig


def training_curves(histories: Mapping[str, Mapping[str, Any]]) -> Any:
    """Per-step training loss of each run (stages marked by colour changes)."""
    fig, ax = figure(1, 1, figsize=(8, 3.5))
    for name, hist in histories.items():
        loss = np.asarray(hist["loss"])
        ax.plot(np.arange(len(loss)), loss, lw=0.8, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return fig


def saliency_map(
    wave: np.ndarray, saliency: np.ndarray, lines: np.ndarray, labels: np.ndarray
) -> Any:
    """Class-mean saliency |∂ logit/∂ flux| beside the class-mean line signal put in."""
    saliency = _validate.real_array("saliency", saliency)
    fig, axes = figure(3, 1, figsize=(10, 7), sharex=True)
    for ax, c in zip(axes, (0, 2, 3)):
        sel = labels == c
        s = saliency[sel].mean(0)
        ax.plot(wave, s / s.max(), lw=0.9, label="saliency (scaled)")
        ln = lines[sel].mean(0)
        ax.fill_between(wave, 0, ln / ln.max(), alpha=0.3, color="C1", label="lines put in")
        ax.set_title(f"{spectra.CLASSES[c]}: {int(sel.sum())} test spectra")
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("wavelength (Å)")
    return fig


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article, ours, recorded full run) of the chapter's table."""

    def cell(m: Mapping[str, Any], key: str) -> str:
        return f"{m[key]:.3f}" if m and key in m else "—"

    says: Sequence[tuple[str, str, str]] = [
        ("macro F1, CE stage only", "—", "f1_stage1"),
        ("macro F1, CE then score_loss (two-stage)", "0.82+ (LAMOST, single model)", "f1_two"),
        ("macro F1, CE continued instead", "—", "f1_ce"),
        ("macro F1, logistic regression on flux", "—", "f1_logreg"),
        ("Tecator (fat ≥ 20 %): macro F1 of the CNN", "—", "tecator_cnn"),
        ("Tecator: macro F1 of logistic regression", "—", "tecator_logreg"),
    ]
    return [(q, a, cell(ours, k), cell(recorded, k)) for q, a, k in says]
