"""Checks for the exercises of chapter 14 (what BatchNorm does to the loss landscape)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import Wrong, checker, expect_function, expect_number


@checker("14.1")
def _best_step(answer: Any) -> None:
    def reference(L: float, grad_norm: float) -> tuple[float, float]:
        # maximise η − ½Lη² over η (the guaranteed decrease per unit ‖∇f‖²)
        etas = np.linspace(0.0, 2.0 / L, 200_001)
        gains = (etas - 0.5 * L * etas**2) * grad_norm**2
        k = int(np.argmax(gains))
        return etas[k], gains[k]

    cases = [(1.0, 1.0), (4.0, 0.5), (0.25, 3.0), (10.0, 2.0)]
    expect_function(answer, reference, cases, rtol=1e-4, what="your (η, decrease)")


@checker("14.2")
def _stable_step_gain(answer: Any) -> None:
    d, c = 100, 3.0
    raw = np.eye(d) + c**2 * np.ones((d, d))  # E[xxᵀ] for x ~ N(c·1, I)
    expect_number(
        answer,
        np.linalg.eigvalsh(raw)[-1] / np.linalg.eigvalsh(np.eye(d))[-1],
        rtol=1e-6,
        what="your factor",
    )


def _random_batches() -> list[tuple[Any, ...]]:
    rng = np.random.default_rng(14)
    return [
        (rng.normal(2.0, 3.0, m), rng.normal(size=m), gamma)
        for m, gamma in ((5, 1.0), (32, 0.5), (100, -2.0))
    ]


@checker("14.3")
def _bn_input_grad(answer: Any) -> None:
    from ..architecture.normalization import batchnorm_backward

    def reference(y: np.ndarray, g: np.ndarray, gamma: float) -> np.ndarray:
        return batchnorm_backward(y[:, None], g[:, None], np.array([gamma]), eps=0.0)[:, 0]

    expect_function(answer, reference, _random_batches(), rtol=1e-8, what="your ∂L/∂y")


@checker("14.4")
def _bn_grad_sq_norm(answer: Any) -> None:
    from ..architecture.normalization import batchnorm_backward

    cases = []
    for y, g, gamma in _random_batches():
        sigma = float(y.std())
        cases.append((g, (y - y.mean()) / sigma, gamma, sigma, y))

    def reference(
        g: np.ndarray, yhat: np.ndarray, gamma: float, sigma: float, y: np.ndarray
    ) -> float:
        return float(
            np.sum(batchnorm_backward(y[:, None], g[:, None], np.array([gamma]), eps=0.0) ** 2)
        )

    if not callable(answer):
        raise Wrong(
            "your answer should be a function of (g, yhat, gamma, sigma), got "
            f"{type(answer).__name__}."
        )
    expect_function(
        lambda g, yhat, gamma, sigma, y: answer(g, yhat, gamma, sigma),
        reference,
        cases,
        rtol=1e-8,
        what="your squared norm",
    )


@checker("14.5")
def _too_small_inputs(answer: Any) -> None:
    from sklearn.datasets import load_breast_cancer

    from ..architecture.conditioning import logistic_gd, standardize

    X, y = load_breast_cancer(return_X_y=True)
    expect_number(
        answer,
        logistic_gd(standardize(X) / 100.0, y, steps=2000)[1][-1],
        rtol=1e-6,
        what="your final loss",
    )
