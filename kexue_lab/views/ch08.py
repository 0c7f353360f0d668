"""Chapter 08 (NVAE): the exploration and the figures of the notebook.

* :data:`residual_kl`: NVAE's residual posterior N(μ + Δμ, σ²Δσ²) beside its prior N(μ, σ²),
  with the KL of article eq. (6), and the KL as Δμ moves, for a small and a large prior σ;
* :data:`latent_budget`: the article's latent count (7) for a few multi-scale settings;
* :func:`sample_grids`: sampled digits, one grid per model or setting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..generative.nvae import latent_count
from ..plot import figure, image_grid
from ..widgets import Curve, Panel, View, choice, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_Z = np.linspace(-4.0, 4.0, 121)
_DMU = np.linspace(-2.0, 2.0, 81)


def _normal_pdf(z: np.ndarray, mean: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((z - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def _kl(dmu: Any, var_ratio: float, sigma: float) -> Any:  # eq. (6), one dimension
    return 0.5 * (np.square(dmu) / sigma**2 + var_ratio - math.log(var_ratio) - 1)


_FLOOR = 1e-3  # the log axis shows KL values below 10⁻³ nats at 10⁻³


@exploration(
    slider("sigma", 0.1, 2.0, steps=9, log=True, default=0.5, include=[1.0], label="prior σ"),
    slider("dmu", -1.0, 1.0, steps=9, default=0.5, label="Δμ"),
    slider("dvar", 0.25, 4.0, steps=5, log=True, default=2.0, label="Δσ²"),
    title="NVAE's residual posterior N(μ + Δμ, σ²·Δσ²) against its prior N(μ, σ²), μ = 0",
    height=340,
)
def residual_kl(sigma: float = 0.5, dmu: float = 0.5, dvar: float = 2.0) -> View:
    """Left: the prior and the residual posterior. Right: KL (6) against Δμ at this σ and Δσ²,
    with σ = 1 for comparison. The KL grows like Δμ²/σ²: a narrow prior makes a shift costly,
    which is why the network predicts Δμ relative to σ (chapter 08, eqs. (5)–(6)).
    """
    sigma, dmu = _validate.positive("sigma", sigma), _validate.real("dmu", dmu)
    dvar = _validate.positive("dvar", dvar)
    sd_q = sigma * math.sqrt(dvar)
    left = Panel(
        curves=[
            Curve(_Z, _normal_pdf(_Z, 0.0, sigma), "prior N(0, σ²)"),
            Curve(_Z, _normal_pdf(_Z, dmu, sd_q), "posterior N(Δμ, σ²Δσ²)", style="dashed"),
        ],
        title="densities",
        xlabel="z",
        ylabel="density",
    )
    right = Panel(
        curves=[
            Curve(_DMU, np.maximum(_kl(_DMU, dvar, sigma), _FLOOR), f"σ = {sigma:.3g}"),
            Curve(_DMU, np.maximum(_kl(_DMU, dvar, 1.0), _FLOOR), "σ = 1", style="dashed", color=1),
        ],
        title="KL (6) against Δμ",
        xlabel="Δμ",
        ylabel="KL (nats, log scale)",
        ylog=True,
        vlines=[(dmu, "this Δμ")],
    )
    kl = float(_kl(dmu, dvar, sigma))
    readout = (
        f"KL = ½(Δμ²/σ² + Δσ² − ln Δσ² − 1) = {kl:.4f} nats; "
        f"of it, the shift Δμ²/(2σ²) = {dmu**2 / (2 * sigma**2):.4f}"
    )
    return View([left, right], readout=readout)


SETTINGS = {
    "FFHQ 256² (article)": ((4, 4, 4, 8, 16), (8, 16, 32, 64, 128), 256 * 256 * 3),
    "256², 5 scales × 4 groups": ((4, 4, 4, 4, 4), (8, 16, 32, 64, 128), 256 * 256 * 3),
    "32², 1 scale × 30 groups": ((30,), (16,), 32 * 32 * 3),
    "28², 4² × 5 and 8² × 10 groups": ((5, 10), (4, 8), 28 * 28),
}


@exploration(
    choice("setting", list(SETTINGS), default="FFHQ 256² (article)", label="setting"),
    slider("channels", 4, 40, steps=10, integer=True, default=20, label="channels per group"),
    title="How many latent dimensions? Σ groups × size² × channels (article eq. (7))",
    height=300,
)
def latent_budget(setting: str = "FFHQ 256² (article)", channels: int = 20) -> View:
    """Latent dimensions per scale for a multi-scale setting, and the ratio to pixels (eq. (7))."""
    _validate.choice("setting", setting, tuple(SETTINGS))
    groups, sizes, pixels = SETTINGS[setting]
    per_scale = [latent_count([g], [s], channels) for g, s in zip(groups, sizes)]
    total = latent_count(groups, sizes, channels)
    panel = Panel(
        curves=[Curve([f"{s}²×{g}" for g, s in zip(groups, sizes)], per_scale, style="bar")],
        title="latent dimensions per scale (size² × groups)",
        ylabel="dimensions",
    )
    readout = (
        f"total {total:,} latent dimensions for {pixels:,} pixel values: {total / pixels:.3f}×"
    )
    return View([panel], readout=readout)


def sample_grids(images: Mapping[str, Any], ncols: int = 10, side: int = 28) -> Figure:
    """A grid of images per entry of ``images`` (name → ``(N, side²)`` tensor), two per row."""
    if not images:
        raise ValueError("images must hold at least one named batch")
    ncols = _validate.positive_int("ncols", ncols)
    cols = min(2, len(images))
    rows = -(-len(images) // cols)
    fig, axes = figure(rows, cols, figsize=(5.6 * cols, 3.3 * rows))
    axes = np.atleast_1d(axes).ravel()
    for ax, (name, batch) in zip(axes, images.items()):
        image_grid(batch.reshape(-1, side, side), ncols, ax=ax, title=name)
    for ax in axes[len(images) :]:
        ax.set_axis_off()
    return fig


def loss_curves(
    curves: Mapping[str, Any], *, title: str = "", ylabel: str = "nats", first_epoch: int = 1
) -> Figure:
    """One line per model: a per-epoch metric (e.g. the training −ELBO) against the epoch.

    Epochs before ``first_epoch`` (counted from 1) are left out, so that the large first-epoch
    values do not flatten the rest of the curves.
    """
    if not curves:
        raise ValueError("curves must hold at least one named series")
    first = _validate.positive_int("first_epoch", first_epoch)
    fig, ax = figure(1, 1, figsize=(6.4, 3.6))
    for name, ys in curves.items():
        ys = _validate.real_array(f"curves[{name!r}]", ys)[first - 1 :]
        ax.plot(np.arange(first, first + len(ys)), ys, marker="o", ms=3, label=name)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.legend()
    return fig
