"""Checks for the exercises of chapter 16 (the entropy-invariant attention scale)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from . import checker, expect_expression, expect_function, expect_number


@checker("16.1")
def _factor_2048(answer: Any) -> None:
    expect_expression(answer, sp.Rational(11, 9), what="your factor")


def _dH_dlam_by_differences(s: np.ndarray, lam: float) -> float:
    """Central difference of H(λ) = −Σ p log p, p = softmax(λ s): an independent reference."""
    from ..maths.entropy import softmax_entropy

    step = 1e-5
    return (softmax_entropy((lam + step) * s) - softmax_entropy((lam - step) * s)) / (2 * step)


@checker("16.2")
def _dH_dlam(answer: Any) -> None:
    rng = np.random.default_rng(16)
    cases = [(rng.normal(scale=2.0, size=n), lam) for n, lam in [(5, 0.3), (40, 1.0), (200, 2.5)]]
    cases.append((np.array([1000.0, 999.0, -5.0]), 0.8))  # large scores: needs a stable softmax
    expect_function(answer, _dH_dlam_by_differences, cases, rtol=1e-6, what="your dH/dλ")


@checker("16.3")
def _cos_star(answer: Any) -> None:
    expect_expression(answer, (sp.sqrt(5) - 1) / 2, what="your cos θ*")


@checker("16.4")
def _multiplier(answer: Any) -> None:
    expect_number(answer, math.log(4096), rtol=1e-3, what="your multiplier")


@checker("16.5")
def _lam_delta(answer: Any) -> None:
    expect_number(answer, math.log(999), rtol=1e-4, what="your λΔ")
