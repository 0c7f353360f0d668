"""Checks for the exercises of chapter 17 (entropy-invariant attention and the JL lemma)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from . import Wrong, checker, expect_expression, expect_function, expect_number


def _power_probs(p: np.ndarray, a: float) -> np.ndarray:
    from ..architecture.attention import sharpen

    return sharpen(np.asarray(p, dtype=float), a).numpy()


@checker("17.1")
def _power(answer: Any) -> None:
    rng = np.random.default_rng(17)
    cases = []
    for size, a in [(5, 2.0), (8, 0.5), (16, 1.7), (3, 1.0)]:
        z = rng.normal(size=size)
        cases.append((np.exp(z) / np.exp(z).sum(), a))
    expect_function(answer, _power_probs, cases, rtol=1e-9, what="power_probs")


@checker("17.2")
def _ideal(answer: Any) -> None:
    expect_number(answer, 64 * math.log(8192) / math.log(512), rtol=1e-4, what="your d_n")


@checker("17.3")
def _ratio(answer: Any) -> None:
    expect_number(answer, 24 / (0.25 * 8.33), rtol=1e-3, what="your ratio")


@checker("17.4")
def _derivative(answer: Any) -> None:
    eps = sp.symbols("epsilon")
    expect_expression(answer, eps * (eps - 1) / (2 * (1 + eps)), what="your f′(ε)")


@checker("17.5")
def _exact_dim(answer: Any) -> None:
    from ..maths.jl import chi2_tail_curve

    numeric = isinstance(answer, (int, float, np.integer, np.floating)) and not isinstance(
        answer, bool
    )
    if not numeric or not float(answer).is_integer():
        raise Wrong("your k should be an integer (a number of dimensions).")
    dims = np.arange(1, 5000)
    target = int(dims[np.argmax(chi2_tail_curve(dims, 0.1) <= 0.01)])
    if int(answer) != target:
        side = "too large" if int(answer) > target else "too small"
        raise Wrong(
            f"your k is {side}: the first k where the two-sided tail drops to 0.01 is "
            "elsewhere. Did you add both tails?"
        )
