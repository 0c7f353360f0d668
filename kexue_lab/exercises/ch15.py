"""Checks for the exercises of chapter 15 (vanishing and exploding gradients in RNNs)."""

from __future__ import annotations

import math
from typing import Any

from . import Wrong, checker, expect_function, expect_number


@checker("15.1")
def _sup_half_state(answer: Any) -> None:
    from ..architecture.recurrent import tanh_gain_sup

    expect_number(answer, tanh_gain_sup(0.0, 0.5)[0], rtol=1e-5, what="your supremum")


@checker("15.2")
def _forget_steps(answer: Any) -> None:
    try:
        values = [int(v) for v in answer]
    except (TypeError, ValueError):
        raise Wrong("give a list of three integers, one per forget bias.") from None
    if len(values) != 3 or any(v != w for v, w in zip(values, answer)):
        raise Wrong("give a list of exactly three integers, one per forget bias b_f = 0, 2, 5.")
    for b, steps in zip((0, 2, 5), values):
        f = 1 / (1 + math.exp(-b))
        if not (f**steps < 0.01 <= f ** (steps - 1)):
            raise Wrong(
                f"the count for b_f = {b} is not the smallest T with f^T < 0.01. Check the "
                "log and the rounding."
            )


def _gru_reference(weights: tuple[float, ...], x: float, h: float) -> float:
    import torch

    cell = _gru_cell(weights)
    h_t = torch.tensor([[h]], dtype=torch.float64, requires_grad=True)
    out = cell(torch.tensor([[x]], dtype=torch.float64), h_t)
    (grad,) = torch.autograd.grad(out.sum(), h_t)
    return float(grad)


def _gru_cell(weights: tuple[float, ...]) -> Any:
    import torch

    cell = torch.nn.GRUCell(1, 1).double()
    with torch.no_grad():
        for p, chunk in zip(
            cell.parameters(), (weights[0:3], weights[3:6], weights[6:9], weights[9:12])
        ):
            p.copy_(torch.tensor(chunk, dtype=torch.float64).reshape(p.shape))
    return cell


@checker("15.3")
def _gru_slope(answer: Any) -> None:
    if not callable(answer):
        raise Wrong(f"gru_slope should be a function, got {type(answer).__name__}.")
    cases = [
        ((0.5, -1.2, 0.8, 1.5, -0.7, 2.0, 0.1, -0.3, 0.2, 0.4, 0.6, -0.5), 0.7, 0.3),
        ((-1.0, 0.4, 1.1, 0.2, 1.3, -1.8, 0.0, 0.5, -0.4, -0.2, 0.3, 0.9), -1.5, -0.6),
        ((2.0, 2.0, -2.0, -1.0, 0.5, 0.5, 1.0, -1.0, 0.0, 0.0, 0.0, 1.0), 0.2, 0.95),
    ]
    expect_function(
        lambda w, x, h: answer(_gru_cell(w), x, h),
        _gru_reference,
        cases,
        rtol=1e-8,
        what="your gru_slope",
    )


@checker("15.4")
def _clipped_ratio(answer: Any) -> None:
    expect_number(answer, 0.9**49, rtol=1e-6, what="your ratio")


@checker("15.5")
def _smallest_bias(answer: Any) -> None:
    from ..architecture.recurrent import init_cell, jacobian_norms

    if (
        isinstance(answer, bool)
        or not isinstance(answer, int)
        and not (isinstance(answer, float) and answer.is_integer())
    ):
        raise Wrong("give the bias as an integer between 0 and 6.")
    target = next(
        (
            b
            for b in range(7)
            if jacobian_norms(init_cell("lstm", 32, 32, seed=0, memory_bias=b), 100)[-1] >= 0.01
        ),
        None,
    )
    if int(answer) != target:
        side = (
            "too large: a smaller bias already keeps"
            if int(answer) > target
            else "too small: that bias does not keep"
        )
        raise Wrong(f"your bias is {side} the norm above 0.01 at t = 100.")
