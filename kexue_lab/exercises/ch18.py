"""Checks for the exercises of chapter 18 (the dimension formula n > 8.33 log N)."""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from . import Wrong, checker, expect_expression, expect_function, expect_number


@checker("18.1")
def _slope(answer: Any) -> None:
    phi = (1 + sp.sqrt(5)) / 2
    try:
        expr = sp.sympify(answer)
    except (sp.SympifyError, TypeError):
        raise Wrong(
            f"your slope should be a SymPy expression, got {type(answer).__name__}."
        ) from None
    if not expr.is_real:
        raise Wrong("your slope should be a real number (no free symbols).")
    # exp(2x) is one-to-one on the reals and turns sums of logarithms into products SymPy can
    # compare
    expect_expression(sp.exp(2 * expr), 1 / phi, what="your slope")


@checker("18.2")
def _minimal_n(answer: Any) -> None:
    from ..architecture.embeddings import EXACT_COEF

    expect_number(answer, EXACT_COEF * math.log(30_000), rtol=1e-3, what="your minimal n")


@checker("18.3")
def _head_size(answer: Any) -> None:
    expect_number(answer, 8.33 * math.log(8192), rtol=1e-3, what="your head size")


@checker("18.4")
def _pair_entropy(answer: Any) -> None:
    import torch

    from ..architecture.embeddings import exact_pair_entropy

    g = torch.Generator().manual_seed(18)
    cases = [
        (
            torch.randn(n_rows, d, generator=g, dtype=torch.float64) * s,
            torch.randn(m_rows, d, generator=g, dtype=torch.float64) * s,
        )
        for n_rows, m_rows, d, s in [(5, 5, 3, 1.0), (7, 4, 6, 3.0), (30, 30, 16, 8.0)]
    ]
    try:
        expect_function(answer, exact_pair_entropy, cases, rtol=1e-6, what="your entropy function")
    except (TypeError, ValueError, RuntimeError) as exc:
        raise Wrong(
            f"your entropy function fails on a pair of (N, n) matrices ({type(exc).__name__})."
        ) from None


@checker("18.5")
def _jl_ratio(answer: Any) -> None:
    from ..architecture.embeddings import EXACT_COEF

    expect_number(answer, (24 / 0.5**2) / EXACT_COEF, rtol=1e-3, what="your ratio")
