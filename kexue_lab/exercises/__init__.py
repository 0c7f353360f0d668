"""Exercise checks that say right or wrong without revealing the answer.

Every exercise of the book has three parts, marked in the notebook's cell
metadata (``{"kexue": {"exercise": "12.1", "role": ...}}``):

* ``stub``: what the student fills in (``answer = ...`` or a function that
  raises ``NotImplementedError``);
* ``solution``: the worked answer (dropped from the student edition);
* ``check``: one call, ``check("12.1", answer)``.

:func:`check` prints one line, ``✓`` when the answer is right or ``✗`` with a hint
that never prints the expected value, and never stops the notebook; :func:`summary`
reports every checked exercise at the end (the student edition ends with it). The
checkers live in this package, one module per chapter (``ch12.py``, ...), registered
with :func:`checker`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np

_REGISTRY: dict[str, Callable[[Any], None]] = {}
_LOADED = False


class NotYetRight(AssertionError):
    """The student's answer does not pass its check (yet)."""


class Wrong(Exception):
    """Raised by a checker with a hint that does not give the answer away."""


def checker(exercise: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register ``fn(answer)`` as the check of ``exercise`` (e.g. ``"12.1"``)."""

    def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        if exercise in _REGISTRY:
            raise ValueError(f"exercise {exercise!r} already has a checker")
        _REGISTRY[exercise] = fn
        return fn

    return register


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for mod in pkgutil.iter_modules(__path__):
            if mod.name.startswith("ch"):
                importlib.import_module(f"{__name__}.{mod.name}")
        _LOADED = True


def exercises() -> list[str]:
    """Every exercise that has a registered check."""
    _load_all()
    return sorted(_REGISTRY, key=lambda s: tuple(int(p) for p in s.split(".")))


STRICT_ENV = "KEXUE_STRICT_CHECKS"
_STATUS: dict[str, str] = {}  # exercise -> "right", "not yet right" or "open", in this session


def _verdict(exercise: str, answer: Any) -> tuple[str, str]:
    """(status, one-line message) of ``answer``: right, not yet right (with a hint), or open."""
    if answer is Ellipsis:
        return "open", "not answered yet: replace the `...` with your answer."
    try:
        _REGISTRY[exercise](answer)
    except NotImplementedError:
        return "open", "your code still raises NotImplementedError: fill in the function."
    except Wrong as hint:
        return "not yet right", f"not yet right. {hint}"
    return "right", "correct."


def check(exercise: str, answer: Any, *, strict: bool | None = None) -> None:
    """Check a student's ``answer`` to ``exercise``: print one line, ✓, or ✗ with a hint.

    A check never stops Run All: it prints and returns, so the rest of the notebook runs and
    :func:`summary` can report every exercise at the end. With ``strict=True`` (or
    ``KEXUE_STRICT_CHECKS=1``) an answer that is not right raises :class:`NotYetRight`
    instead (what the book's own tests use).
    """
    import os

    _load_all()
    if exercise not in _REGISTRY:
        raise ValueError(f"no exercise {exercise!r}; known exercises: {', '.join(exercises())}")
    status, message = _verdict(exercise, answer)
    _STATUS[exercise] = status
    line = f"{'✓' if status == 'right' else '✗'} Exercise {exercise}: {message}"
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")
    if strict and status != "right":
        raise NotYetRight(line)
    print(line)


def summary() -> dict[str, int]:
    """Print how many exercises checked in this session are right, not yet right, or open."""
    counts = {k: sum(v == k for v in _STATUS.values()) for k in ("right", "not yet right", "open")}
    answered = counts["right"] + counts["not yet right"]
    lines = [
        f"Exercises checked: {len(_STATUS)} · answered {answered} · right {counts['right']} · "
        f"open {counts['open']}"
    ]
    lines += [f"  {'✓' if st == 'right' else '✗'} {ex}: {st}" for ex, st in sorted(_STATUS.items())]
    print("\n".join(lines))
    return counts


# helpers for checkers -----------------------------------------------------------------------
def expect_number(answer: Any, target: float, *, rtol: float, what: str = "your value") -> None:
    """Raise :class:`Wrong` unless ``answer`` is a real number within ``rtol`` of ``target``."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a number, got {type(answer).__name__}.") from None
    if not np.isfinite(value):
        raise Wrong(f"{what} is {value}, not a finite number.")
    if abs(value - target) > rtol * abs(target):
        side = "too large" if value > target else "too small"
        raise Wrong(
            f"{what} is {side} (more than {rtol:.0e} relative error). Re-check the derivation."
        )


def expect_expression(answer: Any, target: Any, *, what: str = "your expression") -> None:
    """Raise :class:`Wrong` unless the SymPy ``answer`` equals ``target`` exactly."""
    import sympy as sp

    try:
        expr = sp.sympify(answer)
    except (sp.SympifyError, TypeError):
        raise Wrong(f"{what} should be a SymPy expression, got {type(answer).__name__}.") from None
    if isinstance(answer, float) or any(
        isinstance(a, sp.Float) for a in sp.preorder_traversal(expr)
    ):
        raise Wrong(
            f"{what} contains floating-point numbers; give the exact expression (use sp.pi, "
            "sp.sqrt, sp.Rational)."
        )
    if sp.simplify(expr - sp.sympify(target)) != 0:
        raise Wrong(f"{what} is not equal to the exact answer.")


def expect_function(
    fn: Any,
    reference: Callable[..., Any],
    cases: list[tuple],
    *,
    rtol: float = 1e-6,
    what: str = "your function",
) -> None:
    """Raise :class:`Wrong` unless ``fn(*case)`` matches ``reference(*case)`` on every case."""
    if not callable(fn):
        raise Wrong(f"{what} should be a function, got {type(fn).__name__}.")
    for case in cases:
        got, want = fn(*case), reference(*case)
        got_arr = np.asarray(got.detach().cpu() if hasattr(got, "detach") else got, dtype=float)
        want_arr = np.asarray(want.detach().cpu() if hasattr(want, "detach") else want, dtype=float)
        if got_arr.shape != want_arr.shape or not np.allclose(
            got_arr, want_arr, rtol=rtol, atol=rtol
        ):
            shown = ", ".join(
                f"{c:.4g}" if isinstance(c, float) else type(c).__name__ for c in case
            )
            raise Wrong(f"{what} gives a wrong result for the input ({shown}).")
