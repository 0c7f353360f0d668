"""Checks for the exercises of chapter 12 (GELU approximations)."""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from . import checker, expect_expression, expect_number


@checker("12.1")
def _taylor_c(answer: Any) -> None:
    expect_expression(answer, (4 - sp.pi) / (6 * sp.pi), what="your c")


@checker("12.2")
def _slope_lambda(answer: Any) -> None:
    expect_number(answer, 4 / math.sqrt(2 * math.pi), rtol=1e-4, what="your λ")


@checker("12.3")
def _minimax_c(answer: Any) -> None:
    from ..architecture.activations import fit_gelu_constants

    expect_number(answer, fit_gelu_constants()["tanh_c"], rtol=2e-6, what="your c")


@checker("12.4")
def _error_ratio(answer: Any) -> None:
    from ..architecture.activations import max_phi_error, phi_sigmoid, phi_tanh

    ratio = max_phi_error(phi_sigmoid)[0] / max_phi_error(phi_tanh)[0]
    expect_number(answer, ratio, rtol=5e-3, what="your ratio")


@checker("12.5")
def _fifth_order(answer: Any) -> None:
    pi = sp.pi
    expect_expression(answer, (96 - 40 * pi + 3 * pi**2) / (120 * pi**2), what="your c₅")
