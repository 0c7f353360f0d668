"""Exercise checks that hold no answers: the public check, the teacher's tests, the summary.

Every exercise of the book has five parts, marked in the notebook's cell metadata
(``{"kexue": {"exercise": "16.3", "role": ...}}``):

* ``statement`` (Markdown) and ``stub`` (``answer = ...``): what the student gets;
* ``solution``: the worked answer, prose and code (the teacher's; not in the student edition);
* ``check``: the **public check**, ``check("16.3", cos_star, form="expression",
  fingerprint="…")``. It never holds the answer: it confirms the answer's form and, for an
  exact answer, compares a one-way :func:`fingerprint` of it; otherwise it leaves the verdict
  to the teacher's tests;
* ``tests``: the **teacher's tests** (hidden from students), plain Python that raises when the
  answer is wrong, built from :func:`expect_number`, :func:`expect_expression` and
  :func:`expect_function`, ending with :func:`passed`. ``tools/book.py assign`` turns them
  into nbgrader's hidden tests.

:func:`check` prints one line and never stops Run All; :func:`summary` reports every exercise
checked in this session (the student edition ends with it). The package itself contains no
exercise's answer: students install it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "FORMS",
    "NotYetRight",
    "Wrong",
    "check",
    "expect_expression",
    "expect_function",
    "expect_number",
    "fingerprint",
    "passed",
    "summary",
]

FORMS = ("any", "number", "expression", "function", "array")
STRICT_ENV = "KEXUE_STRICT_CHECKS"
_STATUS: dict[str, str] = {}  # exercise -> right / answered / not yet right / open (this session)


class NotYetRight(AssertionError):
    """The student's answer does not pass its check (yet)."""


class Wrong(AssertionError):
    """Raised by the teacher's tests with a message that names what is wrong."""


def _exercise_id(exercise: Any) -> str:
    parts = exercise.split(".") if isinstance(exercise, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"exercise must look like '16.3' (chapter.number), got {exercise!r}")
    return exercise


# ---- fingerprints ---------------------------------------------------------------------------
def fingerprint(value: Any) -> str:
    """A one-way digest of an exact answer: equal for equal values, useless for guessing.

    ``value`` is a SymPy expression (or anything :func:`sympy.sympify` reads exactly: an int,
    a fraction). Its free symbols are replaced by fixed rationals chosen by name (so
    ``sqrt(x**2)`` and ``x`` for positive ``x`` agree), the result is evaluated to 30 digits,
    rounded to 15, and hashed with SHA-256. Equivalent forms such as ``(sqrt(5) - 1)/2`` and
    ``2/(1 + sqrt(5))`` give the same fingerprint.
    """
    import sympy as sp

    if isinstance(value, float) or value is Ellipsis:
        raise TypeError(f"fingerprint needs an exact value (a SymPy expression), got {value!r}")
    try:
        expr = sp.sympify(value)
    except (sp.SympifyError, TypeError):
        raise TypeError(
            f"fingerprint needs an exact value (a SymPy expression), got {type(value).__name__}"
        ) from None
    points = {
        s: sp.Rational(3 + 2 * sum(map(ord, s.name)) % 17, 11)
        for s in sorted(expr.free_symbols, key=str)
    }
    number = sp.N(expr.subs(points), 30)
    re, im = (sp.N(part, 15) for part in number.as_real_imag())
    text = f"{sp.sstr(re)}|{sp.sstr(im)}" if im != 0 else sp.sstr(re)
    return hashlib.sha256(f"kexue-lab:{text}".encode()).hexdigest()[:20]


# ---- forms ----------------------------------------------------------------------------------
def _form_problem(answer: Any, form: str) -> str | None:
    """Why ``answer`` does not have the ``form`` asked for (``None`` if it has)."""
    if form == "number":
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return f"it should be a number, got {type(answer).__name__}"
        return None if np.isfinite(value) else f"it should be a finite number, got {value}"
    if form == "expression":
        import sympy as sp

        try:
            expr = sp.sympify(answer)
        except (sp.SympifyError, TypeError):
            return f"it should be a SymPy expression, got {type(answer).__name__}"
        if isinstance(answer, float) or any(
            isinstance(a, sp.Float) for a in sp.preorder_traversal(expr)
        ):
            return "it holds floating-point numbers: give it exactly (sp.pi, sp.sqrt, sp.Rational)"
        return None
    if form == "function":
        return None if callable(answer) else f"it should be a function, got {type(answer).__name__}"
    if form == "array":
        try:
            arr = np.asarray(answer.detach().cpu() if hasattr(answer, "detach") else answer)
        except (TypeError, ValueError):
            return f"it should be an array, got {type(answer).__name__}"
        return None if arr.dtype.kind in "biuf" else f"it should be numeric, got dtype {arr.dtype}"
    return None


