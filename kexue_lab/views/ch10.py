"""Chapter 10 (gradient normalisation for WGAN critics): the exploration and the figures.

* :data:`kink`: a 1-D piecewise-linear critic D(x) = b + s₁x (x < 0), b + s₂x (x > 0) and its
  normalisations D/|D′|, GN = D/(|D′| + |D|) and GraN = D|D′|/(D′² + ε): every one of them
  jumps at the kink unless s₁ = ±s₂ or D(0) = 0 (the article's first doubt);
* :func:`critic_maps`: heat maps of a 2-D critic D, of GN's D̂ and of ‖∇D̂‖, with the
  linear-region boundaries visible as the lines where D̂ jumps;
* :func:`ring_panels`: generated samples of several GANs over the ring of Gaussians.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_X = np.linspace(-2.0, 2.0, 81)


def _kink_parts(s1: float, s2: float, b: float, eps: float) -> dict[str, tuple[float, float]]:
    """The one-sided limits at 0 of D/|D′|, GN and GraN for the kinked critic (NaN: undefined)."""

    def ratio(num: float, den: float) -> float:
        return num / den if den != 0 else (0.0 if num == 0 else float("nan"))

    out: dict[str, tuple[float, float]] = {}
    for name, f in {
        "D/|D′|": lambda s: b / abs(s) if s != 0 else float("nan"),
        "GN": lambda s: ratio(b, abs(s) + abs(b)),
        "GraN": lambda s: b * abs(s) / (s * s + eps),
    }.items():
        out[name] = (f(s1), f(s2))
    return out


@exploration(
    slider("s1", -3.0, 3.0, steps=7, default=1.0, label="slope s₁ (x < 0)"),
    slider("s2", -3.0, 3.0, steps=7, default=3.0, label="slope s₂ (x > 0)"),
    slider("b", -2.0, 2.0, steps=5, default=1.0, label="D(0) = b"),
    choice("eps", {"1e-4": 1e-4, "0.5": 0.5}, default=1e-4, label="GraN ε"),
    title="A kinked critic D(x) = b + s₁x (x < 0), b + s₂x (x > 0), and its normalisations",
    height=340,
)
def kink(s1: float = 1.0, s2: float = 3.0, b: float = 1.0, eps: float = 1e-4) -> View:
    """D(x) = b + s₁x for x < 0 and b + s₂x for x > 0 (chapter 10, §3), normalised three ways.

    Left: D and its normalisations on [−2, 2]. Right: the jump at x = 0 of each (right limit
    minus left limit). D itself is continuous; D/|D′| jumps by b(1/|s₂| − 1/|s₁|), GN by
    b/(|s₂| + |b|) − b/(|s₁| + |b|). A zero slope makes D/|D′| undefined on that side.
    """
    s1, s2, b = _validate.real("s1", s1), _validate.real("s2", s2), _validate.real("b", b)
    eps = _validate.positive("eps", eps)
    slope = np.where(_X < 0, s1, s2)
    d = b + slope * _X
    g = np.abs(slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        ideal = np.where(g > 0, d / np.where(g > 0, g, 1.0), np.nan)
    gn = np.where(g + np.abs(d) > 0, d / np.maximum(g + np.abs(d), 1e-300), 0.0)
    gran = d * g / (g * g + eps)
    curves = [
        Curve(_X, d.round(4), "D", color=5),
        Curve(_X, np.clip(np.nan_to_num(ideal, nan=0.0), -10, 10).round(4), "D/|D′|", color=0),
        Curve(_X, gn.round(4), "GN", color=1),
        Curve(_X, np.clip(gran, -10, 10).round(4), "GraN", "dashed", color=2),
    ]
    left = Panel(curves, title="critic and normalised critics", xlabel="x", ylabel="value")
    parts = _kink_parts(s1, s2, b, eps)
    jumps = {}
    for name, (lo, hi) in parts.items():
        bad = name == "D/|D′|" and (s1 == 0 or s2 == 0)
        jumps[name] = float("nan") if bad else hi - lo
    names = list(jumps)
    bars = Panel(
        [Curve(names, [0.0 if np.isnan(v) else round(v, 4) for v in jumps.values()], style="bar")],
        title="jump at x = 0 (right − left limit)",
        ylabel="jump",
    )
    text = "; ".join(
        f"{k} jumps by {'— (zero slope)' if np.isnan(v) else f'{v:+.4f}'}" for k, v in jumps.items()
    )
    return View([left, bars], readout=f"D is continuous; {text}")


def critic_maps(
    critic: Callable[[Any], Any],
    normalized: Callable[[Any], Any],
    grad_norm: Callable[[Any], Any],
    *,
    lim: float = 3.0,
    n: int = 241,
) -> Figure:
    """Three heat maps over [−lim, lim]²: D, the normalised D̂ and ‖∇ₓD̂‖ (chapter 10, §3).

    ``critic``, ``normalized`` and ``grad_norm`` map an (m, 2) float64 tensor to m values
    (e.g. the MLP, :func:`kexue_lab.generative.gan.normalized_critic` and
    :func:`kexue_lab.nn.input_gradient_norm` of it). D is smooth-looking; D̂ shows the
    linear regions as patches with jumps between them; ‖∇D̂‖ is ≤ 1 everywhere.
    """
    import torch

    lim = _validate.positive("lim", lim)
    n = _validate.int_at_least("n", n, 2)
    axis = torch.linspace(-lim, lim, n, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    maps = {
        "critic D": critic(pts),
        "GN: D̂ = D / (‖∇D‖ + |D|)": normalized(pts),
        "‖∇D̂‖ (autograd)": grad_norm(pts),
    }
    fig, axes = figure(1, 3, figsize=(12.0, 3.6), layout="constrained")
    for ax, (title, values) in zip(axes, maps.items()):
        img = np.asarray(values.detach().reshape(n, n).cpu())
        shown = ax.imshow(img, origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
        fig.colorbar(shown, ax=ax, shrink=0.85)
        ax.set(title=title, xlabel="x₁", ylabel="x₂")
    return fig


def ring_panels(
    samples: Mapping[str, Any],
    centers: Any,
    *,
    lim: float = 3.0,
    titles: Mapping[str, str] | None = None,
) -> Figure:
    """One scatter panel per entry of ``samples`` ((n, 2) arrays), with the mixture's centres.

    ``titles`` optionally adds a line under a panel's name (e.g. modes covered).
    """
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping name → (n, 2) array")
    lim = _validate.positive("lim", lim)
    c = np.asarray(centers, dtype=float)
    fig, axes = figure(
        1, len(samples), figsize=(3.0 * len(samples), 3.3), squeeze=False, layout="constrained"
    )
    for ax, (name, pts) in zip(axes[0], samples.items()):
        p = np.asarray(pts, dtype=float)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"samples[{name!r}] must have shape (n, 2), got {p.shape}")
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.4, color="C0", rasterized=True)
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", color="C3")
        sub = (titles or {}).get(name, "")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
        ax.set_title(f"{name}\n{sub}" if sub else name, fontsize=10)
    return fig
