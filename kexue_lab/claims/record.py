"""What a ledger records: a claim, its verdict, the error a false claim raises, number formats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

OPERATORS: tuple[str, ...] = ("==", "<=", "<", ">=", ">")
METADATA_KEY = "kexue_lab"

HOLDS = "✓ holds"
REPRODUCED = "✓ reproduced"
CONTEXT = "· beside (not checked)"
FAILED = "✗ failed"

#: ``KEXUE_CLAIMS=collect`` records a false claim as failed and goes on (``tools/book.py seeds``);
#: by default a false claim raises :class:`ClaimError` and stops the notebook.
MODE_ENV = "KEXUE_CLAIMS"
#: ``KEXUE_LEDGER_OUT=path``: ``ledger.show()`` also writes the records there, as JSON.
OUT_ENV = "KEXUE_LEDGER_OUT"

_SHOWN = {"==": "=", "<=": "≤", "<": "<", ">=": "≥", ">": ">"}
_TEX = {"==": "=", "<=": r"\le", "<": "<", ">=": r"\ge", ">": ">"}
TEX_LIMIT = 160  # longer expected sides stay text: a table cell is no place for them


class ClaimError(AssertionError):
    """A claim of the book did not hold: the message names it and shows expected vs got."""


@dataclass(frozen=True)
class Claim:
    """One row of a ledger."""

    chapter: str
    number: int
    statement: str
    source: str
    kind: str  # "symbolic", "numeric" or "reported"
    expected: str
    ours: str
    tolerance: str
    verdict: str
    value: float | None = None  # the measured number (worst entry of an array), for seed spreads
    expected_tex: str = ""  # the expected side as LaTeX (symbolic claims), rendered in the book

    @property
    def label(self) -> str:
        """Short reference such as ``12#3``."""
        return f"{self.chapter}#{self.number}"


def _short(value: Any, limit: int = 70) -> str:
    text = sp.sstr(value) if isinstance(value, sp.Basic) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e12:
        return f"{int(x)}"
    return f"{x:.6g}"


def _as_array(name: str, value: Any) -> np.ndarray:
    """A real number, array, list or tensor as a float64 array (NaN allowed: it fails the claim)."""
    if isinstance(value, sp.Basic):
        if not value.is_number:
            raise TypeError(f"{name} must be a number, got the symbolic expression {value}")
        value = float(value.evalf(30))
    if hasattr(value, "detach"):  # torch tensors
        value = value.detach().cpu().double().numpy()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be a number or an array of numbers, got the boolean {value!r}; "
            "use ledger.true for a boolean claim"
        )
    if isinstance(value, str):
        raise TypeError(f"{name} must be a number or an array of numbers, got the string {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {value!r} "
            f"({type(value).__name__})"
        ) from exc
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a claim needs at least one value")
    if np.asarray(value).dtype == bool:
        raise TypeError(f"{name} is a boolean array; use ledger.true for a boolean claim")
    return arr


def _as_float(name: str, value: Any) -> float:
    arr = _as_array(name, value)
    if arr.size != 1:
        raise TypeError(f"{name} must be a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def _where(index: tuple[int, ...], size: int) -> str:
    if size == 1:
        return ""
    plain = tuple(int(i) for i in index)  # numpy integers would print as np.int64(3)
    return f" at index {plain if len(plain) > 1 else plain[0]}"


def _require_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
