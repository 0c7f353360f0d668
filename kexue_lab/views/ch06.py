"""Chapter 06 (VQ-VAE): the exploration and the figures of the notebook.

* :data:`quantization`: K codes learning a ring of eight Gaussians with the codebook
  loss alone (:func:`kexue_lab.generative.codebook_toy.toy_codebook_run`);
* :func:`usage_and_perplexity`: codebook usage on the test set and the batch
  perplexity during training, for several trained models;
* :func:`reconstruction_grid`: test digits above their reconstructions, one row per model;
* :func:`prior_samples`: decoded samples of several priors, one titled grid per prior.

Each figure function returns a matplotlib ``Figure`` (:func:`kexue_lab.plot.figure`), shown
once as a cell's last expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..generative.codebook_toy import toy_codebook_run, toy_codes
from ..plot import figure, image_grid
from ..widgets import Curve, Panel, View, choice, exploration, slider

VIEW_POINTS = 240  # data points drawn in the exploration (of 512)


@exploration(
    choice("num_codes", {"4": 4, "8": 8, "16": 16}, default=8, label="K"),
    slider("step", 0, 400, steps=17, default=100, integer=True, label="Adam step"),
    choice(
        "init",
        {"far corner": "corner", "random data points": "data"},
        default="corner",
        label="initial codebook",
    ),
    choice("reseed", {"off": False, "on": True}, default=False, label="re-seeding"),
    title="A codebook learning a ring of Gaussians (codebook loss only)",
    height=380,
)
def quantization(
    num_codes: int = 8, step: int = 100, init: str = "corner", reseed: bool = False
) -> View:
    """K codes learning a ring of 8 Gaussians with mean((sg[z] − e_k)²) alone (chapter 06).

    Left: the data and the codebook after ``step`` Adam steps. Middle: how many
    points each code takes. Right: the perplexity exp H(p) of the assignment over the
    steps. With ``init="corner"`` most codes start far from the data, never win
    a point and never move (dead codes); ``reseed=True`` revives them.
    """
    num_codes = _validate.positive_int("num_codes", num_codes)
    step = _validate.non_negative_int("step", step)
    data, books, perp = toy_codebook_run(num_codes, init, bool(reseed))
    step = min(step, len(books) - 1)
    book = books[step]
    codes = toy_codes(data, book)
    counts = np.bincount(codes, minlength=num_codes)
    pts = data[:VIEW_POINTS]
    used = int((counts > 0).sum())
    dist = float(np.sqrt(((data - book[codes]) ** 2).sum(1)).mean())
    scatter = Panel(
        [
            Curve(pts[:, 0].round(3), pts[:, 1].round(3), "data", style="markers", color=5),
            Curve(book[:, 0].round(3), book[:, 1].round(3), "codes", style="markers", color=1),
        ],
        title=f"codebook after {step} steps",
        xlabel="z₁",
        ylabel="z₂",
    )
    share = (counts / counts.sum()).round(4)
    bars = Panel(
        [Curve([str(k) for k in range(num_codes)], share, "", style="bar", color=0)],
        title="share of the points per code",
        xlabel="code k",
        ylabel="share",
        ylim=(0.0, 1.0),
    )
    every = max(1, (len(perp) - 1) // 100)
    xs = np.arange(0, len(perp), every)
    last = len(perp) - 1
    curve = Panel(
        [
            Curve(xs, perp[xs].round(3), "perplexity", color=2),
            Curve([0, last], [num_codes, num_codes], f"K = {num_codes}", style="dashed", color=7),
        ],
        title="perplexity exp(H) over training",
        xlabel="Adam step",
        ylabel="perplexity",
        ylim=(0.0, num_codes + 1.0),
        vlines=[(step, "now")],
    )
    readout = (
        f"step {step}: {used}/{num_codes} codes used, {num_codes - used} dead, "
        f"perplexity {perp[step]:.2f}, mean distance to the nearest code {dist:.2f}"
    )
    return View([scatter, bars, curve], readout=readout)


def usage_and_perplexity(runs: Mapping[str, Any], num_codes: int) -> Any:
    """Codebook usage per code (sorted, log scale) and the mean batch perplexity per epoch.

    ``runs`` maps a label to a trained run with ``stats`` (a
    :class:`kexue_lab.generative.vq.CodebookStats` of the test codes) and ``hist`` (the
    :class:`kexue_lab.train.History` with a ``perplexity`` metric). A dead code has no
    assignments, so its curve stops where the dead codes begin. Returns the figure.
    """
    num_codes = _validate.positive_int("num_codes", num_codes)
    if not runs:
        raise ValueError("runs must name at least one trained run, got an empty mapping")
    fig, (ax0, ax1) = figure(1, 2, figsize=(10, 3.6))
    for name, r in runs.items():
        counts = np.sort(r["stats"].counts.numpy())[::-1]
        ranks = np.arange(1, len(counts) + 1)
        used = np.where(counts > 0, counts, np.nan)
        ax0.plot(ranks, used, drawstyle="steps-mid", label=f"{name}: {r['stats']}")
        perp = r["hist"]["perplexity"]
        ax1.plot(range(1, len(perp) + 1), perp, "o-", label=name)
    ax0.set(yscale="log", xlim=(0, num_codes + 1), xlabel="code rank", ylabel="test assignments")
    ax0.set_title("codebook usage on the test set")
    ax1.set(xlabel="epoch", ylabel="mean batch perplexity", ylim=(0, num_codes))
    ax1.set_title("perplexity during training")
    ax0.legend(fontsize=8)
    ax1.legend()
    return fig


def reconstruction_grid(
    rows: Sequence[Any], show: int = 12, title: str = "test digits · paper recipe · with re-seeding"
) -> Any:
    """The first ``show`` images of each batch in ``rows`` (test digits, then each model's
    reconstructions of them), one row per batch, as one grid. Returns the figure."""
    show = _validate.positive_int("show", show)
    if not rows:
        raise ValueError("rows must hold at least one batch of images, got none")
    batches = [r[:show] for r in rows]
    if len({len(b) for b in batches}) != 1:
        raise ValueError(f"every batch needs {show} images, got {[len(b) for b in batches]}")
    images = torch.cat([torch.as_tensor(b).detach().cpu() for b in batches])
    fig, ax = figure(figsize=(min(1.0 * show, 9), min(1.0 * len(batches), 9) + 0.3))
    image_grid(images, ncols=show, ax=ax, title=title)
    return fig


def prior_samples(groups: Mapping[str, Any], ncols: int = 12) -> Any:
    """Decoded samples of several priors, one titled grid per prior, stacked (chapter 06).

    ``groups`` maps a title (e.g. "independent prior") to a batch ``(N, 1, H, W)`` of decoded
    samples. Returns the figure.
    """
    ncols = _validate.positive_int("ncols", ncols)
    if not groups:
        raise ValueError("groups must name at least one batch of samples, got an empty mapping")
    rows = [-(-len(b) // ncols) for b in groups.values()]
    height = sum(min(0.8 * r, 8) + 0.4 for r in rows)  # images are 0.75 in wide at 12 columns
    fig, axes = figure(len(groups), 1, figsize=(min(1.0 * ncols, 9), height), squeeze=False)
    for ax, (title, batch) in zip(axes[:, 0], groups.items()):
        image_grid(batch, ncols=ncols, ax=ax, title=title)
    return fig
