"""Chapter 16's explorations and figures: attention entropy against n, and Laplace's method.

* :data:`entropy_view`: the planted-key toy with a typical (noise-free) key set, entropy
  against n for λ = 1/√d and λ = log_L(n)/√d;
* :data:`laplace_view`: the integrand of E[e^{λd cos θ}] and its Laplace Gaussian;
* figures of the notebook: :func:`laplace_slopes`, :func:`planted_key_curves`,
  :func:`accuracy_curves`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from ..architecture import attention as attn
from ..maths import sphere
from ..maths.entropy import softmax_entropy
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

_VIEW_N = np.unique(np.geomspace(16, 8192, 28).round().astype(int))


def _typical_weights(
    n: int, d: int, cos: float, lams: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Entropies and softmax weights (one row per λ) of the planted key plus a typical key set."""
    s = d * np.concatenate([[cos], attn.typical_cosines(int(n), int(d))])
    z = np.asarray(lams)[:, None] * s
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return softmax_entropy(z), p / p.sum(axis=1, keepdims=True)


@lru_cache(maxsize=128)
def _typical_curves(d: int, cos: float, base: int) -> np.ndarray:
    """Entropy against n (rows: standard, log-n scale) over the view's grid of n."""
    rows = [
        _typical_weights(
            int(m), d, cos, (1 / math.sqrt(d), attn.entropy_invariant_scale(int(m), d, base))
        )[0]
        for m in _VIEW_N
    ]
    return np.array(rows).T


@exploration(
    slider("d", 16, 256, steps=5, log=True, integer=True, default=64),
    slider("n", 16, 8192, steps=10, log=True, integer=True, default=2048),
    slider("cos", 0.0, 1.0, steps=6, default=0.6, label="relevant cosine"),
    choice("base", {"512": 512, "64": 64}, label="calibration length"),
    title="Attention entropy against the number of keys",
)
def entropy_view(d: int = 64, n: int = 2048, cos: float = 0.6, base: int = 512) -> View:
    """Planted-key toy with a 'typical' key set (mid-quantile cosines): attention entropy
    against n for λ = 1/√d and λ = log_base(n)/√d, and the largest weights at ``n``."""
    d, n = int(d), int(n)
    h_curves = _typical_curves(d, float(cos), int(base))
    lams = (1 / math.sqrt(d), attn.entropy_invariant_scale(n, d, base))
    (h_o, h_e), (p_o, p_e) = _typical_weights(n, d, cos, lams)
    top = min(40, n)
    rank = np.arange(1, top + 1)
    left = Panel(
        curves=[
            Curve(_VIEW_N, h_curves[0], "λ = 1/√d"),
            Curve(_VIEW_N, h_curves[1], f"λ = log_{base}(n)/√d"),
            Curve(_VIEW_N, np.log(_VIEW_N), "log n (uniform)", style="dotted", color=7),
        ],
        title="attention entropy (nats)",
        xlabel="n (keys)",
        ylabel="H",
        xlog=True,
        vlines=[(float(n), f"n = {n}"), (float(base), "calibration")],
    )
    right = Panel(
        curves=[
            Curve(rank, np.sort(p_o)[::-1][:top], "λ = 1/√d", style="markers"),
            Curve(rank, np.sort(p_e)[::-1][:top], "log-n scale", style="markers"),
        ],
        title=f"the {top} largest weights at n = {n}",
        xlabel="rank",
        ylabel="weight",
        ylog=True,
    )
    readout = (
        f"n = {n}: entropy {h_o:.2f} vs {h_e:.2f} nats (log n = {math.log(n):.2f}); "
        f"mass on the relevant key {p_o[0]:.3f} vs {p_e[0]:.3f} (standard vs log-n)"
    )
    return View([left, right], readout=readout)


@exploration(
    slider("lam", 0.1, 3.0, steps=30, log=True, default=1.0, include=[1.0], label="λ"),
    slider("d", 16, 512, steps=6, log=True, integer=True, default=128),
    title="Laplace's method for E[exp(λd cos θ)]",
)
def laplace_view(lam: float = 1.0, d: int = 128) -> View:
    """The integrand sin^(d−2)θ·e^{λd cos θ} of eq. (8) (scaled to peak 1) and its Laplace
    Gaussian, around the peak; the readout compares h_d(λ)/d with ½ log(1 − c²)."""
    d, lam = int(d), float(lam)
    c = sphere.laplace_peak(lam)
    peak = math.acos(c)
    top = lam * d * c + (d - 2) * math.log(math.sin(peak))
    curvature = (d - 2) / math.sin(peak) ** 2 + lam * d * c
    half = 6.0 / math.sqrt(curvature)
    theta = np.linspace(max(peak - half, 1e-6), min(peak + half, math.pi - 1e-6), 101)
    exact = np.exp(lam * d * np.cos(theta) + (d - 2) * np.log(np.sin(theta)) - top)
    gauss = np.exp(-0.5 * curvature * (theta - peak) ** 2)
    panel = Panel(
        curves=[
            Curve(theta, exact, "sin^(d−2)θ · e^{λd cos θ}"),
            Curve(theta, gauss, "Laplace Gaussian", style="dashed"),
        ],
        title=f"integrand of E[e^(λd cos θ)] near its peak, d = {d}",
        xlabel="θ (radians)",
        ylabel="relative size",
        ylim=(0.0, 1.05),
        vlines=[(peak, f"cos θ* = {c:.3f}")],
    )
    h = sphere.h_bessel(d, lam)
    readout = (
        f"h_d(λ)/d = {h / d:.4f} (Bessel form); ½ log(1 − c²) = {sphere.laplace_limit(lam):.4f}"
        f" (d → ∞); the article's −0.24·λ = {-0.24 * lam:.4f}"
    )
    return View([panel], readout=readout)


