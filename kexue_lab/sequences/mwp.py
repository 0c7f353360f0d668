"""Math word problems as expression generation (chapter 39, kexue.fm/archives/7809).

The article trains a seq2seq model to write the arithmetic expression that answers a Chinese
primary-school word problem (Ape210K), then evaluates the expression and compares the value with
the gold answer. This module holds the machinery around the model:

* :func:`safe_eval`: the value of an arithmetic expression, **without** ``eval``: the text is
  parsed with :func:`ast.parse` (``mode="eval"``) and a whitelist of node types is walked by
  hand (numbers, ``+ - * / ** ^``, unary signs, brackets; ``a%`` means ``(a/100)``). Limits
  on length, nesting, exponents and magnitudes make hostile inputs fail fast with ValueError.
* :func:`is_equal`: the article's answer check, ``round(a, 6) == round(b, 6)``;
* :func:`remove_redundant_brackets`: drop every bracket pair whose removal keeps the value;
* :func:`normalize_ape210k`: the article's four normalisation steps and the answer check;
* :data:`CLASSIC` and :func:`classic_answer`: closed forms of six classic problem types.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import sympy as sp

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_DIGITS",
    "safe_eval",
    "is_equal",
    "remove_redundant_brackets",
    "normalize_ape210k",
    "CLASSIC",
    "classic_answer",
]

#: longest expression accepted (characters, after ``a%`` → ``(a/100)``)
MAX_CHARS = 400
#: deepest nesting of brackets and operators accepted
MAX_DEPTH = 60
#: largest |exponent| accepted in ``a ** b``
MAX_EXPONENT = 64
#: largest magnitude accepted for any literal or intermediate value: 10 ** MAX_DIGITS (and, in
#: exact mode, numerators and denominators of at most MAX_DIGITS digits)
MAX_DIGITS = 60

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_LIMIT = 10**MAX_DIGITS


def _check_size(value: Any, exact: bool) -> Any:
    if exact:
        if abs(value.numerator) >= _LIMIT or value.denominator >= _LIMIT:
            raise ValueError(f"an intermediate value has more than {MAX_DIGITS} digits")
        return value
    if not math.isfinite(value) or abs(value) >= _LIMIT:
        raise ValueError(f"an intermediate value exceeds 1e{MAX_DIGITS} in magnitude")
    return value


def _power(base: Any, exp: Any, exact: bool) -> Any:
    if abs(exp) > MAX_EXPONENT:
        raise ValueError(f"exponent {float(exp):g} is beyond the limit ±{MAX_EXPONENT}")
    if base != 0 and float(exp) * math.log10(abs(float(base))) >= MAX_DIGITS:
        raise ValueError(f"a power exceeds 1e{MAX_DIGITS} in magnitude")
    if base == 0 and exp < 0:
        raise ValueError("division by zero (0 to a negative power)")
    if exact:
        if exp.denominator == 1:
            return base ** int(exp)
        root = sp.Rational(base.numerator, base.denominator) ** sp.Rational(
            exp.numerator, exp.denominator
        )
        if not root.is_Rational:
            raise ValueError(f"{base}**({exp}) is not a rational number; use exact=False")
        return Fraction(int(root.p), int(root.q))
    if base < 0 and float(exp) != int(exp):
        raise ValueError("a negative number to a fractional power is not real")
    return float(base) ** float(exp)


def _walk(node: ast.AST, exact: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"the expression nests deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"only numbers are allowed, got the constant {v!r:.40}")
        if exact:
            return _check_size(Fraction(v) if isinstance(v, int) else Fraction(repr(v)), True)
        return _check_size(float(v), False)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        v = _walk(node.operand, exact, depth + 1)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPS):
        a = _walk(node.left, exact, depth + 1)
        b = _walk(node.right, exact, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _check_size(_power(a, b, exact), exact)
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise ValueError("division by zero")
            return _check_size(a / b, exact)
        op = {ast.Add: a.__add__, ast.Sub: a.__sub__, ast.Mult: a.__mul__}[type(node.op)]
        return _check_size(op(b), exact)
    what = type(node.op if isinstance(node, ast.BinOp | ast.UnaryOp) else node).__name__
    raise ValueError(f"{what} is not allowed in an arithmetic expression")


def safe_eval(expr: str, exact: bool = False) -> float | sp.Rational:
    """The value of an arithmetic expression, computed by walking its syntax tree (chapter 39).

    Allowed: int and decimal literals, ``+ - * /``, powers ``**`` and ``^`` (``^`` is power, as
    in school and in the chapter's issue: ``2^3^2 = 2^9``), unary signs, round brackets, and
    percentages ``a%`` = ``(a/100)`` for a literal ``a`` (``150*20%/5%-150`` = 450). Anything
    else (names, calls, attributes, subscripts, strings, lambdas, comprehensions, comparisons,
    ``%`` as modulo) raises ValueError; nothing in ``expr`` is ever executed.

    Limits (ValueError, raised before the work): at most :data:`MAX_CHARS` characters and
    :data:`MAX_DEPTH` levels of nesting, exponents of magnitude at most :data:`MAX_EXPONENT`,
    and literals and intermediate values below ``10**MAX_DIGITS`` (so ``9^9^9`` fails at once).
    Division by zero and non-real powers raise ValueError too.

    ``exact=False`` computes in floats (the article's ``eval``); ``exact=True`` computes with
    fractions (decimals taken exactly, ``0.1 = 1/10``) and returns a :class:`sympy.Rational`,
    the article's SymPy ``Integer`` trick: ``(1+2)/4`` → ``3/4``.
    """
    if not isinstance(expr, str):
        raise ValueError(f"expr must be a string, got {type(expr).__name__}")
    if len(expr) > MAX_CHARS:
        raise ValueError(f"expr has {len(expr)} characters; at most {MAX_CHARS} are allowed")
    text = _PERCENT.sub(r"(\1/100)", expr).replace("^", "**")
    if len(text) > MAX_CHARS or not text.strip():
        raise ValueError(f"expr must be a non-empty expression of at most {MAX_CHARS} characters")
    depth = 0
    for c in text:
        depth += (c == "(") - (c == ")")
        if depth > MAX_DEPTH:
            raise ValueError(f"brackets nest deeper than {MAX_DEPTH} levels")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"not an arithmetic expression: {expr!r:.60} ({exc})") from None
    try:
        value = _walk(tree.body, exact, 0)
    except (ZeroDivisionError, OverflowError, RecursionError) as exc:
        raise ValueError(f"cannot evaluate {expr!r:.60}: {exc}") from None
    return sp.Rational(value.numerator, value.denominator) if exact else float(value)


def is_equal(a: Any, b: Any, ndigits: int = 6) -> bool:
    """The article's answer check: ``round(float(a), ndigits) == round(float(b), ndigits)``."""
    if isinstance(ndigits, bool) or not isinstance(ndigits, int) or ndigits < 0:
        raise ValueError(f"ndigits must be a non-negative int, got {ndigits!r}")
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a and b must be numbers, got {a!r:.30} and {b!r:.30}") from exc
    return round(x, ndigits) == round(y, ndigits)


def _bracket_pairs(expr: str) -> list[tuple[int, int]]:
    """Matched ``(l, r)`` pairs in the order their ``)`` closes (innermost first)."""
    opened, pairs = [], []
    for i, c in enumerate(expr):
        if c == "(":
            opened.append(i)
        elif c == ")":
            if not opened:
                raise ValueError(f"unbalanced brackets in {expr!r:.60}")
            pairs.append((opened.pop(), i))
    if opened:
        raise ValueError(f"unbalanced brackets in {expr!r:.60}")
    return pairs


def remove_redundant_brackets(expr: str, ndigits: int = 6) -> str:
    """Drop each bracket pair whose removal keeps the value (article, "数据处理").

    Pairs are tried once each, in the order their ``)`` closes (innermost first); a pair is
    removed when :func:`is_equal` holds between the new and the *original* value, as in the
    author's ``remove_bucket``. The comparison is to ``ndigits`` decimals, so brackets that change
    the value by less than that are dropped too (chapter 39, errata).
    """
    value = safe_eval(expr)
    chars = list(expr)
    for left, right in _bracket_pairs(expr):
        trial = chars.copy()
        trial[left] = trial[right] = ""
        try:
            if is_equal(safe_eval("".join(trial)), value, ndigits):
                chars = trial
        except ValueError:
            continue
    return "".join(chars)


_MIXED = re.compile(r"(\d+)\((\d+/\d+)\)")


def normalize_ape210k(record: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(question, expression, answer)`` of an Ape210K record, or ``None`` if it fails the check.

    The article's steps ("数据处理"), in the author's order: mixed numbers ``a(b/c)`` →
    ``(a+b/c)`` in question, equation and answer, and ``a(`` → ``a+(`` in equation and answer;
    fractions ``(a/b)`` lose their brackets in the question; percentages ``a%`` → ``(a/100)``;
    colons ``:`` → ``/``; a leading ``x=`` is dropped. The record is kept only if the equation
    and the answer evaluate (with :func:`safe_eval`) to the same value to 6 decimals; the kept
    expression has its redundant brackets removed (:func:`remove_redundant_brackets`).
    """
    if not isinstance(record, Mapping):
        raise TypeError(f"record must be a mapping, got {type(record).__name__}")
    missing = [k for k in ("original_text", "equation", "ans") if k not in record]
    if missing:
        raise ValueError(f"record lacks the field(s) {missing}; Ape210K records have all three")
    question, equation, answer = (str(record[k]) for k in ("original_text", "equation", "ans"))
    question = _MIXED.sub(r"(\1+\2)", question)
    equation, answer = (_MIXED.sub(r"(\1+\2)", s) for s in (equation, answer))
    equation, answer = (re.sub(r"(\d+)\(", r"\1+(", s) for s in (equation, answer))
    question = re.sub(r"\((\d+/\d+)\)", r"\1", question)
    equation, answer = (re.sub(r"([.\d]+)%", r"(\1/100)", s) for s in (equation, answer))
    equation, answer = (s.replace(":", "/").replace("%", "/100") for s in (equation, answer))
    if equation.startswith("x="):
        equation = equation[2:]
    try:
        if not is_equal(safe_eval(equation), safe_eval(answer)):
            return None
        return question, remove_redundant_brackets(equation), answer
    except ValueError:
        return None


#: the six classic types: their unknowns (in order), the quantity asked, and its closed form
CLASSIC: dict[str, dict[str, Any]] = {
    "chickens_rabbits": {"given": ("H", "F"), "asked": "rabbits", "form": "(F-2*H)/2"},
    "surplus_deficit": {"given": ("a", "s", "b", "d"), "asked": "people", "form": "(s+d)/(b-a)"},
    "ages": {"given": ("F", "C", "k"), "asked": "years", "form": "(F-k*C)/(k-1)"},
    "trees": {"given": ("L", "d"), "asked": "trees, both ends", "form": "L/d+1"},
    "cows_grass": {
        "given": ("N1", "D1", "N2", "D2", "N3"),
        "asked": "days",
        "form": "(N1-(N1*D1-N2*D2)/(D1-D2))*D1/(N3-(N1*D1-N2*D2)/(D1-D2))",
    },
    "profit": {"given": ("C", "p", "q"), "asked": "profit", "form": "C*(1+p/100)*q-C"},
}


def classic_answer(kind: str, **given: float) -> float | sp.Rational:
    """The closed form of :data:`CLASSIC` ``[kind]`` at the given numbers, evaluated exactly
    when every number is an int (a :class:`sympy.Rational`), else in floats."""
    if kind not in CLASSIC:
        raise ValueError(f"kind must be one of {sorted(CLASSIC)}, got {kind!r}")
    names = CLASSIC[kind]["given"]
    if set(given) != set(names):
        raise ValueError(f"{kind} needs exactly the numbers {names}, got {sorted(given)}")
    expr = CLASSIC[kind]["form"]
    for name in sorted(names, key=len, reverse=True):
        value = given[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        expr = re.sub(rf"\b{name}\b", f"({value!r})", expr)
    exact = all(isinstance(v, int) for v in given.values())
    return safe_eval(expr, exact=exact)
