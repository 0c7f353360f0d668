"""Chapter 03 (VAE, the intuition): the exploration and the figures of the notebook.

* :data:`kl_parts`: move μ and log σ² of q = N(μ, σ²) and watch KL(q ‖ N(0, 1)) split into
  its mean part ½μ² and its variance part ½(σ² − log σ² − 1), beside the quadratic
  "naive penalty" ½μ² + ¼(log σ²)² that the KL equals to second order;
* :func:`latent_scatter`: the codes μ(x) of test digits, coloured by digit, one panel per model;
* :func:`training_curves`: reconstruction term and KL term per epoch, one line per model;
* :func:`decoded_grid`: a grid of decoded codes (the author's 15 × 15 manifold figure);
* :func:`image_rows`: several titled rows of images, stacked.

Each figure function returns a matplotlib ``Figure`` (:func:`kexue_lab.plot.figure`), shown
once as a cell's last expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..plot import figure, image_grid
from ..widgets import Curve, Panel, View, exploration, slider

_Z = np.linspace(-5.0, 5.0, 101)


def _normal_pdf(z: np.ndarray, mean: float, var: float) -> np.ndarray:
    return np.exp(-0.5 * (z - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


@exploration(
    slider("mu", -3.0, 3.0, steps=13, default=1.0, label="μ"),
    slider("log_var", -4.0, 2.0, steps=13, default=-1.0, label="log σ²"),
    title="KL(N(μ, σ²) ‖ N(0, 1)): a mean part and a variance part",
)
def kl_parts(mu: float = 1.0, log_var: float = -1.0) -> View:
    """The posterior q = N(μ, σ²) against the prior, and the parts of KL(q ‖ N(0, 1)).

    Left: the two densities. Right: the mean part ½μ², the variance part ½(σ² − log σ² − 1),
    their sum (the KL of chapter 03, eq. (4)) and the quadratic penalty ½μ² + ¼(log σ²)², the
    KL's second-order Taylor polynomial around the prior.
    """
    mu, log_var = _validate.real("mu", mu), _validate.real("log_var", log_var)
    var = float(np.exp(log_var))
    mean_part, var_part = 0.5 * mu**2, 0.5 * (var - log_var - 1)
    naive = 0.5 * mu**2 + 0.25 * log_var**2
    densities = Panel(
        [
            Curve(_Z, _normal_pdf(_Z, mu, var).round(5), "q = N(μ, σ²)", color=0),
            Curve(_Z, _normal_pdf(_Z, 0.0, 1.0).round(5), "prior N(0, 1)", "dashed", color=7),
        ],
        title="posterior and prior",
        xlabel="z",
        ylabel="density",
        ylim=(0.0, 3.2),
    )
    names = ["mean part ½μ²", "variance part", "KL (their sum)", "½μ² + ¼(log σ²)²"]
    values = [mean_part, var_part, mean_part + var_part, naive]
    # one bar per curve, at x = 0, 1, 2, 3, named in the legend (the static book's bars need
    # numeric x)
    parts = Panel(
        [
            Curve([i], [round(v, 4)], n, "bar", color=i + 2)
            for i, (n, v) in enumerate(zip(names, values))
        ],
        title="the KL in nats",
        ylabel="nats",
        ylim=(0.0, 9.0),
    )
    readout = (
        f"σ = {np.sqrt(var):.3f}: KL = {mean_part + var_part:.3f} nats = {mean_part:.3f} (mean) "
        f"+ {var_part:.3f} (variance); the quadratic penalty gives {naive:.3f}"
    )
    return View([densities, parts], readout=readout)


def _numpy(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def latent_scatter(panels: Mapping[str, tuple[Any, Any]], *, show: int = 1000) -> Any:
    """The codes μ(x) of digits, coloured by their label, one panel per model.

    ``panels`` maps a title to ``(mu, labels)`` with ``mu`` of shape ``(N, 2)``. The circles of
    radius 1 and 2 are the prior's one- and two-standard-deviation contours. At most ``show``
    points are drawn per panel. Returns the figure.
    """
    show = _validate.positive_int("show", show)
    if not panels:
        raise ValueError("panels must name at least one (mu, labels) pair, got an empty mapping")
    fig, axes = figure(1, len(panels), figsize=(4.6 * len(panels), 4.3), squeeze=False)
    angle = np.linspace(0, 2 * np.pi, 200)
    for ax, (title, (mu, labels)) in zip(axes[0], panels.items()):
        m, y = _numpy("mu", mu)[:show], _numpy("labels", labels)[:show]
        if m.ndim != 2 or m.shape[1] != 2 or len(y) != len(m):
            raise ValueError(f"{title}: mu must be (N, 2) with N labels, got {m.shape}, {y.shape}")
        points = ax.scatter(m[:, 0], m[:, 1], c=y, cmap="tab10", vmin=-0.5, vmax=9.5, s=7)
        for r in (1, 2):
            ax.plot(r * np.cos(angle), r * np.sin(angle), color="0.3", lw=0.9, ls="--")
        ax.set(title=title, xlabel="μ₁", ylabel="μ₂", aspect="equal")
    fig.colorbar(points, ax=axes[0].tolist(), ticks=range(10), label="digit", shrink=0.85)
    return fig


def training_curves(histories: Mapping[str, Any]) -> Any:
    """Reconstruction term −log p(x|z) and KL term per epoch (training-batch means).

    ``histories`` maps a model's name to its :class:`kexue_lab.train.History` with the metrics
    ``nll`` and ``kl`` (what :func:`kexue_lab.generative.vae.elbo_loss` records). Returns the
    figure.
    """
    if not histories:
        raise ValueError("histories must name at least one training run, got an empty mapping")
    fig, (left, right) = figure(1, 2, figsize=(10, 3.6))
    for name, hist in histories.items():
        epochs = range(1, len(hist["nll"]) + 1)
        left.plot(epochs, hist["nll"], "o-", ms=3, label=name)
        right.plot(epochs, hist["kl"], "o-", ms=3, label=name)
    left.set(title="reconstruction −log p(x|z)", xlabel="epoch", ylabel="nats per image")
    right.set(title="KL(q(z|x) ‖ prior)", xlabel="epoch", ylabel="nats per image", yscale="log")
    left.legend()
    return fig


def decoded_grid(images: Any, n: int, title: str = "") -> Any:
    """An n × n grid of decoded images (row-major, as :func:`latent_grid` orders the codes)."""
    n = _validate.positive_int("n", n)
    arr = _numpy("images", images)
    if len(arr) != n * n:
        raise ValueError(f"images must hold n·n = {n * n} images, got {len(arr)}")
    fig, ax = figure(figsize=(6.2, 6.5))
    image_grid(arr.reshape(n * n, 1, *_side(arr)), ncols=n, ax=ax, title=title)
    return fig


def _side(arr: np.ndarray) -> tuple[int, int]:
    if arr.ndim == 2:  # flattened square images
        side = int(round(np.sqrt(arr.shape[1])))
        if side * side != arr.shape[1]:
            raise ValueError(f"flat images must be square, got {arr.shape[1]} values each")
        return side, side
    return arr.shape[-2], arr.shape[-1]


def image_rows(groups: Mapping[str, Any], ncols: int = 10) -> Any:
    """Several batches of images, one titled grid of ``ncols`` columns per batch, stacked.

    Images may be flattened squares ``(N, H·W)`` or ``(N, 1, H, W)``. Returns the figure.
    """
    ncols = _validate.positive_int("ncols", ncols)
    if not groups:
        raise ValueError("groups must name at least one batch of images, got an empty mapping")
    rows = [-(-len(b) // ncols) for b in groups.values()]
    width = min(0.9 * ncols, 9)
    height = sum(width / ncols * r + 0.4 for r in rows)
    fig, axes = figure(
        len(groups),
        1,
        figsize=(width, height),
        squeeze=False,
        gridspec_kw={"height_ratios": [r + 0.4 * ncols / width for r in rows]},
    )
    for ax, (title, batch) in zip(axes[:, 0], groups.items()):
        arr = _numpy("images", batch)
        image_grid(arr.reshape(len(arr), 1, *_side(arr)), ncols=ncols, ax=ax, title=title)
    return fig
