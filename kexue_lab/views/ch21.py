"""Chapter 21's exploration and figure: gradient accumulation for a contrastive loss.

* :data:`accumulation_error`: batch size, chunk size and dropout; the relative error
  of three accumulated gradients against the big-batch gradient;
* :func:`cost_figure`: activation memory and time per step of the cached method against the big
  batch, as the chunk shrinks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .. import _validate
from ..optimization import contrastive as C
from ..plot import figure
from ..widgets import Curve, Panel, View, choice, exploration, slider

#: Relative errors below this are drawn at this height (float64 rounding is about 1e-16).
FLOOR = 1e-17
METHODS = ("naive accumulation", "cached (article)", "cached + RNG replay")


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).norm() / want.norm())


def gradient_errors(n: int, chunk: int, tau: float, dropout: float, seed: int = 0) -> list[float]:
    """Relative errors ‖g − g_big‖/‖g_big‖ of naive, cached and cached-with-replay accumulation.

    A 16 → 32 → 8 tanh MLP (float64, optional dropout after the hidden layer) on N random pairs
    x, x + 0.3·noise. With dropout the reference g_big is the big-batch gradient under the
    masks that the cached method's first pass drew (same RNG stream, same chunking).
    """
    n = _validate.int_at_least("n", n, 2)
    chunk = _validate.positive_int("chunk", chunk)
    tau = _validate.positive("tau", tau)
    dropout = _validate.in_range("dropout", dropout, 0.0, 0.9)
    gen = torch.Generator().manual_seed(seed)
    x1 = torch.randn(n, 16, generator=gen, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn(n, 16, generator=gen, dtype=torch.float64)
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Dropout(dropout)]
    enc = torch.nn.Sequential(*layers, torch.nn.Linear(32, 8)).double()

    def grad(step: Any) -> torch.Tensor:
        torch.manual_seed(seed + 1)
        enc.zero_grad()
        step()
        return C.grad_vector(enc).clone()

    def big() -> None:
        h = [torch.cat([enc(x[k : k + chunk]) for k in range(0, n, chunk)]) for x in (x1, x2)]
        C.contrastive_loss(h[0], h[1], tau).backward()

    want = grad(big)
    return [
        _rel(grad(lambda: C.naive_accumulation_backward(enc, x1, x2, tau, chunk)), want),
        _rel(grad(lambda: C.cached_contrastive_backward(enc, x1, x2, tau, chunk)), want),
        _rel(
            grad(lambda: C.cached_contrastive_backward(enc, x1, x2, tau, chunk, replay_rng=True)),
            want,
        ),
    ]


@exploration(
    slider("n", 16, 256, steps=3, log=True, integer=True, default=64, label="batch N"),
    slider("chunk", 1, 256, steps=5, log=True, integer=True, default=16, label="chunk"),
    choice("dropout", {"off": 0.0, "p = 0.1": 0.1}, label="dropout"),
    title="Accumulating a contrastive gradient: error against the big batch",
)
def accumulation_error(n: int = 64, chunk: int = 16, dropout: float = 0.0) -> View:
    """Relative gradient error of the three accumulation schemes at τ = 0.1 (log scale)."""
    errors = gradient_errors(n, chunk, 0.1, dropout)
    shown = [max(e, FLOOR) for e in errors]
    panel = Panel(
        curves=[Curve(list(METHODS), shown, "", style="bar", color=0)],
        title=f"N = {n}, chunk = {min(chunk, n)} ({-(-n // chunk)} chunk(s))",
        ylabel="‖g − g_big‖ / ‖g_big‖",
        ylog=True,
        ylim=(1e-17, 10.0),
    )
    text = ", ".join(f"{m}: {e:.1e}" for m, e in zip(METHODS, errors))
    return View([panel], readout=text)


def cost_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Two panels against the chunk size: saved activations and time per step, both relative to
    the big batch (rows: dicts with ``chunk``, ``bytes_ratio``, ``time_ratio``)."""
    if not rows:
        raise ValueError("rows must hold at least one measurement")
    chunks = [int(r["chunk"]) for r in rows]
    fig, (left, right) = figure(1, 2, figsize=(9.5, 3.4))
    left.plot(chunks, [r["bytes_ratio"] for r in rows], "o-", label="cached")
    left.axhline(1.0, color="grey", ls="--", lw=1, label="big batch")
    left.set(xscale="log", yscale="log", xlabel="chunk", ylabel="saved activations / big batch")
    right.plot(chunks, [r["time_ratio"] for r in rows], "o-", label="cached")
    right.axhline(1.0, color="grey", ls="--", lw=1, label="big batch")
    right.set(xscale="log", xlabel="chunk", ylabel="time per step / big batch")
    for ax in (left, right):
        ax.legend(frameon=False)
    return fig


def _ratio_text(row: Mapping[str, Any]) -> str:
    lo, hi = row["time_spread"]
    return f"× {row['time_ratio']:.2f} (repeats {lo:.2f}–{hi:.2f})"


def comparison_rows(
    metrics: Mapping[str, Any],
    recorded: Mapping[str, Any],
    *,
    naive_error: float,
    dropout_error: float,
) -> list[list[str]]:
    """Rows (quantity, article, ours, full run) for the chapter's comparison table.

    ``metrics``/``recorded``: this run's and the recorded full run's metrics (``rows`` of the
    cost measurement, chunk N/4 third); ``naive_error`` and ``dropout_error`` come from §5–6.
    """

    cols: list[list[str]] = []
    for m in (metrics, recorded):
        rows = m.get("rows") or []
        row = rows[2] if len(rows) > 2 else None
        if row is None:
            cols.append(["—"] * 3)
            continue
        n = m["pairs"]
        cols.append(
            [
                f"N = {n}, chunk {row['chunk']}: {_ratio_text(row)}",
                f"chunk {row['chunk']}: {row['bytes_ratio']:.3f} of the big batch",
                f"float32 rel. error {row['grad_error']:.1e}",
            ]
        )
    return [
        ["time of an update", "one extra forward pass", cols[0][0], cols[1][0]],
        ["activation memory", "that of the backward batch b", cols[0][1], cols[1][1]],
        ["gradient", "equals the big batch's", cols[0][2], cols[1][2]],
        [
            "naive accumulation (N = 64, chunks of 16)",
            "not equivalent (eq. 2)",
            f"rel. gradient error {naive_error:.2f}",
            "",
        ],
        [
            "with dropout 0.1",
            "incompatible, no good fix",
            f"rel. error {dropout_error:.2f}; 0 with RNG replay",
            "",
        ],
    ]