# ---- the notebook's figures ------------------------------------------------------------------
def laplace_slopes(d_grid: Any, lam_grid: Any) -> Any:
    """h_d(1)/d against d, approaching −½ log φ; and the slope ½ log(1 − c(λ)²) against λ
    beside −0.24λ and −λ²/2 (chapter 16, §3)."""
    d_grid, lam_grid = np.asarray(d_grid), np.asarray(lam_grid, dtype=float)
    fig, axes = figure(1, 2, figsize=(10, 3.6))
    axes[0].plot(d_grid, sphere.h_quadrature(d_grid, 1.0) / d_grid, "o-", label="h_d/d")
    axes[0].axhline(sphere.laplace_limit(1.0), color="0.4", ls="--", label="−½ log φ")
    axes[0].set(xscale="log", xlabel="d", title="h_d(λ=1)/d approaches −0.2406")
    axes[0].set_xticks(d_grid[::2], [str(d) for d in d_grid[::2]])
    axes[0].minorticks_off()
    axes[1].plot(lam_grid, [sphere.laplace_limit(v) for v in lam_grid], label="½ log(1 − c(λ)²)")
    axes[1].plot(lam_grid, -0.24 * lam_grid, "--", label="−0.24 λ")
    axes[1].plot(lam_grid, -(lam_grid**2) / 2, ":", label="−λ²/2")
    axes[1].set(xlabel="λ", title="slope of h_d in d against λ", ylim=(-1.2, 0.05))
    for ax in axes:
        ax.legend()
    return fig


def planted_key_curves(lengths: Any, entropy: Any, mass: Any, names: Any) -> Any:
    """Mean entropy and mean weight on the relevant key against n, one curve per scale
    (``entropy[k][i]``: scale k at ``lengths[i]``), with log n and the calibration length."""
    fig, axes = figure(1, 2, figsize=(10, 3.6))
    for k, name in enumerate(names):
        axes[0].plot(lengths, entropy[k], "o-", label=name)
        axes[1].plot(lengths, mass[k], "o-", label=name)
    axes[0].plot(lengths, np.log(lengths), ":", color="0.4", label="log n")
    axes[0].set(xscale="log", xlabel="n", ylabel="nats", title="mean entropy")
    axes[1].set(xscale="log", yscale="log", xlabel="n", title="mean weight on the relevant key")
    for ax in axes:
        ax.axvline(512, color="0.6", lw=0.8, ls="--")
        ax.legend()
    return fig


def accuracy_curves(lengths: Any, acc: dict, ent: dict, article: dict, names: dict) -> Any:
    """Accuracy (ours and, where ``article`` has the mode, the article's) and mean attention
    entropy against the test length over the training length, one curve per mode of ``names``
    (chapter 16, §6)."""
    fig, axes = figure(1, 2, figsize=(10, 3.6))
    ratio = [n // lengths[0] for n in lengths]
    for mode, name in names.items():
        ours = [100 * acc[mode, n] for n in lengths]
        axes[0].plot(ratio, ours, "o-", label=f"ours, {name}")
        if mode in article:  # a curve the article has no counterpart for is drawn alone
            axes[0].plot(ratio, article[mode], "s--", alpha=0.6, label=f"article, {name}")
        axes[1].plot(ratio, [ent[mode, n] for n in lengths], "o-", label=name)
    axes[1].plot(ratio, np.log(lengths), ":", color="0.4", label="log n")
    axes[0].set(ylabel="accuracy (%)", title="accuracy")
    axes[1].set(ylabel="nats", title="mean attention entropy (ours)")
    for ax in axes:
        ax.set(xscale="log", xlabel="test length / training length")
        ax.set_xticks(ratio, [f"{r}×" for r in ratio])
        ax.minorticks_off()
        ax.legend(fontsize=8)
    return fig
