"""Chapter 19 (gradient clipping): the θ⁴ exploration and the chapter's figures.

* :data:`quartic`: fixed-step GD against hard and soft clipping on f(θ) = θ⁴, with the
  controls the notebook shows (θ0, L1 and the GD step multiplier);
* figures (each returns a matplotlib ``Figure`` from :func:`kexue_lab.plot.figure`, shown once
  as a cell's last expression):
  :func:`clip_factors`, :func:`quartic_runs`, :func:`bowl_runs`, :func:`smoothness_scatter`
  and :func:`training_curves`.

The numbers come from :mod:`kexue_lab.optimization.clipping`; only the drawing is here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..optimization import clipping
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

#: the exploration cuts every run after this many iterations
MAX_STEPS = 3000
_T = np.unique(np.geomspace(1, MAX_STEPS + 1, 90).astype(int)) - 1  # iterations drawn (log grid)


def _first_within(path: Sequence[float], tol: float = 1.0) -> int | None:
    """The first iteration t with |θ_t| ≤ tol (None if the run never gets there)."""
    for t, th in enumerate(path):
        if abs(th) <= tol:
            return t
    return None


@exploration(
    slider("theta0", 2, 100, steps=7, log=True, default=10, include=[3, 30], label="θ0"),
    slider("L1", 0.25, 4, steps=5, log=True, default=1, label="L1"),
    slider("gd_scale", 0.5, 8, steps=5, log=True, default=1, label="GD step × certified"),
    title="θ⁴: fixed-step GD vs hard and soft clipping",
    height=400,
)
def quartic(theta0: float = 10.0, L1: float = 1.0, gd_scale: float = 1.0) -> View:
    """Fixed-step GD against hard and soft clipping on f(θ) = θ⁴ (exploration of chapter 19).

    θ⁴ is (L0, L1)-smooth with L0 = 16/L1². Clipping uses η = 1/L0 and γ = L0/L1 (soft
    clipping is then the optimal step 1/(L0 + L1|f′|)); GD uses the fixed step
    ``gd_scale``/(L0 + L1|f′(θ0)|), the one the bound certifies at the start. Left: the loss
    θ_t⁴; right: the step length |θ_{t+1} − θ_t|; readout: iterations to reach |θ| ≤ 1.
    """
    from .. import _validate

    theta0 = _validate.positive("theta0", theta0)
    L1 = _validate.positive("L1", L1)
    gd_scale = _validate.positive("gd_scale", gd_scale)
    L0 = 16.0 / L1**2
    eta_gd = gd_scale / (L0 + L1 * 4.0 * theta0**3)
    runs = {
        f"GD, η = {gd_scale:g}/(L0 + L1|f′(θ0)|)": clipping.quartic_path(
            theta0, "gd", eta_gd, max_steps=MAX_STEPS
        ),
        "hard clipping": clipping.quartic_path(theta0, "hard", 1 / L0, L0 / L1, MAX_STEPS),
        "soft clipping = η*": clipping.quartic_path(theta0, "soft", 1 / L0, L0 / L1, MAX_STEPS),
    }
    loss_curves, step_curves, counts = [], [], []
    for k, (name, path) in enumerate(runs.items()):
        arr = np.asarray(path)
        t = _T[_T < len(arr)]
        t = t[np.isfinite(arr[t])]
        loss_curves.append(Curve(t + 1, np.maximum(arr[t] ** 4, 1e-12), name, color=k))
        ts = t[t + 1 < len(arr)]
        ts = ts[np.isfinite(arr[ts + 1])]
        steps = np.maximum(np.abs(arr[ts + 1] - arr[ts]), 1e-12)
        step_curves.append(Curve(ts + 1, steps, "", color=k))
        hit = _first_within(path)
        short = name.split(",")[0].split(" =")[0]
        if hit is not None:
            counts.append(f"{short}: {hit}")
        elif math.isinf(path[-1]):
            counts.append(f"{short}: diverged")
        else:
            counts.append(f"{short}: > {MAX_STEPS}")
    one = Curve([1, MAX_STEPS + 1], [1.0, 1.0], "|θ| = 1", style="dotted", color=7)
    log = {"xlabel": "iteration + 1", "xlog": True, "ylog": True}
    panels = [
        Panel([*loss_curves, one], title="loss θₜ⁴", ylabel="θₜ⁴", ylim=(1e-8, 1e9), **log),
        Panel(step_curves, title="step length", ylabel="|θₜ₊₁ − θₜ|", ylim=(1e-6, 1e2), **log),
    ]
    readout = (
        f"L0 = 16/L1² = {L0:.3g}, η = 1/L0, γ = L0/L1 = {L0 / L1:.3g} · "
        "iterations to |θ| ≤ 1: " + " · ".join(counts)
    )
    return View(panels, readout=readout)


# ---- figures ----
def clip_factors(lo: float = 1e-2, hi: float = 1e2) -> Any:
    """Left: hard and soft clip factors against x/γ (log–log); right: their ratio (§1)."""
    xs = np.geomspace(lo, hi, 400)
    hard, soft = (clipping.clip_factor(xs, 1.0, k) for k in ("hard", "soft"))
    fig, axes = figure(1, 2, figsize=(10, 3.4))
    axes[0].loglog(xs, hard, label="hard: min{1, γ/x}")
    axes[0].loglog(xs, soft, label="soft: γ/(x + γ)")
    axes[0].loglog(xs, hard / 2, ":", color="0.5", label="½ · hard")
    axes[0].set(title="clip factor", xlabel="x / γ", ylabel="factor")
    axes[0].legend()
    axes[1].semilogx(xs, soft / hard, color="C2")
    axes[1].axhline(0.5, color="0.6", lw=0.8)
    axes[1].set(title="soft / hard", xlabel="x / γ", ylabel="ratio", ylim=(0.45, 1.02))
    return fig


def quartic_runs(
    paths: Mapping[str, np.ndarray], starts: Sequence[float], counts: Mapping[str, Sequence[int]]
) -> Any:
    """Left: |θ_t| of each rule from one start; right: iterations against θ0 (§5)."""
    fig, axes = figure(1, 2, figsize=(10, 3.6))
    for name, p in paths.items():
        axes[0].loglog(np.arange(1, len(p) + 1), np.abs(p), label=name)
        axes[1].loglog(starts, counts[name], "o-", label=name)
    axes[0].axhline(1, color="0.6", lw=0.8)
    top = max(float(np.abs(p[0])) for p in paths.values())
    axes[0].set(title=f"θ0 = {top:g}", xlabel="iteration + 1", ylabel="|θ_t|")
    axes[0].set_ylim(0.05, 40 * top / 30)
    axes[1].set(title="iterations to |θ| ≤ 1", xlabel="θ0", ylabel="iterations")
    axes[1].legend(fontsize=8.5)
    return fig


def bowl_runs(paths: Mapping[str, np.ndarray], f: Any, title: str = "x⁴ + 10y² from (5, 5)") -> Any:
    """Left: 2-D paths over the contours of ``f``; right: f along each run (§5)."""
    xx, yy = np.meshgrid(np.linspace(-6, 6, 241), np.linspace(-6, 6, 241))
    fig, axes = figure(1, 2, figsize=(10, 4))
    flat = np.stack([xx.ravel(), yy.ravel()], axis=1)
    levels = np.geomspace(0.1, 1500, 14)
    axes[0].contour(xx, yy, f(flat).reshape(xx.shape), levels=levels, colors="0.8")
    for k, (name, p) in enumerate(paths.items()):
        axes[0].plot(p[:, 0], p[:, 1], ".-", ms=3, lw=1, color=f"C{k}", label=name)
        axes[1].loglog(np.arange(1, len(p) + 1), f(p), color=f"C{k}", label=name)
    axes[0].set(xlim=(-1, 6), ylim=(-1, 6), xlabel="x", ylabel="y", title=title)
    axes[1].set(title="f along the run", xlabel="iteration + 1", ylabel="f")
    axes[0].legend(fontsize=8.5)
    return fig


def smoothness_scatter(
    traces: Mapping[str, Mapping[str, np.ndarray]], rho: Mapping[str, float]
) -> Any:
    """Local smoothness L̂_t against ‖∇f(θ_t)‖ along each SGD run, coloured by step (§6)."""
    from matplotlib.ticker import NullFormatter

    fig, axes = figure(1, len(traces), figsize=(10, 3.8), squeeze=False)
    axes = axes[0]
    for ax, (name, tr) in zip(axes, traces.items()):
        steps = np.arange(len(tr["loss"]))
        sc = ax.scatter(tr["grad_norm"], tr["smoothness"], c=steps, s=8, cmap="viridis")
        title = f"{name}: ρ = {rho[name]:+.2f}"
        ax.set(xscale="log", yscale="log", xlabel="‖∇f(θ_t)‖", ylabel="L̂_t", title=title)
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.colorbar(sc, ax=axes, label="SGD step t")
    return fig


def training_curves(curves: Mapping[str, Sequence[float]], title: str = "") -> Any:
    """Training loss per epoch of every run (keys ``"lr …, …"``); one colour per learning rate,
    dashed without clipping (§7)."""
    fig, ax = figure(figsize=(7, 3.6))
    lrs = list(dict.fromkeys(key.split(",")[0] for key in curves))
    for key, loss in curves.items():
        style = "--" if "no clipping" in key else "-"
        color = f"C{lrs.index(key.split(',')[0])}"
        ax.semilogy(np.arange(1, len(loss) + 1), loss, style, color=color, label=key)
    ax.set(xlabel="epoch", ylabel="training loss (epoch mean)", title=title)
    ax.legend(fontsize=8.5, ncol=2)
    return fig


# ---- the comparison table ----
#: what the paper says about each learning rate of §7 (its claims are qualitative)
PAPER_SAYS = {
    0.5: "both train",
    1.0: "clipping allows the larger lr (paper, qualitative)",
    2.0: "clipping allows the larger lr (paper, qualitative)",
}

#: what the article and the paper say about each step rule of the θ⁴ table (§5); neither gives
#: counts for θ⁴, so the counts in the other columns are ours
THETA4_SAYS = {
    "GD, η = 1/(L0 + L1|f′(θ0)|)": "grows with sup‖∇f‖ (paper: fixed-step GD)",
    "hard clipping": "independent of sup‖∇f‖ (paper: clipped GD)",
    "soft clipping (= η*)": "descends at every step (article, after eq. (12))",
}


def _slash(values: Sequence[float | None], fmt: str = "{}") -> str:
    shown = (fmt.format(v) if v is not None and math.isfinite(v) else "diverged" for v in values)
    return " / ".join(shown)


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article / paper, ours, recorded full run) of the chapter's table (§7).

    ``ours`` and ``recorded`` are metrics as the chapter saves them (``data``,
    ``theta4_counts`` keyed by the step rules of :data:`THETA4_SAYS`, ``spearman_relu_lr0.5``,
    ``spearman_tanh_lr0.2``, ``final_train_loss`` keyed ``"lr 0.5, no clipping"`` …, None for
    a diverged run); ``recorded`` is empty before a full run has been recorded (its column
    then shows "—"). The article and the paper give no θ⁴ counts: their column says what they
    state about each rule (:data:`THETA4_SAYS`).
    """

    def both(metrics: Mapping[str, Any], lr: float) -> str:
        if not metrics:
            return "—"
        losses = metrics["final_train_loss"]
        return _slash([losses[f"lr {lr:g}, {tag}"] for tag in ("no clipping", "clip 1")], "{:.3f}")

    def rho(metrics: Mapping[str, Any], key: str) -> str:
        return f"{metrics[key]:.2f} ({metrics['data']})" if metrics else "—"

    rows = [
        (
            f"θ⁴: iterations of {name}, θ0 = 3 / 10 / 30 / 100",
            THETA4_SAYS.get(name, "—"),
            _slash(counts),
            _slash(recorded["theta4_counts"][name]) if recorded else "—",
        )
        for name, counts in ours["theta4_counts"].items()
    ]
    rows.append(
        (
            "θ⁴: minimal L0 for L1 = 1",
            "θ⁴ satisfies the condition (article, after eq. (8)); no value",
            "16 (SymPy, exact)",
            "—",
        )
    )
    for act, lr, paper in [
        ("ReLU", 0.5, "strongly positive (paper, Fig. 1: LSTM, ResNet)"),
        ("tanh", 0.2, "—"),
    ]:
        key = f"spearman_{act.lower()}_lr{lr}"
        rows.append(
            (f"Spearman ρ(‖∇f‖, L̂), {act} MLP, lr {lr}", paper, rho(ours, key), rho(recorded, key))
        )
    for lr, paper in PAPER_SAYS.items():
        quantity = f"final train loss, lr {lr:g}: no clipping / clip 1"
        rows.append((quantity, paper, both(ours, lr), both(recorded, lr)))
    return rows
