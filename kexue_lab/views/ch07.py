"""Chapter 07 (EAE): the explorations and the figures of the notebook.

* :data:`repulsion`: 300 points, standardised like a BN layer, climb the gradient of their own
  1-NN entropy estimate; watch the cloud, a marginal against N(0, 1), and Ĥ against the bound;
* :data:`estimator_error`: the error of the k-NN entropy estimate against the dimension, for a
  Gaussian and for a uniform cube, at a chosen sample size n and neighbour rank k;
* :func:`image_rows`: titled rows of images (decoded samples, reconstructions);
* :func:`code_pairs`: for each model, the codes on its most correlated pair of coordinates.

Each figure function returns a matplotlib ``Figure`` (:func:`kexue_lab.plot.figure`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .. import _validate
from ..generative.eae import knn_entropy
from ..plot import figure, image_grid
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: The entropy of N(0, I₂), ln(2πe) = 2.8379 nats: the most a 2-D cloud with unit variances has.
GAUSS_2D = math.log(2 * math.pi * math.e)
_N_POINTS, _LR, _MAX_STEPS = 300, 1.0, 400
_GRID = np.linspace(-4.0, 4.0, 33)
_STARTS = ("two blobs", "skewed")
_DIMS = (1, 2, 4, 8, 16, 32)


def _start(name: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    if name == "two blobs":
        centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0]], dtype=torch.float64).repeat(150, 1)
        return centres + 0.3 * torch.randn(_N_POINTS, 2, generator=g, dtype=torch.float64)
    x = torch.empty(_N_POINTS, dtype=torch.float64).exponential_(generator=g)
    return torch.stack([x, 0.2 * torch.randn(_N_POINTS, generator=g, dtype=torch.float64)], 1)


def _standardise(z: torch.Tensor) -> torch.Tensor:
    """BatchNorm without γ, β (training mode): per-coordinate mean 0, biased variance 1."""
    return (z - z.mean(0)) / z.std(0, unbiased=False)


@lru_cache(maxsize=4)
def _trajectory(start: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised points after 0 … _MAX_STEPS ascent steps, and Ĥ at every step."""
    z = _start(start).requires_grad_(True)
    clouds, entropies = [], []
    for _ in range(_MAX_STEPS + 1):
        zn = _standardise(z)
        h = knn_entropy(zn)
        (grad,) = torch.autograd.grad(h, z)
        clouds.append(zn.detach().numpy().copy())
        entropies.append(float(h.detach()))
        with torch.no_grad():
            z += _LR * grad
    return np.stack(clouds), np.array(entropies)


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


@exploration(
    slider("steps", 0, _MAX_STEPS, steps=9, default=100, integer=True, include=[10, 25]),
    choice("start", list(_STARTS), default="two blobs", label="start from"),
    title="Repulsion makes Gaussians: BN + gradient ascent on the 1-NN entropy estimate",
)
def repulsion(steps: int = 100, start: str = "two blobs") -> View:
    """300 points standardised per coordinate (BN without γ, β), after ``steps`` steps of
    z ← z + η ∇_z Ĥ(𝒩(z)) with the 1-NN estimate Ĥ of chapter 07 (η = 1).

    Left: the standardised cloud. Middle: a histogram of its first coordinate against the
    N(0, 1) density. Right: Ĥ per step against ln(2πe), the entropy of N(0, I₂).
    """
    steps = _validate.non_negative_int("steps", steps)
    if steps > _MAX_STEPS:
        raise ValueError(f"steps must be <= {_MAX_STEPS}, got {steps}")
    _validate.choice("start", start, _STARTS)
    clouds, entropies = _trajectory(start)
    cloud = clouds[steps]
    counts, edges = np.histogram(cloud[:, 0], bins=_GRID)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (len(cloud) * (edges[1] - edges[0]))
    scatter = Panel(
        [Curve(cloud[:, 0].round(3), cloud[:, 1].round(3), "points", "markers", color=0)],
        title=f"standardised points after {steps} steps",
        xlabel="z₁",
        ylabel="z₂",
    )
    marginal = Panel(
        [
            Curve(centres, density.round(4), "histogram of z₁", "bar", color=0),
            Curve(_GRID, _normal_pdf(_GRID).round(4), "N(0, 1)", "dashed", color=3),
        ],
        title="first coordinate",
        xlabel="z₁",
        ylabel="density",
        ylim=(0.0, 1.0),
    )
    t = np.arange(0, _MAX_STEPS + 1, 4)
    curve = Panel(
        [
            Curve(t, entropies[t].round(4), "Ĥ of the points", color=0),
            Curve(t, np.full(len(t), round(GAUSS_2D, 4)), "ln(2πe): N(0, I₂)", "dashed", color=3),
        ],
        title="entropy estimate per step",
        xlabel="step",
        ylabel="nats",
        ylim=(1.0, 5.0),
        vlines=[(float(steps), "now")],
    )
    readout = (
        f"Ĥ = {entropies[steps]:.3f} nats against ln(2πe) = {GAUSS_2D:.3f}; excess kurtosis of "
        f"z₁ = {_kurtosis(cloud[:, 0]):+.2f} (0 for a Gaussian)"
    )
    return View([scatter, marginal, curve], readout=readout)


def _kurtosis(x: np.ndarray) -> float:
    c = x - x.mean()
    return float((c**4).mean() / (c**2).mean() ** 2 - 3)


