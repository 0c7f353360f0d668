"""The claim ledger: every checkable statement of a chapter, proved or measured.

A chapter gets its ledger from :func:`kexue_lab.runtime.setup` (``ledger = run.ledger``)
and states each claim as one call, always in the order *statement, what is checked,
what it is checked against*, then keywords:

* ``ledger.prove(statement, relation, domain=...)``: a SymPy relation, written as the
  mathematics (``sp.Eq(lhs, rhs)``, ``lhs <= rhs``), proved exactly;
* ``ledger.approx(statement, ours, expected, rtol=/atol=)``: a computed or measured
  value (a number or an array, compared element by element) within a tolerance;
* ``ledger.bound(statement, ours, "<", limit)``: a bound, written with its operator
  (``"=="`` asks for exact equality, e.g. counts);
* ``ledger.true(statement, condition)``: a boolean (or every entry of a boolean array);
* ``ledger.beside(statement, ours, article, why=...)``: the article's number shown
  beside ours where the settings differ too much for a check (never counted as passed).

Every claim names its ``source`` (``"article eq. (7)"``, ``"paper Table 1"``, ``"ours"``),
either as a keyword or once for a block with ``with ledger.cite("article §2"):``.

A claim that does not hold raises :class:`ClaimError`, naming the claim and showing
expected against got (for arrays: the worst entry), so a notebook cannot run past a
false statement. ``ledger.show()`` renders the table and attaches the records to the
output's metadata, where the book's verification report finds them.
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import sympy as sp

from . import _validate

OPERATORS: tuple[str, ...] = ("==", "<=", "<", ">=", ">")
METADATA_KEY = "kexue_lab"

HOLDS = "✓ holds"
REPRODUCED = "✓ reproduced"
CONTEXT = "· beside (not checked)"

_SHOWN = {"==": "=", "<=": "≤", "<": "<", ">=": "≥", ">": ">"}
Relation = Literal["==", "<=", "<", ">=", ">"]
RELATIONS = OPERATORS
NUMERIC_RELATIONS: tuple[str, ...] = ("≈", "==", "<=", "<", ">=", ">")
_REL_OP = {sp.Eq: "==", sp.Le: "<=", sp.Lt: "<", sp.Ge: ">=", sp.Gt: ">"}


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
    return "" if size == 1 else f" at index {index if len(index) > 1 else index[0]}"


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
        return "SymPy evaluates the relation to True"
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


def _prove_legacy(
    lhs: Any, rhs: Any = 0, relation: Relation = "==", domain: dict | None = None
) -> str:
    """Prove ``lhs <relation> rhs`` with SymPy and return how it was proved.

    * ``==``: ``lhs - rhs`` must simplify to exactly 0 (several simplification
      strategies are tried; numbers are compared exactly, never in floating point).
    * ``<=, <, >=, >``: the gap ``g`` (``rhs - lhs`` for ``<=``) must be shown
      non-negative (or positive) either by SymPy's assumptions on the symbols
      or, for one symbol on an interval, by showing that the set where the
      inequality fails is empty (``solveset``).

    ``domain`` maps symbols to SymPy sets, e.g. ``{x: sp.Interval.open(0, sp.oo)}``.
    Raises :class:`ClaimError` when the statement is false or cannot be proved.
    """
    _validate.choice("relation", relation, RELATIONS)
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    domain = dict(domain or {})
    for sym, dom in domain.items():
        if not isinstance(sym, sp.Symbol) or not isinstance(dom, sp.Set):
            raise TypeError(f"domain must map SymPy symbols to SymPy sets, got {sym!r}: {dom!r}")
    if relation == "==":
        gap, _ = (_assumed(lhs - rhs, domain), None)
        for how, form in _zero_forms(gap):
            if form == 0:
                return f"lhs − rhs = 0 ({how})"
        raise ClaimError(f"SymPy reduces lhs − rhs to {_short(sp.simplify(gap), 200)}, not to 0")

    strict = relation in ("<", ">")
    gap = (rhs - lhs) if relation in ("<", "<=") else (lhs - rhs)
    assumed_gap = _assumed(gap, domain)
    for form in (sp.simplify(assumed_gap), sp.factor(sp.simplify(assumed_gap))):
        ok = form.is_positive if strict else form.is_nonnegative
        if ok:
            return "sign from the domain assumptions"
        if ok is False and not form.free_symbols:
            raise ClaimError(
                f"the gap {relation} evaluates to {_short(form)}, so the inequality is false"
            )
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


class Ledger:
    """The claims of one chapter, in the order the chapter makes them."""

    def __init__(self, chapter: str, title: str = "") -> None:
        if not isinstance(chapter, str) or not chapter.strip():
            raise ValueError(f"chapter must be a non-empty string such as '12', got {chapter!r}")
        self.chapter = chapter
        self.title = title
        self.claims: list[Claim] = []
        self._cited: list[str] = []

    # ---- sources ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def cite(self, source: str) -> Iterator[None]:
        """Within the ``with`` block, claims without a ``source=`` take this one."""
        _require_text("source", source)
        self._cited.append(source)
        try:
            yield
        finally:
            self._cited.pop()

    def _source(self, source: str | None) -> str:
        if source is None:
            if not self._cited:
                raise TypeError(
                    "source is missing: pass source='article eq. (7)' (or 'ours'), or wrap "
                    "the claims in `with ledger.cite(...)`"
                )
            return self._cited[-1]
        _require_text("source", source)
        return source

    # ---- recording ----------------------------------------------------------------------------
    def _add(self, **fields: Any) -> None:
        claim = Claim(chapter=self.chapter, number=len(self.claims) + 1, **fields)
        self.claims.append(claim)
        detail = (
            claim.ours
            if claim.kind != "reported"
            else f"ours {claim.ours}, article {claim.expected}"
        )
        print(f"{claim.verdict.split()[0]} {claim.label} {claim.statement}: {detail}")

    def _fail(self, statement: str, source: str, detail: str) -> ClaimError:
        label = f"{self.chapter}#{len(self.claims) + 1}"
        return ClaimError(f"Claim {label} failed: {statement!r} (source: {source}): {detail}")

    # ---- the kinds of claim -------------------------------------------------------------------
    def prove(
        self,
        statement: str,
        relation: Any,
        *,
        domain: dict | None = None,
        source: str | None = None,
    ) -> None:
        """A SymPy relation, proved exactly: ``ledger.prove("…", sp.Eq(lhs, rhs))``, ``lhs <= rhs``.

        ``domain`` maps symbols to sets (``{x: sp.Interval.open(0, sp.oo)}``); see :func:`prove`.
        """
        _require_text("statement", statement)
        source = self._source(source)
        op, lhs, rhs = ("==", sp.false, sp.true) if relation is sp.false else _relation(relation)
        try:
            how = prove(relation, domain)
        except ClaimError as exc:
            raise self._fail(
                statement, source, f"expected lhs {_SHOWN[op]} rhs with rhs = {_short(rhs)}; {exc}"
            ) from None
        where = ""
        if domain:
            where = " for " + ", ".join(f"{s} ∈ {d}" for s, d in domain.items())
        expected = "true" if lhs is sp.true else f"{_SHOWN[op]} {_short(rhs, 40)}"
        self._add(
            statement=statement,
            source=source,
            kind="symbolic",
            expected=expected + where,
            ours=f"proved: {how}",
            tolerance="exact",
            verdict=HOLDS,
        )

    def approx(
        self,
        statement: str,
        ours: Any,
        expected: Any,
        *,
        rtol: float = 0.0,
        atol: float = 0.0,
        source: str | None = None,
    ) -> None:
        """``|ours − expected| ≤ atol + rtol·|expected|``, element by element for arrays.

        ``ours`` and ``expected`` are numbers, arrays or tensors that broadcast together;
        a failure reports the worst entry. Give ``rtol`` or ``atol`` (from the method's
        precision: grid step, Monte-Carlo standard error, float rounding).
        """
        _require_text("statement", statement)
        source = self._source(source)
        rtol = _validate.non_negative("rtol", rtol)
        atol = _validate.non_negative("atol", atol)
        if rtol >= 1:
            raise ValueError(f"rtol must be < 1 (a 100% tolerance cannot fail), got {rtol}")
        if rtol == 0 and atol == 0:
            raise ValueError(
                "approx needs a tolerance: give rtol or atol (use ledger.bound(..., '==', "
                "...) for exact equality)"
            )
        got, want = _as_array("ours", ours), _as_array("expected", expected)
        if not np.all(np.isfinite(want)):
            raise ValueError(f"expected must be finite, got {expected!r}")
        try:
            got, want = np.broadcast_arrays(got, want)
        except ValueError:
            raise ValueError(
                f"ours (shape {got.shape}) and expected (shape {want.shape}) do not "
                "broadcast together"
            ) from None
        allowed = atol + rtol * np.abs(want)
        excess = np.where(np.isfinite(got), np.abs(got - want) - allowed, np.inf)
        worst = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
        g, w, a = float(got[worst]), float(want[worst]), float(allowed[worst])
        tolerance = f"± {a:.2g}" + (f" ({rtol:.2g} relative)" if rtol else "")
        if not excess[worst] <= 0:
            raise self._fail(
                statement,
                source,
                f"expected {_fmt(w)} ± {a:.3g}{_where(worst, got.size)}, got {_fmt(g)} (off "
                f"by {abs(g - w):.3g})",
            )
        if got.size == 1:
            shown_expected, shown_ours = f"{_fmt(w)} {tolerance}", _fmt(g)
        else:
            shown_expected = f"{got.size} values {tolerance}"
            shown_ours = f"worst{_where(worst, got.size)}: {_fmt(g)} vs {_fmt(w)}"
        self._add(
            statement=statement,
            source=source,
            kind="numeric",
            expected=shown_expected,
            ours=shown_ours,
            tolerance=tolerance,
            verdict=REPRODUCED,
        )

    def bound(
        self, statement: str, ours: Any, op: str, limit: Any, *, source: str | None = None
    ) -> None:
        """``ours <op> limit`` with ``op`` one of ``"<", "<=", ">", ">=", "=="``, for every entry.

        ``"=="`` asks for exact equality (counts, integers); a failure reports the worst entry.
        """
        _require_text("statement", statement)
        source = self._source(source)
        _validate.choice("op", op, OPERATORS)
        got, lim = _as_array("ours", ours), _as_array("limit", limit)
        if not np.all(np.isfinite(lim)):
            raise ValueError(f"limit must be finite, got {limit!r}")
        try:
            got, lim = np.broadcast_arrays(got, lim)
        except ValueError:
            raise ValueError(
                f"ours (shape {got.shape}) and limit (shape {lim.shape}) do not broadcast together"
            ) from None
        with np.errstate(invalid="ignore"):
            ok = {
                "==": got == lim,
                "<": got < lim,
                "<=": got <= lim,
                ">": got > lim,
                ">=": got >= lim,
            }[op]
            ok &= np.isfinite(got)
            # the entry nearest to breaking the bound (or breaking it most)
            margin = {
                "==": -np.abs(got - lim),
                "<": lim - got,
                "<=": lim - got,
                ">": got - lim,
                ">=": got - lim,
            }[op]
        margin = np.where(ok, margin, -np.inf)
        worst = np.unravel_index(int(np.argmin(margin)), margin.shape) if margin.ndim else ()
        g, b = float(got[worst]), float(lim[worst])
        if not ok.all():
            bad = np.unravel_index(int(np.argmin(np.where(ok, 1, 0))), ok.shape) if ok.ndim else ()
            raise self._fail(
                statement,
                source,
                f"expected a value {_SHOWN[op]} {_fmt(float(lim[bad]))}, got "
                f"{_fmt(float(got[bad]))}{_where(bad, got.size)}",
            )
        shown = f"{_SHOWN[op]} {_fmt(b)}"
        if got.size > 1:
            shown = f"all {got.size} values {shown}"
        self._add(
            statement=statement,
            source=source,
            kind="numeric",
            expected=shown,
            ours=_fmt(g) if got.size == 1 else f"nearest{_where(worst, got.size)}: {_fmt(g)}",
            tolerance="exact" if op == "==" else "bound",
            verdict=REPRODUCED,
        )

    def true(self, statement: str, condition: Any, *, source: str | None = None) -> None:
        """A boolean claim: ``condition`` (a bool, or a boolean array/tensor whose entries must all hold)."""
        _require_text("statement", statement)
        source = self._source(source)
        if hasattr(condition, "detach"):
            condition = condition.detach().cpu().numpy()
        arr = np.asarray(condition)
        if arr.dtype != bool or arr.size == 0:
            raise TypeError(
                "condition must be a boolean or a non-empty boolean array, got "
                f"{condition!r} ({type(condition).__name__}); "
                "compare numbers with ledger.approx or ledger.bound"
            )
        if not arr.all():
            bad = np.argwhere(~arr)
            where = (
                ""
                if arr.ndim == 0
                else f" at {len(bad)} of {arr.size} entries (first: index "
                f"{tuple(bad[0]) if arr.ndim > 1 else int(bad[0][0])})"
            )
            raise self._fail(statement, source, f"the condition is False{where}")
        self._add(
            statement=statement,
            source=source,
            kind="numeric",
            expected="true" if arr.size == 1 else f"true for all {arr.size}",
            ours="true",
            tolerance="exact",
            verdict=REPRODUCED,
        )

    def beside(
        self, statement: str, ours: Any, article: Any, *, why: str, source: str | None = None
    ) -> None:
        """Show the article's number beside ours where the settings differ too much to check.

        ``why`` says what differs (data set, model size, budget). The row is listed in the
        ledger and the report but never counted as reproduced.
        """
        _require_text("statement", statement)
        source = self._source(source)
        _require_text("why", why)
        ours_text = ours if isinstance(ours, str) else _fmt(_as_float("ours", ours))
        article_text = article if isinstance(article, str) else _fmt(_as_float("article", article))
        self._add(
            statement=statement,
            source=source,
            kind="reported",
            expected=article_text,
            ours=ours_text,
            tolerance=why,
            verdict=CONTEXT,
        )

    # ---- legacy kinds (removed once every chapter uses the kinds above) ----
    def symbolic(
        self,
        statement: str,
        lhs: Any,
        rhs: Any = 0,
        *,
        relation: Relation = "==",
        domain: dict | None = None,
        source: str,
    ) -> None:
        """Record a claim proved by SymPy: ``lhs <relation> rhs`` (on ``domain``).

        See :func:`prove` for what counts as a proof. ``source`` says where the
        claim comes from (e.g. ``"article eq. (7)"``, ``"brief claim 4"``).
        """
        _require_text("statement", statement)
        _require_text("source", source)
        try:
            how = _prove_legacy(lhs, rhs, relation, domain)
        except ClaimError as exc:
            raise self._fail(
                statement,
                source,
                f"expected lhs {relation} rhs with rhs = {_short(sp.sympify(rhs))}; {exc}",
            ) from None
        where = ""
        if domain:
            where = " for " + ", ".join(f"{s} ∈ {d}" for s, d in domain.items())
        rel = {"==": "=", "<=": "≤", "<": "<", ">=": "≥", ">": ">"}[relation]
        self._add(
            statement=statement,
            source=source,
            kind="symbolic",
            expected=f"{rel} {_short(sp.sympify(rhs), 40)}{where}",
            ours=f"proved: {how}",
            tolerance="exact",
            verdict=HOLDS,
        )

    def numeric(
        self,
        statement: str,
        ours: Any,
        expected: Any,
        *,
        rtol: float = 0.0,
        atol: float = 0.0,
        relation: str = "≈",
        source: str,
    ) -> None:
        """Record a computed or measured number checked against ``expected``.

        ``relation="≈"`` requires ``|ours − expected| <= atol + rtol·|expected|``
        (give ``rtol`` or ``atol``; ``"=="`` asks for exact equality, e.g. counts).
        ``"<", "<=", ">", ">="`` check ``ours <relation> expected`` (a bound).
        """
        _require_text("statement", statement)
        _require_text("source", source)
        _validate.choice("relation", relation, NUMERIC_RELATIONS)
        rtol = _validate.non_negative("rtol", rtol)
        atol = _validate.non_negative("atol", atol)
        if rtol >= 1:
            raise ValueError(f"rtol must be < 1 (a 100% tolerance cannot fail), got {rtol}")
        value = _as_float("ours", ours)
        target = _as_float("expected", expected)
        if not math.isfinite(target):
            raise ValueError(f"expected must be finite, got {expected!r}")
        if relation == "≈":
            if rtol == 0 and atol == 0:
                raise ValueError(
                    "relation '≈' needs a tolerance: give rtol or atol (or use relation '==')"
                )
            allowed = atol + rtol * abs(target)
            ok = math.isfinite(value) and abs(value - target) <= allowed
            tolerance = f"± {allowed:.2g}" + (f" ({rtol:.2g} relative)" if rtol else "")
            detail = f"expected {_fmt(target)} ± {allowed:.3g}, got {_fmt(value)} (off by {abs(value - target):.3g})"
        else:
            if rtol or atol:
                raise ValueError(f"relation {relation!r} is a bound; rtol/atol apply only to '≈'")
            ops = {
                "==": value == target,
                "<": value < target,
                "<=": value <= target,
                ">": value > target,
                ">=": value >= target,
            }
            ok = math.isfinite(value) and ops[relation]
            tolerance = "exact" if relation == "==" else "bound"
            detail = f"expected a value {relation} {_fmt(target)}, got {_fmt(value)}"
        if not ok:
            raise self._fail(statement, source, detail)
        symbol = {"≈": "", "==": "= ", "<": "< ", "<=": "≤ ", ">": "> ", ">=": "≥ "}[relation]
        shown = f"{symbol}{_fmt(target)}" + (f" {tolerance}" if relation == "≈" else "")
        self._add(
            statement=statement,
            source=source,
            kind="numeric",
            expected=shown,
            ours=_fmt(value),
            tolerance=tolerance,
            verdict=REPRODUCED,
        )

    def reported(self, statement: str, ours: Any, article: Any, *, source: str, why: str) -> None:
        """Show the article's number beside ours where the settings differ too much to check.

        ``why`` says what differs (data set, model size, budget). The row is
        listed in the ledger and the report but never counted as reproduced.
        """
        _require_text("statement", statement)
        _require_text("source", source)
        _require_text("why", why)
        ours_text = _fmt(_as_float("ours", ours)) if not isinstance(ours, str) else ours
        article_text = (
            _fmt(_as_float("article", article)) if not isinstance(article, str) else article
        )
        self._add(
            statement=statement,
            source=source,
            kind="reported",
            expected=article_text,
            ours=ours_text,
            tolerance=why,
            verdict=CONTEXT,
        )

    # rendering -------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """The claims as plain dictionaries (what the verification report reads)."""
        return [asdict(c) for c in self.claims]

    def summary(self) -> str:
        """One line: how many claims hold, were reproduced, or are shown beside."""
        kinds = [c.verdict for c in self.claims]
        return (
            f"chapter {self.chapter}: {len(kinds)} claims · {kinds.count(HOLDS)} proved · "
            f"{kinds.count(REPRODUCED)} reproduced · {kinds.count(CONTEXT)} shown beside "
            "the article"
        )

    def to_html(self) -> str:
        """The ledger as an HTML table (with the summary line above it)."""
        summary = html.escape(self.summary())
        table = claims_table_html(self.records())
        return f'<div class="kexue-ledger"><p><strong>{summary}</strong></p>{table}</div>'

    def to_text(self) -> str:
        """The ledger as plain text (terminals, logs)."""
        lines = [self.summary()]
        lines += [
            f"{c.label:>6}  {c.verdict:<24} {c.statement}  [{c.source}]  expected "
            f"{c.expected}; ours {c.ours}"
            for c in self.claims
        ]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        data = {"text/html": self.to_html(), "text/plain": self.to_text()}
        meta = {
            METADATA_KEY: {
                "ledger": {"chapter": self.chapter, "title": self.title, "claims": self.records()}
            }
        }
        return data, meta

    def show(self) -> None:
        """Display the table; the records travel in the output metadata for the report."""
        if not self.claims:
            raise ValueError(
                f"the ledger of chapter {self.chapter} is empty: record claims before showing it"
            )
        from IPython.display import display

        display(self)


def claims_table_html(records: list[dict[str, Any]]) -> str:
    """HTML table of claim records (#, claim, source, expected, ours, verdict), scrollable.

    Used by :meth:`Ledger.to_html` and by the book's verification report.
    """
    head = "".join(f"<th>{h}</th>" for h in ("#", "claim", "source", "expected", "ours", "verdict"))
    rows = []
    for c in records:
        expected = (
            c["expected"]
            if c["kind"] != "reported"
            else f"{c['expected']} (article; {c['tolerance']})"
        )
        cells = (c["number"], c["statement"], c["source"], expected, c["ours"], c["verdict"])
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    return (
        '<div class="kexue-scroll"><table '
        f'class="kexue-ledger-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _require_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
