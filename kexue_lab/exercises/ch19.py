"""Checks for the exercises of chapter 19 (gradient clipping)."""

from __future__ import annotations

import numbers
from typing import Any

from . import Wrong, checker, expect_function, expect_number


@checker("19.1")
def _soft_factor(answer: Any) -> None:
    from ..optimization.clipping import clip_factor

    cases = [(0.0, 1.0), (0.5, 2.0), (16.0, 16.0), (3.0, 0.25), (1e4, 3.0)]
    expect_function(
        answer, lambda x, g: clip_factor(x, g, "soft"), cases, rtol=1e-9, what="soft_factor"
    )


@checker("19.2")
def _min_l0_theta6(answer: Any) -> None:
    import numpy as np

    L1 = 2.0
    theta = np.linspace(0.0, 10.0 / L1, 2_000_001)
    target = float(np.max(30 * theta**4 - 6 * L1 * theta**5))  # grid max, off by < 1e-6 relative
    expect_number(answer, target, rtol=1e-5, what="your L0")


@checker("19.3")
def _gd_iterations(answer: Any) -> None:
    from ..optimization.clipping import descend

    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise Wrong(
            f"the answer should be a whole number of iterations, got {type(answer).__name__}."
        )
    steps = int(
        descend(
            lambda z: 4.0 * z**3, [20.0], rule="gd", eta=1 / (16 + 4 * 20.0**3), max_steps=10**5
        ).steps[0]
    )
    if float(answer) != int(answer):
        raise Wrong("an iteration count is a whole number.")
    if (
        abs(int(answer) - steps) > 1
    ):  # a float loop may differ by one step from ours at the boundary
        side = "too many" if answer > steps else "too few"
        raise Wrong(
            f"that is {side} iterations. Check the step size and the stopping test |θ| ≤ 1."
        )


@checker("19.4")
def _ratio_facts(answer: Any) -> None:
    try:
        values = [float(v) for v in answer]
    except TypeError:
        raise Wrong(f"give a tuple of three numbers, got {type(answer).__name__}.") from None
    if len(values) != 3:
        raise Wrong(f"give exactly three numbers, got {len(values)}.")
    names = ("where r is smallest (x/γ)", "the smallest value of r", "the limit of r as x → ∞")
    for name, got, want in zip(names, values, (1.0, 0.5, 1.0)):
        try:
            expect_number(got, want, rtol=1e-6, what=name)
        except Wrong as hint:
            raise Wrong(f"{hint} Split the cases x ≤ γ and x > γ.") from None


@checker("19.5")
def _soft_clip(answer: Any) -> None:
    import torch

    from ..optimization.clipping import clip_grad_norm_

    if not callable(answer):
        raise Wrong(f"soft_clip_ should be a function, got {type(answer).__name__}.")
    for scale, gamma in [(10.0, 1.0), (1e-3, 1.0), (1.0, 0.5)]:
        gen = torch.Generator().manual_seed(19)
        grads = [torch.randn(4, 3, generator=gen) * scale, torch.randn(5, generator=gen) * scale]
        mine = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        ref = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, q, g in zip(mine, ref, grads):
            p.grad, q.grad = g.clone(), g.clone()
        norm = answer(mine, gamma)
        want = clip_grad_norm_(ref, gamma, "soft")
        try:
            got_norm = float(norm)
        except (TypeError, ValueError):
            raise Wrong("soft_clip_ should return the global gradient norm as a number.") from None
        if abs(got_norm - want) > 1e-5 * want:
            raise Wrong("the returned norm is not the global norm of all gradients taken together.")
        for p, q in zip(mine, ref):
            if not torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-8):
                raise Wrong(
                    "the gradients are not scaled correctly in place: use one factor, "
                    "computed from the "
                    "global norm, for every parameter."
                )
