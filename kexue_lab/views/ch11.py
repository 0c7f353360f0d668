"""Chapter 11 (what stabilises a GAN?): the Dirac-GAN exploration and the chapter's figures.

* :data:`dirac_portrait`: move the R1 weight γ, the step size h and the update order, and
  watch a Dirac-GAN trajectory from (θ, ψ) = (1, 1) spiral out, orbit or converge;
* :func:`dirac_figure`: the vector field with simultaneous-GD trajectories, without and with R1;
* :func:`scatter_grid`: generated 2-D samples over the mixture's centres, one panel per run;
* :func:`digit_grids`: one grid of generated digits per variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..generative import dirac_gan as dg
from ..plot import figure, image_grid
from ..widgets import Curve, Panel, View, choice, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STEPS = 300  # gradient steps shown by the exploration


@exploration(
    slider("gamma", 0.0, 2.0, steps=11, default=0.0, include=[0.1, 1.0], label="R1 weight γ"),
    slider("h", 0.05, 1.0, steps=6, log=True, default=0.1, include=[0.1], label="step h"),
    choice("mode", list(dg.MODES), default="simultaneous", label="update"),
    title="Dirac-GAN: gradient steps from (θ, ψ) = (1, 1)",
    height=360,
)
def dirac_portrait(gamma: float = 0.0, h: float = 0.1, mode: str = "simultaneous") -> View:
    """A 300-step trajectory of the Dirac-GAN (standard GAN loss) and its distance to (0, 0).

    The readout gives the eigenvalues of one step's Jacobian at the equilibrium
    (:func:`kexue_lab.generative.dirac_gan.update_matrix`) and their largest modulus: the
    iterates converge locally iff it is below 1.
    """
    path = dg.simulate(1.0, 1.0, h=h, steps=STEPS, gamma=gamma, mode=mode)[:, :, 0]
    radius = np.hypot(path[:, 0], path[:, 1])
    keep = np.isfinite(radius)
    path, radius = path[keep], radius[keep]
    eig = np.linalg.eigvals(dg.update_matrix(h, gamma=gamma, mode=mode))
    rho = float(np.abs(eig).max())
    lim = float(min(max(np.abs(path).max(), 1.2), 6.0))
    clipped = np.clip(path, -lim, lim)
    phase = Panel(
        [
            Curve(clipped[:, 0].round(4), clipped[:, 1].round(4), "trajectory", color=0),
            Curve([0.0], [0.0], "equilibrium", style="markers", color=3),
        ],
        title="(θ, ψ) plane",
        xlabel="θ (generator)",
        ylabel="ψ (discriminator)",
        ylim=(-lim, lim),
    )
    steps = np.arange(len(radius))
    dist = Panel(
        [Curve(steps, np.maximum(radius, 1e-12).round(14), "‖(θ, ψ)‖", color=1)],
        title="distance to the equilibrium",
        xlabel="step",
        ylabel="‖(θ, ψ)‖",
        ylog=True,
    )
    eigs = ", ".join(f"{e.real:.3f}{e.imag:+.3f}i" for e in eig)
    verdict = "converges" if rho < 1 - 1e-12 else ("orbits" if rho <= 1 + 1e-12 else "diverges")
    readout = (
        f"step Jacobian eigenvalues {eigs}; largest |λ| = {rho:.4f} ({verdict} locally); "
        f"after {STEPS} steps ‖(θ, ψ)‖ = {radius[-1]:.3g}"
    )
    return View([phase, dist], readout=readout)


def dirac_figure(h: float = 0.1, steps: int = 400, gamma: float = 1.0) -> Figure:
    """Two phase portraits of the Dirac-GAN: the field and simultaneous-GD trajectories from
    three starting points, without R1 (left) and with R1 of weight ``gamma`` (right)."""
    gamma = _validate.positive("gamma", gamma)
    fig, axes = figure(1, 2, figsize=(10, 4.4))
    grid = np.linspace(-2, 2, 15)
    th, ps = np.meshgrid(grid, grid)
    starts = np.array([[1.0, 0.0], [0.0, 1.5], [-1.2, -1.2]])
    for ax, g, name in zip(axes, (0.0, gamma), ("no regulariser", f"R1, γ = {gamma:g}")):
        u, v = dg.vector_field(th, ps, gamma=g)
        ax.quiver(th, ps, u, v, color="0.6", angles="xy")
        paths = dg.simulate(starts[:, 0], starts[:, 1], h=h, steps=steps, gamma=g)
        for j in range(len(starts)):
            ax.plot(paths[:, 0, j], paths[:, 1, j], lw=1.2)
            ax.plot(*starts[j], "o", color="k", ms=3)
        ax.plot(0, 0, "*", color="C3", ms=10)
        ax.set(title=f"{name}: {steps} steps of h = {h:g}", xlabel="θ", ylabel="ψ")
        ax.set(xlim=(-2.6, 2.6), ylim=(-2.6, 2.6), aspect="equal")
    return fig


def scatter_grid(
    samples: Mapping[str, Sequence[Any]], centers: Any, *, labels: Mapping[str, Sequence[str]]
) -> Figure:
    """One row per variant, one panel per seed: 2-D samples (grey) over the centres (red).

    ``samples[variant]`` is a list of (n, 2) arrays; ``labels[variant]`` the panel titles.
    """
    if not samples:
        raise ValueError("samples must hold at least one variant")
    rows, cols = len(samples), max(len(v) for v in samples.values())
    fig, axes = figure(rows, cols, figsize=(2.3 * cols, 2.3 * rows), squeeze=False)
    c = np.asarray(centers)
    for r, (name, runs) in enumerate(samples.items()):
        for k in range(cols):
            ax = axes[r][k]
            ax.set(xticks=[], yticks=[], aspect="equal")
            if k >= len(runs):
                ax.axis("off")
                continue
            pts = np.asarray(runs[k])
            ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.3, color="0.2", rasterized=True)
            ax.scatter(c[:, 0], c[:, 1], s=12, color="C3", marker="x")
            span = np.abs(c).max() * 1.5
            ax.set(xlim=(-span, span), ylim=(-span, span))
            ax.set_title(f"{name}: {labels[name][k]}", fontsize=8)
    return fig


def digit_grids(images: Mapping[str, Any], *, ncols: int = 10) -> Figure:
    """One grid of generated digits (n, 1, H, W) in [0, 1] per variant, side by side."""
    if not images:
        raise ValueError("images must hold at least one variant")
    fig, axes = figure(1, len(images), figsize=(3.6 * len(images), 3.8), squeeze=False)
    for ax, (name, batch) in zip(axes[0], images.items()):
        image_grid(batch, ncols, ax=ax, title=name)
    return fig
