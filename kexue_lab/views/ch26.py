"""Chapter 26 (weight scale shifting and WEISSI): the rescaling playground and the figures.

* :data:`rescaling`: a 1 → 8 → 8 → 1 ReLU net with biases, rescaled by (γ₁, γ₂, 1/(γ₁γ₂));
  the output with cumulative or naive bias scaling, the layer norms, and readouts of
  Σ‖W_l‖² (with its minimum over the orbit) and Σ log‖W_l‖;
* :func:`norm_trajectories`: ‖W_l‖ against the step under each regime (§4, §5);
* :func:`comparison_rows`: the rows of the chapter's table.

The numbers come from :mod:`kexue_lab.regularization.weissi`; only the drawing is here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..nn import mlp
from ..plot import figure
from ..regularization import weissi
from ..widgets import Curve, Panel, View, choice, exploration, slider

_X = np.linspace(-3.0, 3.0, 101)


def _playground_net() -> torch.nn.Sequential:
    """The fixed 1 → 8 → 8 → 1 ReLU net of the playground (seed 26, biases drawn N(0, 0.5²))."""
    torch.manual_seed(26)
    net = mlp([1, 8, 8, 1]).double()
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.bias.normal_(0.0, 0.5)
    return net


def _naive(net: torch.nn.Sequential, gammas: Sequence[float]) -> torch.nn.Sequential:
    """The article's literal scaling: W_l → γ_l W_l and b_l → γ_l b_l (wrong for b ≠ 0)."""
    with torch.no_grad():
        for m, g in zip([m for m in net if isinstance(m, torch.nn.Linear)], gammas):
            m.weight.mul_(g)
            m.bias.mul_(g)
    return net


@exploration(
    slider("log2_g1", -2, 2, steps=9, default=0, label="log₂ γ₁"),
    slider("log2_g2", -2, 2, steps=9, default=0, label="log₂ γ₂"),
    choice("bias", {"cumulative (γ₁⋯γ_l)": "cumulative", "naive (γ_l)": "naive"}, label="b_l ×"),
    title="Weight scale shifting: γ₃ = 1/(γ₁γ₂), the function stays, L2 does not",
    height=380,
)
def rescaling(log2_g1: float = 0.0, log2_g2: float = 0.0, bias: str = "cumulative") -> View:
    """Rescale the playground net by (γ₁, γ₂, 1/(γ₁γ₂)) and compare it with the original."""
    g1, g2 = 2.0**log2_g1, 2.0**log2_g2
    gammas = [g1, g2, 1.0 / (g1 * g2)]
    net = _playground_net()
    x = torch.from_numpy(_X[:, None])
    with torch.no_grad():
        before = net(x)[:, 0].numpy()
        base_norms = weissi.layer_norms(net).numpy()
        shifted = (
            weissi.rescale_layers(net, gammas) if bias == "cumulative" else _naive(net, gammas)
        )
        after = shifted(x)[:, 0].numpy()
        norms = weissi.layer_norms(shifted).numpy()
    l2 = float((norms**2).sum())
    floor = 3 * float(np.prod(norms)) ** (2 / 3)  # min over the orbit (AM–GM)
    layers = np.arange(1, 4)
    panels = [
        Panel(
            [
                Curve(_X, before, "original"),
                Curve(_X, after, f"rescaled, {bias} biases", style="dashed", color=1),
            ],
            title="network output",
            xlabel="x",
            ylabel="h(x)",
        ),
        Panel(
            [
                Curve(layers, base_norms, "original", style="dotted", color=0),
                Curve(layers, norms, "rescaled", color=1),
            ],
            title="layer norms ‖W_l‖",
            xlabel="layer l",
            ylabel="‖W_l‖",
            ylog=True,
            ylim=(1e-2, 1e3),
        ),
    ]
    readout = (
        f"max |Δh| = {np.abs(after - before).max():.2e} · Σ‖W_l‖² = {l2:.3g} "
        f"(orbit minimum 3(Π‖W_l‖)^(2/3) = {floor:.3g}) · "
        f"Σ log‖W_l‖ = {float(np.log(norms).sum()):.4f}"
    )
    return View(panels, readout=readout)


def norm_trajectories(run: Any, title: str, seed_index: int = 0) -> Any:
    """‖W_l‖ against the step, one panel per regime, for one seed of a ``RegimeRun`` (§4, §5)."""
    k = len(run.seeds)
    fig, axes = figure(1, len(run.names), figsize=(3.0 * len(run.names), 3.2))
    axes = np.atleast_1d(axes)
    top = float(run.norms.max()) * 1.5
    for r, (ax, name) in enumerate(zip(axes, run.names)):
        s = r * k + seed_index
        for layer in range(run.norms.shape[1]):
            ax.semilogy(run.t, run.norms[:, layer, s], color=f"C{layer}", label=f"‖W_{layer + 1}‖")
        ax.set(title=f"{title}: {name}", xlabel="step", ylim=(0.1, top))
    axes[0].set_ylabel("layer norm")
    axes[0].legend(fontsize=8.5)
    return fig


def _fmt_spread(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=float).ravel()
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def comparison_rows(
    ours: Mapping[str, Any], recorded: Mapping[str, Any]
) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, article / paper, ours, recorded full run) of the chapter's table.

    ``ours`` / ``recorded`` hold ``data`` and ``test_acc`` (regime → list of accuracies over
    seeds, Adam runs) and ``balance`` (regime → max/min layer norm at the end); ``recorded`` is
    empty before a full run is committed. The article prints the paper's table as an image
    only, so its column states what the paper claims in words.
    """
    says = {
        "none": "baseline",
        "L2": "L2 helps less than expected (article, intro)",
        "AdamW decay": "—",
        "WEISSI": "better than L2 / weight decay (paper, image in the article; no numbers)",
    }
    rows = []
    for name in ours["test_acc"]:
        full = recorded.get("test_acc", {}).get(name) if recorded else None
        rows.append(
            (
                f"Adam, {name}: test accuracy",
                says.get(name, "—"),
                f"{_fmt_spread(ours['test_acc'][name])} ({ours['data']})",
                f"{_fmt_spread(full)} ({recorded['data']})" if full is not None else "—",
            )
        )
    for name in ours["balance"]:
        full = recorded.get("balance", {}).get(name) if recorded else None
        rows.append(
            (
                f"Adam, {name}: max/min ‖W_l‖ at the end",
                "L2 balances the layers (article eq. (6))" if name == "L2" else "—",
                f"{ours['balance'][name]:.2f}",
                f"{full:.2f}" if full is not None and math.isfinite(full) else "—",
            )
        )
    return rows
