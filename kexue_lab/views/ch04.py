"""Chapter 04 (VAE, the Bayesian view): the exploration and the figures of the notebook.

* :data:`sigma_knob`: the decoder variance σ̃² of a linear VAE on the MNIST digits shipped with
  the package, in closed form (:func:`kexue_lab.generative.vae_bayes.linear_vae_optimum`): which
  principal directions are used, the KL and the squared error, and the loss L, which turns
  negative for small σ̃²;
* :func:`tradeoff`: KL, reconstruction error and loss against σ̃² for trained VAEs (one point
  per seed) beside the linear VAE's optimum;
* :func:`image_rows`: several titled rows of images, stacked.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..generative.vae_bayes import linear_vae_optimum
from ..plot import figure, image_grid
from ..widgets import Curve, Panel, View, choice, exploration, slider

_LOG_GRID = np.linspace(-3.0, 0.0, 61)  # log10 σ̃² for the curves of the exploration
_SHOWN = 80  # eigenvalues drawn


@functools.lru_cache(maxsize=1)
def mnist_spectrum() -> np.ndarray:
    """Eigenvalues of the pixel covariance of 4,000 MNIST digits (``data.load("mnist-5k")``),
    largest first, as float64 (784 values; those within rounding of 0 set to 0)."""
    from ..data import load

    x, _ = load("mnist-5k", "train")
    flat = x.flatten(1).double()
    lam = torch.linalg.eigvalsh(torch.cov(flat.T)).flip(0).numpy()
    return np.where(lam < 1e-10 * lam[0], 0.0, lam)


@exploration(
    slider("log_sigma2", -3.0, 0.0, steps=31, default=-2.0, label="log₁₀ σ̃²"),
    choice("z_dim", {"2": 2, "16": 16, "64": 64}, default=16, label="latent dimensions d"),
    title="The decoder variance σ̃² of a linear VAE on MNIST (closed form)",
    height=360,
)
def sigma_knob(log_sigma2: float = -2.0, z_dim: int = 16) -> View:
    """The optimal linear VAE at σ̃² = 10^log_sigma2 with ``z_dim`` latent dimensions.

    Left: the pixel covariance's eigenvalues λ_i and the water level σ̃²: direction i is used iff
    λ_i > σ̃² (and i ≤ d). Middle: KL against the squared error per pixel as σ̃² moves, the
    current σ̃² marked. Right: the loss L per digit against σ̃².
    """
    log_sigma2 = _validate.in_range("log_sigma2", log_sigma2, -3.0, 0.0)
    z_dim = _validate.positive_int("z_dim", z_dim)
    lam = mnist_spectrum()
    pixels = lam.size
    sigma2 = 10.0**log_sigma2
    now = linear_vae_optimum(lam, sigma2, z_dim)
    curve = [linear_vae_optimum(lam, 10.0**g, z_dim) for g in _LOG_GRID]
    idx = np.arange(1, _SHOWN + 1)
    used = np.flatnonzero(now["active"]) + 1
    spectrum = Panel(
        [
            Curve(idx, lam[:_SHOWN].round(6), "eigenvalues λᵢ", "markers", color=7),
            Curve(used, lam[used - 1].round(6), "used directions", "markers", color=0),
            Curve([1, _SHOWN], [sigma2, sigma2], "σ̃² (water level)", "dashed", color=1),
        ],
        title="principal directions and the water level",
        xlabel="direction i",
        ylabel="variance",
        ylog=True,
        ylim=(1e-3, 10.0),
    )
    rates = np.array([c["rate"] for c in curve])
    mses = np.array([c["distortion"] / pixels for c in curve])
    rd = Panel(
        [
            Curve(rates.round(3), mses.round(6), "σ̃² from 10⁻³ to 1", color=0),
            Curve([round(now["rate"], 3)], [now["distortion"] / pixels], "this σ̃²", "markers", 1),
        ],
        title="KL against squared error",
        xlabel="KL (nats per digit)",
        ylabel="squared error per pixel",
        ylim=(0.0, 0.07),
    )
    losses = np.array([c["loss"] for c in curve])
    loss = Panel(
        [
            Curve((10.0**_LOG_GRID).round(6), losses.round(2), "L at the optimum", color=2),
            Curve([1e-3, 1.0], [0.0, 0.0], "0", "dotted", color=7),
        ],
        title="the loss L (eq. (13))",
        xlabel="σ̃²",
        ylabel="nats per digit",
        xlog=True,
        ylim=(-800.0, 2000.0),
        vlines=[(sigma2, "σ̃²")],
    )
    readout = (
        f"σ̃² = {sigma2:.3g}: {int(now['active'].sum())} of {z_dim} directions used, KL = "
        f"{now['rate']:.1f} nats, squared error {now['distortion'] / pixels:.4f} per pixel, "
        f"L = {now['loss']:.0f} nats per digit"
    )
    return View([spectrum, rd, loss], readout=readout)


def tradeoff(
    points: Sequence[Mapping[str, float]], theory: Mapping[str, Sequence[float]] | None = None
) -> Any:
    """KL, squared error per pixel and loss L against σ̃², one marker per trained model.

    ``points`` are dicts with ``sigma2``, ``kl``, ``mse`` and ``loss`` (one per model and seed);
    ``theory`` (optional) holds arrays ``sigma2``, ``kl``, ``mse``, ``loss`` of the linear VAE,
    drawn as lines. Returns the figure.
    """
    if not points:
        raise ValueError("points must hold at least one trained model, got none")
    keys = ("sigma2", "kl", "mse", "loss")
    for p in points:
        missing = [k for k in keys if k not in p]
        if missing:
            raise ValueError(f"every point needs {keys}; one lacks {missing}")
    fig, axes = figure(1, 3, figsize=(12, 3.6))
    titles = ("KL(p(z|x) ‖ q(z))", "squared error per pixel", "loss L (eq. (13))")
    units = ("nats per image", "", "nats per image")
    for ax, key, title, unit in zip(axes, keys[1:], titles, units):
        xs = [p["sigma2"] for p in points]
        ax.plot(xs, [p[key] for p in points], "o", ms=5, alpha=0.8, label="trained VAE (each seed)")
        if theory is not None:
            ax.plot(theory["sigma2"], theory[key], "-", lw=1.4, label="linear VAE, optimum")
        ax.set(xscale="log", xlabel="σ̃²", title=title, ylabel=unit)
    axes[2].axhline(0, color="0.5", lw=0.8)
    axes[0].legend()
    return fig


def image_rows(groups: Mapping[str, Any], ncols: int = 12) -> Any:
    """Several batches of images, one titled grid of ``ncols`` columns per batch, stacked.

    Images may be flattened squares ``(N, H·W)`` or ``(N, 1, H, W)``. Returns the figure.
    """
    ncols = _validate.positive_int("ncols", ncols)
    if not groups:
        raise ValueError("groups must name at least one batch of images, got an empty mapping")
    arrays = []
    for title, batch in groups.items():
        arr = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
        if arr.ndim == 2:
            side = math.isqrt(arr.shape[1])
            if side * side != arr.shape[1]:
                raise ValueError(f"{title}: flat images must be square, got {arr.shape[1]} values")
            arr = arr.reshape(len(arr), 1, side, side)
        arrays.append((title, arr))
    rows = [-(-len(a) // ncols) for _, a in arrays]
    width = min(0.75 * ncols, 9)
    fig, axes = figure(
        len(arrays),
        1,
        figsize=(width, sum(width / ncols * r + 0.4 for r in rows)),
        squeeze=False,
        gridspec_kw={"height_ratios": [r + 0.4 * ncols / width for r in rows]},
    )
    for ax, (title, arr) in zip(axes[:, 0], arrays):
        image_grid(arr, ncols=ncols, ax=ax, title=title)
    return fig