@lru_cache(maxsize=64)
def _errors(kind: str, n: int, k: int, d: int, seeds: int = 5) -> tuple[float, float]:
    """Mean and standard deviation over seeds of Ĥ − H for N(0, I_d) or U[0, 1]^d."""
    errs = []
    for s in range(seeds):
        g = torch.Generator().manual_seed(s)
        if kind == "gaussian":
            z = torch.randn(n, d, generator=g)  # float32: ample for a spread over seeds
            true = 0.5 * d * math.log(2 * math.pi * math.e)
        else:
            z, true = torch.rand(n, d, generator=g), 0.0
        errs.append(float(knn_entropy(z, k=k)) - true)
    arr = np.array(errs)
    return float(arr.mean()), float(arr.std(ddof=1))


@exploration(
    choice("n", [100, 300, 1000], default=1000, label="sample size n"),
    choice("k", [1, 4], default=1, label="neighbour rank k"),
    title="How good is the k-NN entropy estimate? Error Ĥ − H against the dimension",
)
def estimator_error(n: int = 1000, k: int = 1) -> View:
    """Mean ± one standard deviation over 5 seeds of Ĥ − H, for d = 1 … 32.

    Left: N(0, I_d), H = (d/2) ln(2πe). Right: the uniform cube [0, 1]^d, H = 0.
    """
    n = _validate.choice("n", n, (100, 300, 1000))
    k = _validate.choice("k", k, (1, 4))
    panels, worst = [], {}
    for i, (kind, title) in enumerate([("gaussian", "N(0, I_d)"), ("uniform", "U[0, 1]^d")]):
        stats = np.array([_errors(kind, n, k, d) for d in _DIMS])
        mean, sd = stats[:, 0].round(4), stats[:, 1].round(4)
        panels.append(
            Panel(
                [
                    Curve(_DIMS, mean, "mean error", color=i),
                    Curve(_DIMS, (mean + sd).round(4), "± 1 sd over seeds", "dashed", color=7),
                    Curve(_DIMS, (mean - sd).round(4), "", "dashed", color=7),
                    Curve(_DIMS, [0.0] * len(_DIMS), "exact", "dotted", color=3),
                ],
                title=f"{title}, n = {n}, k = {k}",
                xlabel="dimension d",
                ylabel="Ĥ − H (nats)",
                xlog=True,
                ylim=(-2.0, 14.0),
            )
        )
        worst[title] = (mean[-1], sd[-1])
    (g_mean, g_sd), (u_mean, u_sd) = worst.values()
    readout = (
        f"at d = 32: Gaussian error {g_mean:+.2f} ± {g_sd:.2f} nats, uniform cube "
        f"{u_mean:+.2f} ± {u_sd:.2f} nats (5 seeds)"
    )
    return View(panels, readout=readout)


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def image_rows(groups: Mapping[str, Any], ncols: int = 10) -> Any:
    """One titled grid per entry of ``groups`` (name → images, flat 784 or (N, 1, 28, 28))."""
    ncols = _validate.positive_int("ncols", ncols)
    if not groups:
        raise ValueError("groups must name at least one batch of images, got an empty mapping")
    rows = [math.ceil(len(_numpy(v)) / ncols) for v in groups.values()]
    fig, axes = figure(
        len(groups),
        1,
        figsize=(ncols * 0.62, 0.66 * sum(rows) + 0.45 * len(rows)),
        squeeze=False,
        gridspec_kw={"height_ratios": rows},
    )
    for ax, (title, images) in zip(axes[:, 0], groups.items()):
        arr = _numpy(images)
        if arr.ndim == 2:
            side = int(round(math.sqrt(arr.shape[1])))
            if side * side != arr.shape[1]:
                raise ValueError(f"{title}: flat images must be square, got {arr.shape[1]} values")
            arr = arr.reshape(len(arr), 1, side, side)
        image_grid(arr, ncols=ncols, ax=ax, title=title)
    return fig


def code_pairs(codes: Mapping[str, Any], *, show: int = 1000) -> Any:
    """For each model, its codes on the pair of coordinates with the largest |correlation|.

    ``codes`` maps a title to an ``(N, d)`` array of codes. The dashed circles are the one- and
    two-standard-deviation contours of N(0, I). Returns the figure.
    """
    show = _validate.positive_int("show", show)
    if not codes:
        raise ValueError("codes must name at least one (N, d) array, got an empty mapping")
    fig, axes = figure(1, len(codes), figsize=(4.2 * len(codes), 4.2), squeeze=False)
    angle = np.linspace(0, 2 * np.pi, 200)
    for ax, (title, z) in zip(axes[0], codes.items()):
        arr = _numpy(z)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise ValueError(f"{title}: codes must have shape (N, d) with d >= 2, got {arr.shape}")
        corr = np.corrcoef(arr.T)
        np.fill_diagonal(corr, 0.0)
        i, j = np.unravel_index(np.abs(corr).argmax(), corr.shape)
        ax.scatter(arr[:show, i], arr[:show, j], s=4, alpha=0.6)
        for r in (1, 2):
            ax.plot(r * np.cos(angle), r * np.sin(angle), color="0.3", lw=0.9, ls="--")
        ax.set(
            title=f"{title}\ncorrelation of z{i + 1}, z{j + 1}: {corr[i, j]:+.2f}",
            xlabel=f"z{i + 1}",
            ylabel=f"z{j + 1}",
            aspect="equal",
            xlim=(-4, 4),
            ylim=(-4, 4),
        )
    return fig
