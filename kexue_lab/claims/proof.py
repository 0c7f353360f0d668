"""Exact proofs with SymPy: identities simplify to 0, inequalities follow from the domain."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .record import ClaimError, _short

_REL_OP = {sp.Eq: "==", sp.Le: "<=", sp.Lt: "<", sp.Ge: ">=", sp.Gt: ">"}


def _assumed(expr: Any, domain: dict[sp.Symbol, sp.Set]) -> Any:
    """Replace each symbol of ``domain`` by one that carries the domain as assumptions."""
    swaps: dict[sp.Symbol, sp.Symbol] = {}
    for sym, dom in domain.items():
        assumptions: dict[str, bool] = {"real": True}
        if isinstance(dom, sp.Interval):
            if dom.inf == 0 and dom.sup is sp.oo:
                assumptions = {"positive": True} if dom.left_open else {"nonnegative": True}
            elif dom.inf.is_nonnegative and dom.inf > 0:
                assumptions = {"positive": True}
        swaps[sym] = sp.Symbol(sym.name, **assumptions)
    return expr.xreplace(swaps)


def _zero_forms(expr: sp.Expr) -> list[tuple[str, sp.Expr]]:
    return [
        ("simplify", sp.simplify(expr)),
        ("expand, simplify", sp.simplify(sp.expand(expr))),
        ("rewrite in exp, simplify", sp.simplify(expr.rewrite(sp.exp))),
    ]


def _relation(relation: Any) -> tuple[str, Any, Any]:
    """``(operator, lhs, rhs)`` of a SymPy relation; refuses Python booleans with a hint."""
    if isinstance(relation, (bool, np.bool_)):
        raise TypeError(
            "relation must be a SymPy relation such as sp.Eq(lhs, rhs) or lhs <= rhs, got "
            f"the Python boolean {relation!r}: "
            "Python's == compares expression trees, not values; write sp.Eq(lhs, rhs)"
        )
    if relation is sp.true:
        return "==", sp.true, sp.true
    if relation is sp.false:
        raise ClaimError("SymPy evaluated the relation to False as soon as it was written")
    for cls, op in _REL_OP.items():
        if isinstance(relation, cls):
            return op, relation.lhs, relation.rhs
    raise TypeError(
        "relation must be a SymPy relation (sp.Eq(lhs, rhs), lhs <= rhs, lhs < rhs, lhs >= "
        "rhs, lhs > rhs), "
        f"got {relation!r} ({type(relation).__name__})"
    )


def prove(relation: Any, domain: dict | None = None) -> str:
    """Prove a SymPy ``relation`` (``sp.Eq(lhs, rhs)``, ``lhs <= rhs``, …) and return how.

    * equality: ``lhs - rhs`` must simplify to exactly 0 (several strategies are tried;
      numbers are compared exactly, never in floating point);
    * inequality: the gap (``rhs - lhs`` for ``<=``) must be shown non-negative (or
      positive) either by SymPy's assumptions on the symbols or, for one symbol on an
      interval, by showing that the set where the inequality fails is empty (``solveset``).

    ``domain`` maps symbols to SymPy sets, e.g. ``{x: sp.Interval.open(0, sp.oo)}``.
    Raises :class:`ClaimError` when the statement is false or cannot be proved.
    """
    if domain is not None and not isinstance(domain, dict):
        raise TypeError(f"domain must be a dict of SymPy symbols to SymPy sets, got {domain!r}")
    domain = dict(domain or {})
    for sym, dom in domain.items():
        if not isinstance(sym, sp.Symbol) or not isinstance(dom, sp.Set):
            raise TypeError(f"domain must map SymPy symbols to SymPy sets, got {sym!r}: {dom!r}")
    op, lhs, rhs = _relation(relation)
    if lhs is sp.true:
        return "True as written (SymPy)"
    if op == "==":
        gap = _assumed(sp.sympify(lhs) - sp.sympify(rhs), domain)
        for how, form in _zero_forms(gap):
            if form == 0:
                return f"lhs − rhs = 0 ({how})"
        raise ClaimError(f"SymPy reduces lhs − rhs to {_short(sp.simplify(gap), 200)}, not to 0")

    strict = op in ("<", ">")
    gap = (rhs - lhs) if op in ("<", "<=") else (lhs - rhs)
    assumed_gap = _assumed(gap, domain)
    for form in (sp.simplify(assumed_gap), sp.factor(sp.simplify(assumed_gap))):
        ok = form.is_positive if strict else form.is_nonnegative
        if ok:
            return "sign from the domain assumptions"
        if ok is False and not form.free_symbols:
            raise ClaimError(f"the gap evaluates to {_short(form)}, so the inequality is false")
    free = sorted(gap.free_symbols, key=lambda s: s.name)
    if len(free) == 1:
        sym = free[0]
        dom = domain.get(sym, sp.S.Reals)
        bad = sp.solveset(gap <= 0 if strict else gap < 0, sym, dom)
        if bad == sp.S.EmptySet:
            return f"no counterexample in {dom} (solveset)"
        if not isinstance(bad, sp.ConditionSet):
            raise ClaimError(f"the inequality fails for {sym} in {bad}")
    raise ClaimError(
        "SymPy could not prove the inequality; reduce it to one symbol on an interval "
        f"(gap = {_short(sp.simplify(gap), 200)})"
    )
