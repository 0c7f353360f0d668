"""Argument checks shared by every public function of :mod:`kexue_lab`.

Each helper raises a ``ValueError`` or ``TypeError`` whose message names the
argument, shows what was given and says what is allowed, so a reader who
passes bad input learns how to fix it from the message alone.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; raise ``ValueError`` otherwise."""
    options = tuple(allowed)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {listed}")
    return value


def real(name: str, value: Any) -> float:
    """Return ``value`` as a finite float; raise for NaN, infinities and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return out


def real_array(name: str, value: Any) -> np.ndarray:
    """Return ``value`` (a number or an array-like of numbers) as a finite float64 array."""
    if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype == bool):
        raise TypeError(f"{name} must be numeric, got a boolean {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number or an array of numbers, "
            f"got {value!r} ({type(value).__name__})"
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def positive(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is finite and > 0."""
    out = real(name, value)
    if out <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return out


def non_negative(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is finite and >= 0."""
    out = real(name, value)
    if out < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an integer >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value!r}")
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an integer >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative integer, got {value!r} ({type(value).__name__})"
        )
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (>= 0), got {value!r}")
    return int(value)


def in_range(name: str, value: Any, lo: float, hi: float) -> float:
    """Return ``value`` as a float if ``lo <= value <= hi``."""
    out = real(name, value)
    if not lo <= out <= hi:
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {value!r}")
    return out


def int_at_least(name: str, value: Any, minimum: int, why: str = "") -> int:
    """Return ``value`` as an int >= ``minimum``; ``why`` says what the bound is for."""
    value = positive_int(name, value) if minimum >= 1 else non_negative_int(name, value)
    if value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} must be >= {minimum}{reason}, got {value!r}")
    return value
