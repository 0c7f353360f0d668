"""Chapter 17's explorations and figures: random projections, the JL bounds, sharpening.

* :data:`jl_view`: measured squared-distance ratios against χ²_k/k, and the one-pair and
  union bounds against k;
* :data:`sharpen_view`: one attention row sharpened by a = log₅₁₂ n;
* figures of the notebook: :func:`tail_curves`, :func:`key_size_curves`, :func:`mass_curves`,
  :func:`head_curves`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ..architecture import attention as attn
from ..maths import jl
from ..maths.entropy import entropy
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

_VIEW_DIMS = np.unique(np.geomspace(4, 4096, 60).round().astype(int))
_VIEW_X = np.linspace(0.0, 2.5, 101)
_VIEW_LOGITS = torch.linspace(2.0, -2.0, 32, dtype=torch.float64) ** 3 / 4


@lru_cache(maxsize=32)
def _view_ratios(dim: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(17)
    cloud = torch.randn(64, 512, generator=gen, dtype=torch.float64)
    return jl.squared_distance_ratios(cloud, dim, seed=dim).numpy()[0]


@exploration(
    slider("n_points", 10, 100_000, steps=6, log=True, integer=True, default=512, label="N points"),
    slider("eps", 0.1, 0.9, steps=9, default=0.5, label="ε"),
    slider("dim", 8, 1024, steps=8, log=True, integer=True, default=64, label="k (projected dim)"),
    title="Random projection: measured ratios, exact tail and JL bounds",
)
def jl_view(n_points: int = 512, eps: float = 0.5, dim: int = 64) -> View:
    """Squared-distance ratios after one projection to ``dim`` dimensions (64 Gaussian points
    in ℝ^512, 2016 pairs) against the χ²_dim/dim law, and the per-pair and union bounds
    for N = ``n_points`` points against the dimension."""
    from scipy.stats import chi2

    dim = int(dim)
    ratios = _view_ratios(dim)
    edges = np.linspace(0.0, 2.5, 51)
    hist, _ = np.histogram(ratios, bins=edges, density=True)
    density = chi2.pdf(_VIEW_X * dim, dim) * dim
    left = Panel(
        curves=[
            Curve((edges[:-1] + edges[1:]) / 2, hist, "2016 measured pairs", style="markers"),
            Curve(_VIEW_X, density, f"χ²_{dim}/{dim} density", color=1),
        ],
        title=f"‖(x−y)P‖²/‖x−y‖², dim = {dim}",
        xlabel="ratio",
        ylabel="density",
        vlines=[(1 - eps, "1−ε"), (1 + eps, "1+ε")],
    )
    pairs = n_points * (n_points - 1) / 2
    bound = jl.jl_bound_curve(_VIEW_DIMS, eps)
    need = jl.jl_dimension(n_points, eps)
    right = Panel(
        curves=[
            Curve(
                _VIEW_DIMS,
                np.maximum(jl.chi2_tail_curve(_VIEW_DIMS, eps), 1e-30),
                "exact, one pair",
            ),
            Curve(
                _VIEW_DIMS, np.minimum(bound, 10.0), "bound 2e^{−kε²/8}", style="dashed", color=1
            ),
            Curve(
                _VIEW_DIMS,
                np.minimum(pairs * bound, 10.0),
                "union bound, N points",
                style="dotted",
                color=2,
            ),
            # vertical markers drawn as curves: the static renderer places vlines in linear x
            Curve([dim, dim], [1e-12, 10.0], "k (this projection)", style="dotted", color=3),
            Curve([need, need], [1e-12, 10.0], "24 log N/ε²", style="dotted", color=4),
        ],
        title=f"failure probability at ε = {eps:g}",
        xlabel="dim",
        ylabel="probability",
        xlog=True,
        ylog=True,
        ylim=(1e-12, 10.0),
    )
    outside = float(np.mean(np.abs(ratios - 1) >= eps))
    readout = (
        f"outside 1±ε: {outside:.3f} of pairs (exact {jl.chi2_tail(dim, eps):.3f}, "
        f"bound {jl.jl_bound(dim, eps):.3g}) · JL: dim > {need:.0f} "
        f"for N = {n_points} · 8.33 log N = {8.33 * math.log(n_points):.1f}"
    )
    return View([left, right], readout=readout)


@exploration(
    slider(
        "length",
        16,
        65536,
        steps=13,
        log=True,
        integer=True,
        default=4096,
        label="sequence length n",
    ),
    title="softmax(a·z) = p^a/Σp^a with a = log₅₁₂ n",
)
def sharpen_view(length: int = 512) -> View:
    """One attention row over 32 keys, p = softmax(z), and softmax(log₅₁₂(n)·z) for length n."""
    a = math.log(length) / math.log(attn.BASE_LENGTH)
    p = torch.softmax(_VIEW_LOGITS, dim=-1)
    q = attn.sharpen(p, a)
    keys = np.arange(1, 33)
    panel = Panel(
        curves=[
            Curve(keys, p.numpy(), "p = softmax(z)", style="dashed"),
            Curve(keys, q.numpy(), "p^a / Σ p^a", color=1),
        ],
        title=f"a = log₅₁₂ {length} = {a:.3f}",
        xlabel="key (sorted by score)",
        ylabel="attention weight",
        ylim=(0.0, 0.6),
    )
    readout = (
        f"entropy {float(entropy(p)):.3f} → {float(entropy(q)):.3f} nats; "
        f"top key {float(p[0]):.3f} → {float(q[0]):.3f}"
    )
    return View([panel], readout=readout)


# ---- the notebook's figures ------------------------------------------------------------------
def tail_curves(dims: Any, eps_values: Any = (0.1, 0.3, 0.5)) -> Any:
    """One pair: the exact tail P(|χ²_k/k − 1| ≥ ε) against the bound 2e^{−kε²/8}, over k."""
    fig, ax = figure(figsize=(7.5, 3.6))
    for i, x in enumerate(eps_values):
        ax.plot(dims, jl.chi2_tail_curve(dims, x), color=f"C{i}", label=f"exact, ε = {x}")
        ax.plot(dims, jl.jl_bound_curve(dims, x), "--", color=f"C{i}", label="2e^(−kε²/8)")
    ax.set(yscale="log", ylim=(1e-12, 3), xlabel="projected dimension k")
    ax.set(ylabel="P(|χ²_k/k − 1| ≥ ε)", title="one pair: exact tail vs bound")
    ax.legend(ncol=3, fontsize=8.5)
    return fig


def key_size_curves(
    n_list: Any,
    d_find: Any,
    d_mass: Any,
    monte_carlo: dict,
    d_fixed: Any = None,
    mc_fixed: dict | None = None,
) -> Any:
    """Smallest key size d* against log n for 'find it' and 'mass ≥ ½' (temperature 1/√d,
    and, when given, held at the training length's 1/√d_ref), the Monte Carlo points
    ({n: d*}) and the fits c·(log n)^1 or c·(log n)^2 (chapter 17, §5)."""
    logn = np.log(np.asarray(n_list, dtype=float))
    fig, ax = figure(figsize=(7.5, 3.8))
    curves = [("find it (top score, P ≥ 0.9)", d_find, None, 1, "o-")]
    curves.append(("mass ≥ ½, temperature 1/√d", d_mass, monte_carlo, 2, "s-"))
    if d_fixed is not None:
        curves.append(("mass ≥ ½, temperature held at 1/√d_ref", d_fixed, mc_fixed, 1, "^-"))
    for i, (label, dstar, mc, pw, style) in enumerate(curves):
        ax.plot(logn, dstar, style, color=f"C{i}", label=label)
        if mc:
            ax.plot([math.log(n) for n in mc], list(mc.values()), "x", color="k", ms=8)
        c = np.exp(np.mean(np.log(dstar) - pw * np.log(logn)))
        ax.plot(logn, c * logn**pw, ":", color=f"C{i}", label=f"c·(log n)^{pw}")
    ax.plot([], [], "x", color="k", label="Monte Carlo")
    ax.set(xlabel="log n", ylabel="smallest key size d*")
    ax.set(title="planted key at cosine 0.6 among n keys")
    ax.legend(fontsize=8, ncol=2)
    return fig


def mass_curves(n_line: Any, plain: Any, scaled: Any, d: int = 64, ideal: Any = None) -> Any:
    """Mean-field mass on the planted key against n at a fixed key size, with and without
    the log₅₁₂ n multiplier, and (when given) with d_n = d·log₅₁₂ n key dimensions at the
    fixed temperature 1/√d."""
    fig, ax = figure(figsize=(7.5, 3.4))
    ax.plot(n_line, plain, "o-", label="softmax(q·k/√d)")
    ax.plot(n_line, scaled, "s-", label="softmax(log₅₁₂n · q·k/√d)")
    if ideal is not None:
        ax.plot(n_line, ideal, "^-", label="d_n = d·log₅₁₂n dimensions, scale 1/√d")
    ax.set(xscale="log", yscale="log", xlabel="number of keys n")
    ax.set(ylabel="mass on the planted key", title=f"fixed key size d = {d}")
    ax.legend()
    return fig


def head_curves(split: dict, n: int, width: int, article: float) -> Any:
    """Per head of size d_h at a fixed total width: P(the head's top score is the planted
    key), its mean-field mass at 1/√d_h, and the number of heads h = width/d_h (chapter 17, §5)."""
    d_h = split["head_size"]
    fig, ax = figure(figsize=(7.5, 3.4))
    ax.plot(d_h, split["find"], "o-", label="P(top score is the key)")
    ax.plot(d_h, split["mass"], "s-", label="mass on the key (1/√d_h)")
    ax.axvline(article, color="0.5", ls="--", label=f"article: ≈ {article:.0f} per head")
    ax.set(xscale="log", xlabel="head size d_h", ylabel="per head", ylim=(0, 1.05))
    ax.set(title=f"n = {n} keys, width {width} split into {width}/d_h heads")
    twin = ax.twinx()
    twin.plot(d_h, split["heads_finding"], "^:", color="C2", label="heads that find it (h·P)")
    twin.set(ylabel="heads that find it")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8.5, loc="center right")
    return fig