def _verdict(answer: Any, form: str, digest: str | None, example: tuple | None) -> tuple[str, str]:
    if answer is Ellipsis:
        return "open", "not answered yet: replace the `...` with your answer."
    problem = _form_problem(answer, form)
    if problem:
        return "not yet right", f"not yet right: {problem}."
    if example is not None and callable(answer):
        try:
            out = answer(*example)
        except NotImplementedError:
            return "open", "your function still raises NotImplementedError: fill it in."
        except Exception as exc:  # noqa: BLE001 - the student's code may raise anything
            return "not yet right", f"not yet right: on an example input it raised {exc!r}."
        problem = _form_problem(out, "array")
        if problem is None and not np.all(np.isfinite(np.asarray(_plain(out), dtype=float))):
            problem = "it returned a value that is not finite"
        if problem:
            return "not yet right", f"not yet right: on an example input {problem}."
    if digest is None:
        return "answered", "answered. Your teacher's tests give the verdict."
    try:
        right = fingerprint(answer) == digest
    except TypeError as exc:
        return "not yet right", f"not yet right: {exc}."
    return ("right", "correct.") if right else ("not yet right", "not yet right.")


def _plain(value: Any) -> Any:
    return value.detach().cpu() if hasattr(value, "detach") else value


def check(
    exercise: str,
    answer: Any,
    *,
    form: str = "any",
    fingerprint: str | None = None,  # noqa: A002 - the name the notebooks use
    example: tuple | None = None,
    strict: bool | None = None,
) -> None:
    """The public check of ``exercise``: print one line, and never stop the notebook.

    ``form`` (one of :data:`FORMS`) is what the answer must be; ``fingerprint`` (for an exact
    answer) the :func:`fingerprint` of the right value. Prints ``✓`` (right), ``•`` (answered;
    the teacher's tests decide) or ``✗`` (open, or not yet right, with the reason when the form
    is wrong). For a function, ``example`` is an input it is called with once: a stub that
    still raises ``NotImplementedError`` counts as open, an error or a non-finite result as
    not yet right. No hint says which way an answer is off. With ``strict=True`` (or
    ``KEXUE_STRICT_CHECKS=1``) an open or wrong answer raises :class:`NotYetRight`.
    """
    from .. import _validate

    exercise = _exercise_id(exercise)
    _validate.choice("form", form, FORMS)
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise TypeError(f"fingerprint must be a string from fingerprint(), got {fingerprint!r}")
    status, message = _verdict(answer, form, fingerprint, example)
    if _STATUS.get(exercise) != "right" or status != "answered":
        _STATUS[exercise] = status
    mark = {"right": "✓", "answered": "•"}.get(status, "✗")
    line = f"{mark} Exercise {exercise}: {message}"
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")
    if strict and status in ("open", "not yet right"):
        raise NotYetRight(line)
    print(line)


def passed(exercise: str) -> None:
    """End of the teacher's tests of ``exercise``: they all passed (print it, record it)."""
    exercise = _exercise_id(exercise)
    _STATUS[exercise] = "right"
    print(f"✓ Exercise {exercise}: passes the teacher's tests.")


def summary() -> dict[str, int]:
    """Print how many exercises checked in this session are right, answered, wrong or open."""
    kinds = ("right", "answered", "not yet right", "open")
    counts = {k: sum(v == k for v in _STATUS.values()) for k in kinds}
    lines = [
        f"Exercises checked: {len(_STATUS)} · right {counts['right']} · answered, awaiting the "
        f"teacher's tests {counts['answered']} · not yet right {counts['not yet right']} · "
        f"open {counts['open']}"
    ]
    marks = {"right": "✓", "answered": "•"}
    lines += [f"  {marks.get(st, '✗')} {ex}: {st}" for ex, st in sorted(_STATUS.items())]
    print("\n".join(lines))
    return counts


# ---- the teacher's tests --------------------------------------------------------------------
def expect_number(answer: Any, target: float, *, rtol: float, what: str = "your value") -> None:
    """Raise :class:`Wrong` unless ``answer`` is a real number within ``rtol`` of ``target``."""
    problem = _form_problem(answer, "number")
    if problem:
        raise Wrong(f"{what}: {problem}")
    value = float(answer)
    if abs(value - target) > rtol * abs(target):
        raise Wrong(f"{what} is off by more than {rtol:.0e} (relative); re-check the derivation")


def expect_expression(answer: Any, target: Any, *, what: str = "your expression") -> None:
    """Raise :class:`Wrong` unless the SymPy ``answer`` equals ``target`` exactly."""
    import sympy as sp

    problem = _form_problem(answer, "expression")
    if problem:
        raise Wrong(f"{what}: {problem}")
    if sp.simplify(sp.sympify(answer) - sp.sympify(target)) != 0:
        raise Wrong(f"{what} is not equal to the exact answer")


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
        raise Wrong(f"{what} should be a function, got {type(fn).__name__}")
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
            raise Wrong(f"{what} gives a wrong result for the input ({shown})")
