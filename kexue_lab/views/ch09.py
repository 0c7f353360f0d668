"""Chapter 09 (a VAE as a density estimator): the explorations and the figure of the notebook.

* :data:`proposal_quality`: importance sampling p(x) for the 1-D linear-Gaussian model
  z ~ N(0, 1), x|z ~ N(z, s²) at x = 1 with a Gaussian proposal N(m, τ²): the densities,
  the log-weights, and the bound L_M against M;
* :data:`dimension_curse`: the prior as proposal in d dimensions (W = I, x = 0): the
  second moment of the weights grows like r(s)^d and one draw takes all the weight;
* :func:`bound_curves`: bounds (or NLL estimates) against the number of samples M.

The explorations use NumPy and a fixed pool of standard-normal draws, so every frame is
reproducible and fast; the closed forms are those of
:class:`kexue_lab.generative.density.LinearGaussian` in one dimension.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import _validate
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

X_OBS = 1.0  # the observation of the 1-D exploration
POOL = 20_000  # standard-normal draws shared by every frame
M_GRID = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_EPS = np.random.default_rng(9).standard_normal(POOL)
_Z = np.linspace(-3.0, 3.0, 61)
_BINS = np.linspace(-8.125, 1.125, 38)  # bins of 0.25 centred on −8, …, 0, …, 1


def _log_normal(x: np.ndarray | float, mean: np.ndarray | float, var: float) -> np.ndarray:
    return -0.5 * (np.log(2 * np.pi * var) + (np.asarray(x) - mean) ** 2 / var)


def _log_mean_exp(a: np.ndarray) -> np.ndarray:
    top = a.max(-1, keepdims=True)
    return (top + np.log(np.exp(a - top).mean(-1, keepdims=True)))[..., 0]


def _mean_bounds(log_w: np.ndarray) -> np.ndarray:
    """E[L_M] for each M of :data:`M_GRID`, from disjoint groups of the pooled log-weights."""
    return np.array([_log_mean_exp(log_w[: POOL // m * m].reshape(-1, m)).mean() for m in M_GRID])


@exploration(
    slider("m", -1.0, 2.0, steps=11, default=0.5, include=[0.8], label="proposal mean m"),
    slider("tau", 0.05, 2.0, steps=9, log=True, default=0.7071, include=[1.0, 0.4472], label="τ"),
    choice("s", {"0.1": 0.1, "0.25": 0.25, "0.5": 0.5, "1": 1.0}, default=0.5, label="decoder s"),
    title="Importance sampling p(x) with a proposal N(m, τ²): z ~ N(0,1), x|z ~ N(z, s²), x = 1",
    height=360,
)
def proposal_quality(m: float = 0.5, tau: float = 0.7071, s: float = 0.5) -> View:
    """The 1-D linear-Gaussian model at x = 1 with the proposal N(m, τ²) (chapter 09).

    Left: prior, true posterior N(x/(1+s²), s²/(1+s²)) and proposal. Middle: histogram of
    log w − log p(x) over 20,000 draws (0 everywhere when the proposal is the posterior).
    Right: L_M − log p(x) against M (the exact L_1 is the dashed line). The bound is tight
    when the proposal matches the posterior; a narrow proposal in the wrong place, or the
    prior with a sharp decoder (small s), needs many samples.
    """
    m, tau, s = _validate.real("m", m), _validate.positive("tau", tau), _validate.positive("s", s)
    var_x, post_var = 1 + s**2, s**2 / (1 + s**2)
    post_mean = X_OBS / var_x
    log_px = float(_log_normal(X_OBS, 0.0, var_x))
    z = m + tau * _EPS
    log_w = _log_normal(X_OBS, z, s**2) + _log_normal(z, 0.0, 1.0) - _log_normal(z, m, tau**2)
    rel = log_w - log_px
    kl = 0.5 * (
        tau**2 / post_var + (m - post_mean) ** 2 / post_var - 1 + math.log(post_var / tau**2)
    )
    bounds = _mean_bounds(rel)
    groups = rel[: POOL // 1000 * 1000].reshape(-1, 1000)
    ess = 1000 * float(np.mean(np.exp(2 * _log_mean_exp(groups) - _log_mean_exp(2 * groups))))
    dens = Panel(
        [
            Curve(_Z, np.exp(_log_normal(_Z, 0.0, 1.0)).round(4), "prior", color=5),
            Curve(_Z, np.exp(_log_normal(_Z, post_mean, post_var)).round(4), "posterior", color=0),
            Curve(_Z, np.exp(_log_normal(_Z, m, tau**2)).round(4), "proposal", "dashed", 1),
        ],
        title="densities over z",
        xlabel="z",
        ylabel="density",
    )
    counts, _ = np.histogram(np.clip(rel, _BINS[0], _BINS[-1] - 1e-9), bins=_BINS)
    centres = 0.5 * (_BINS[1:] + _BINS[:-1])
    hist = Panel(
        [Curve(centres.round(3), (counts / POOL).round(5), "", style="bar", color=0)],
        title="log w − log p(x) (share of draws)",
        xlabel="log w − log p(x) (clipped to [−8, 1])",
        ylabel="share",
        ylim=(0.0, 1.0),
    )
    curve = Panel(
        [
            Curve(list(M_GRID), bounds.round(5), "E[L_M] − log p(x)", style="markers", color=1),
            Curve([1, 1000], [-kl, -kl], "exact L₁ − log p(x) = −KL", style="dashed", color=5),
            Curve([1, 1000], [0.0, 0.0], "log p(x)", style="dotted", color=0),
        ],
        title="the bound against M",
        xlabel="M",
        ylabel="nats",
        xlog=True,
        ylim=(min(-3.0, float(bounds[0]) - 0.2), 0.3),
    )
    readout = (
        f"log p(x) = {log_px:.4f}; exact L₁ = {log_px - kl:.4f} (KL to the posterior "
        f"{kl:.3f}); L₁₀₀₀ − log p(x) ≈ {bounds[-1]:+.4f}; ESS of 1000 draws ≈ {ess:.0f}"
    )
    return View([dens, hist, curve], readout=readout)


def _prior_ratio_1d(s: float) -> float:
    """E[w²]/E[w]² for z ~ N(0,1), x|z ~ N(z, s²) at x = 0 with the prior as proposal."""
    return float(
        np.exp(
            -math.log(2 * math.sqrt(math.pi) * s)
            + _log_normal(0.0, 0.0, 1 + s**2 / 2)
            - 2 * _log_normal(0.0, 0.0, 1 + s**2)
        )
    )


_DIMS = np.arange(1, 21)
_KS = np.unique(np.geomspace(1, 1000, 80).round().astype(int))
_PRIOR_DRAWS = np.random.default_rng(10).standard_normal((1000, 20))


@exploration(
    slider("d", 1, 20, steps=20, default=10, integer=True, label="dimension d"),
    choice("s", {"0.1": 0.1, "0.3": 0.3, "1": 1.0}, default=0.1, label="decoder s"),
    title="The prior as proposal: z ~ N(0, I_d), x|z ~ N(z, s²I_d), x = 0, 1000 draws",
    height=340,
)
def dimension_curse(d: int = 10, s: float = 0.1) -> View:
    """Why the prior is a useless proposal in high dimensions (chapter 09).

    With W = I and x = 0 the weights w = p(x|z) of prior draws have
    E[w²]/E[w]² = r(s)^d, r(s) = N(0; 0, 1 + s²/2)/(2√π s · N(0; 0, 1 + s²)²)
    (r(0.1) = 7.124). Left: log₁₀ of that ratio against d, the number of prior draws needed
    per effective sample. Right: the share of the total weight held by the k largest of
    1,000 prior draws; at d = 10, s = 0.1 a single draw holds almost all of it.
    """
    d = _validate.positive_int("d", d)
    s = _validate.positive("s", s)
    if d > 20:
        raise ValueError(f"d must be at most 20, got {d}")
    log10_r = math.log10(_prior_ratio_1d(s))
    z = _PRIOR_DRAWS[:, :d]
    log_w = _log_normal(0.0, z, s**2).sum(1)
    w = np.exp(log_w - log_w.max())
    share = np.cumsum(np.sort(w)[::-1]) / w.sum()
    ess = float(w.sum() ** 2 / (w**2).sum())
    log_px = d * float(_log_normal(0.0, 0.0, 1 + s**2))
    estimate = float(log_w.max() + np.log(w.mean()))
    ratio = Panel(
        [
            Curve(_DIMS, (_DIMS * log10_r).round(4), "prior proposal", color=0),
            Curve([d], [round(d * log10_r, 4)], f"d = {d}", style="markers", color=1),
            Curve([1, 20], [0.0, 0.0], "posterior proposal", style="dashed", color=5),
        ],
        title="log₁₀ E[w²]/E[w]² = d·log₁₀ r(s)",
        xlabel="d",
        ylabel="log₁₀ ratio",
    )
    top = Panel(
        [Curve(_KS, share[_KS - 1].round(4), "share of the total weight", color=0)],
        title="weight held by the k largest of 1,000 draws",
        xlabel="k",
        ylabel="share",
        xlog=True,
        ylim=(0.0, 1.02),
    )
    readout = (
        f"E[w²]/E[w]² = {10 ** (d * log10_r):.3g}; ESS of these 1000 draws = {ess:.1f}; "
        f"L₁₀₀₀ − log p(x) = {estimate - log_px:+.3f} nats"
    )
    return View([ratio, top], readout=readout)


def bound_curves(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    *,
    ylabel: str = "nats",
    title: str = "",
    reference: tuple[float, str] | None = None,
    yscale: str = "linear",
) -> Figure:
    """One panel: each named curve (M values, bound values) against M on a log axis.

    ``reference`` (value, label) adds a horizontal line, e.g. the exact log p(x).
    ``yscale="symlog"`` shows gaps that span several orders of magnitude (linear within
    10⁻³ of zero, so small negative Monte Carlo values stay visible). Used for the
    linear-Gaussian bounds and for the test NLL of the trained models (chapter 09).
    """
    _validate.choice("yscale", yscale, ("linear", "symlog"))
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping name → (ms, values)")
    fig, ax = figure(1, 1, figsize=(6.4, 3.8))
    lo, hi = math.inf, -math.inf
    for name, (ms, values) in curves.items():
        ms, values = list(ms), [float(v) for v in values]
        if len(ms) != len(values) or not ms:
            raise ValueError(f"curve {name!r}: ms and values must have the same non-zero length")
        ax.plot(ms, values, marker="o", label=name)
        lo, hi = min(lo, *values), max(hi, *values)
    if reference is not None:
        value, label = _validate.real("reference value", reference[0]), str(reference[1])
        ax.axhline(value, color="0.4", ls="--", lw=1, label=label)
    ax.set(xscale="log", xlabel="number of samples M", ylabel=ylabel, title=title)
    if yscale == "symlog":
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_ylim(min(lo * 3, -1e-3), max(hi * 3, 1e-3))  # a decade of room beyond the data
    ax.legend()
    return fig
