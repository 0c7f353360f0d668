"""Chapter 02 (matrix capsules, EM routing): the exploration and the figure of the notebook.

* :data:`routing`: twelve lower capsules vote in 2-D for two upper capsules, A and B; move the
  spread of A's agreeing votes, the number of iterations, λ and β_u and watch the fitted
  Gaussians, the assignments and the activations
  (:func:`kexue_lab.foundations.capsules.em_routing`);
* :func:`accuracy_by_lambda`: test accuracy of the trained part–whole models against λ, one
  curve per number of routing iterations, every seed shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import _validate
from ..foundations import capsules as caps
from ..plot import figure
from ..widgets import Curve, Panel, View, exploration, slider

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Lower capsules 0–5 are parts of A, 6–9 parts of B, 10–11 clutter.
PARTS_A, PARTS_B, N_LOWER = 6, 4, 12
CENTRE_A, CENTRE_B = (1.0, 1.0), (-1.0, -0.5)
SPREAD_B = 0.15  # the spread of B's agreeing votes (fixed)
_ELLIPSE = np.linspace(0, 2 * math.pi, 25)


def _votes(spread: float) -> torch.Tensor:
    """The votes (1, 12, 2, 2) of the exploration: fixed draws, A's agreement scaled by spread."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(N_LOWER, 2, 2, generator=g, dtype=torch.float64)
    votes = 1.5 * z  # scattered: a lower capsule voting for a whole it is not part of
    votes[:PARTS_A, 0] = torch.tensor(CENTRE_A, dtype=torch.float64) + spread * z[:PARTS_A, 0]
    b = slice(PARTS_A, PARTS_A + PARTS_B)
    votes[b, 1] = torch.tensor(CENTRE_B, dtype=torch.float64) + SPREAD_B * z[b, 1]
    return votes[None]


def routing_state(spread: float, iters: int, lam: float, beta_u: float, beta_a: float = 0.0):
    """(votes, μ, σ², a, R) of the exploration's routing; R are the assignments the last M-step
    used (uniform 1/2 for one iteration)."""
    votes = _votes(_validate.positive("spread", spread))
    iters = _validate.positive_int("iters", iters)
    ones = torch.ones(1, N_LOWER, dtype=torch.float64)
    mu, sigma2, act = caps.em_routing(votes, ones, beta_u, beta_a, iters=iters, lam=lam)
    if iters == 1:
        resp = torch.full((1, N_LOWER, 2), 0.5, dtype=torch.float64)
    else:
        prev = caps.em_routing(votes, ones, beta_u, beta_a, iters=iters - 1, lam=lam)
        resp = caps.assignments(votes, *prev)
    return votes[0], mu[0], sigma2[0], act[0], resp[0]


@exploration(
    slider("spread", 0.05, 1.0, steps=5, log=True, default=0.1, label="spread of A's votes"),
    slider("iters", 1, 5, steps=5, integer=True, default=3, label="iterations"),
    slider("lam", 0.03, 1.0, steps=4, log=True, default=0.3, label="λ"),
    slider("beta_u", -3.0, 3.0, steps=3, default=0.0, label="β_u"),
    title="Routing = clustering: two upper capsules fitted to twelve votes",
    height=360,
)
def routing(spread: float = 0.1, iters: int = 3, lam: float = 0.3, beta_u: float = 0.0) -> View:
    """Left: the votes for A (blue) and for B (orange) with each fitted Gaussian's 2σ ellipse.
    Middle: R_iA, the share of each lower capsule the last M-step gave to A (1–6: A's parts,
    7–10: B's, 11–12: clutter). Right: the activations a_A (at 1) and a_B (at 2), β_a = 0."""
    votes, mu, sigma2, act, resp = routing_state(spread, iters, lam, beta_u)
    sd = sigma2.sqrt().numpy()
    curves = []
    for j, name in enumerate("AB"):
        v = votes[:, j].numpy()
        curves.append(Curve(v[:, 0].round(3), v[:, 1].round(3), f"votes for {name}", "markers", j))
        ex = mu[j, 0].item() + 2 * sd[j, 0] * np.cos(_ELLIPSE)
        ey = mu[j, 1].item() + 2 * sd[j, 1] * np.sin(_ELLIPSE)
        curves.append(Curve(ex.round(3), ey.round(3), f"{name}: μ ± 2σ", "line", j))
    scatter = Panel(curves, title="votes and fitted Gaussians", xlabel="vote, 1st", ylabel="2nd")
    labels = [str(i + 1) for i in range(N_LOWER)]
    share = Panel(
        [Curve(labels, resp[:, 0].numpy().round(3), "R_iA", "bar", 0)],
        title="share routed to A",
        xlabel="lower capsule",
        ylim=(0.0, 1.0),
    )
    heights = act.numpy().round(3)
    bars = Panel(  # numeric x: the static book draws every axis as a linear one
        [Curve([j + 1], [heights[j]], f"a_{n}", "bar", j) for j, n in enumerate("AB")],
        title="activations a_A (1), a_B (2)",
        xlabel="upper capsule",
        ylim=(0.0, 1.0),
    )
    mass = resp.sum(0).numpy()
    entropy = 0.5 * sigma2.log().sum(-1).numpy() + (1 + math.log(2 * math.pi))  # d = 2
    readout = " · ".join(
        f"{n}: S = {s:+.2f}, mass {m:.2f}, a = {a:.3f}"
        for n, s, m, a in zip("AB", entropy, mass, act.numpy())
    )
    return View([scatter, share, bars], readout=readout)


def accuracy_by_lambda(
    lams: Sequence[float], accuracy: Mapping[int, Any], *, chance: float | None = None
) -> Figure:
    """Test accuracy against λ (log axis), one line per number of routing iterations: the mean
    over seeds, with every seed as a dot. ``accuracy[iters]`` has shape (len(lams), seeds)."""
    lams = [_validate.positive("lams", v) for v in lams]
    fig, ax = figure(1, 1, figsize=(6.4, 3.6))
    for k, (iters, acc) in enumerate(sorted(accuracy.items())):
        acc = np.asarray(acc, dtype=float)
        if acc.ndim != 2 or acc.shape[0] != len(lams):
            raise ValueError(f"accuracy[{iters}] must have shape ({len(lams)}, seeds)")
        label = f"{iters} iteration{'s' if iters > 1 else ''}"
        ax.plot(lams, acc.mean(1), marker="o", color=f"C{k}", label=label)
        for s in range(acc.shape[1]):
            ax.plot(lams, acc[:, s], ".", color=f"C{k}", alpha=0.45)
    if chance is not None:
        ax.axhline(chance, color="0.6", lw=0.8, ls="--", label="chance")
    ax.set(xscale="log", xlabel="λ (inverse temperature)", ylabel="test accuracy")
    ax.set_title("part–whole task: accuracy against λ (mean line, one dot per seed)")
    ax.legend()
    return fig
