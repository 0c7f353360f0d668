"""Checks for the exercises of chapter 13 (averaging fan-in and fan-out)."""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from . import Wrong, checker, expect_expression, expect_number


@checker("13.1")
def _least_squares_dim(answer: Any) -> None:
    m, n = 768, 3072
    expect_number(answer, (m * m + n * n) / (m + n), rtol=1e-4, what="your average dimension")


@checker("13.2")
def _llama_stack(answer: Any) -> None:
    m, n, blocks = 4096, 11008, 32
    expect_number(answer, (4 * m * n / (m + n) ** 2) ** blocks, rtol=1e-3, what="your factor")


@checker("13.3")
def _weighted_log_loss(answer: Any) -> None:
    names = {"m", "n", "alpha"}
    try:
        expr = sp.sympify(answer)
    except (sp.SympifyError, TypeError):
        raise Wrong(f"your d̄ should be a SymPy expression, got {type(answer).__name__}.") from None
    extra = {s.name for s in expr.free_symbols} - names
    if extra:
        raise Wrong(
            f"use only the symbols m, n and alpha; your expression also has {sorted(extra)}."
        )
    pos = {name: sp.Symbol(name, positive=True) for name in names}
    renamed = expr.xreplace({s: pos[s.name] for s in expr.free_symbols})
    m, n, alpha = pos["m"], pos["n"], pos["alpha"]
    expect_expression(renamed, m**alpha * n ** (1 - alpha), what="your d̄")


@checker("13.4")
def _uniform_init(answer: Any) -> None:
    import torch

    from ..architecture.init import average_dim

    if not callable(answer):
        raise Wrong(
            f"your answer should be a function fn(weight, kind), got {type(answer).__name__}."
        )
    gen = torch.Generator().manual_seed(0)
    for out_features, in_features, kind in [
        (300, 1200, "fan_in"),
        (1200, 300, "fan_in"),
        (300, 1200, "fan_out"),
        (900, 300, "quadratic"),
    ]:
        weight = torch.zeros(out_features, in_features)
        with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            result = answer(weight, kind)
        if result is not weight:
            raise Wrong(
                "your function should fill the weight in place and return that same tensor."
            )
        bound = math.sqrt(3 / average_dim(in_features, out_features, kind))
        big = float(weight.abs().max())
        if big > bound * (1 + 1e-5) or big < 0.98 * bound:
            raise Wrong(
                f"for a weight of shape ({out_features}, {in_features}) and kind {kind!r}, "
                "the largest |w| is not at the uniform bound that gives variance 1/d̄."
            )
        var = float(weight.double().square().mean())
        if abs(var * average_dim(in_features, out_features, kind) - 1) > 0.02:
            raise Wrong(
                f"for a weight of shape ({out_features}, {in_features}) and kind {kind!r}, "
                "the variance is not 1/d̄. Which axis holds fan-in?"
            )


@checker("13.5")
def _half_ratio(answer: Any) -> None:
    expect_number(answer, 3 + 2 * math.sqrt(2), rtol=1e-4, what="your aspect ratio")
