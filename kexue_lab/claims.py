"""The claim ledger: every checkable statement of a chapter, proved or measured.

A chapter creates one :class:`Ledger` and sends each claim through it:

* :meth:`Ledger.symbolic` proves an identity or an inequality with SymPy
  (``lhs == rhs``, ``lhs <= rhs`` on a stated domain, a series coefficient);
* :meth:`Ledger.numeric` compares a computed or measured number with the
  article's or paper's value within a stated tolerance, or against a bound;
* :meth:`Ledger.reported` puts the article's number beside ours where the two
  settings differ too much for a check (it is listed, never counted as passed).

A claim that does not hold raises :class:`ClaimError`, naming the claim and
showing expected against got, so a notebook cannot run past a false statement.
:meth:`Ledger.show` renders the table (claim, source, expected, ours, verdict)
and attaches the records to the output's metadata, where the book's generated
verification report finds them.
"""

from __future__ import annotations

import html
import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sympy as sp

from . import _validate

Relation = Literal["==", "<=", "<", ">=", ">"]
RELATIONS: tuple[str, ...] = ("==", "<=", "<", ">=", ">")
NUMERIC_RELATIONS: tuple[str, ...] = ("≈", "==", "<=", "<", ">=", ">")
METADATA_KEY = "kexue_lab"

HOLDS = "✓ holds"
REPRODUCED = "✓ reproduced"
CONTEXT = "· beside (not checked)"


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
    if float(x).is_integer() and abs(x) < 1e12:
        return f"{int(x)}"
    return f"{x:.6g}"


def _as_float(name: str, value: Any) -> float:
    """Turn a Python/NumPy/torch scalar into a float (NaN allowed: it fails the claim)."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a scalar, got an array or tensor with several elements") from exc
    if isinstance(value, sp.Basic):
        if not value.is_number:
            raise TypeError(f"{name} must be a number, got the symbolic expression {value}")
        value = float(value.evalf(30))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def _assumed(expr: sp.Expr, domain: dict[sp.Symbol, sp.Set]) -> tuple[sp.Expr, dict[sp.Symbol, sp.Symbol]]:
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
    return expr.xreplace(swaps), swaps


def _zero_forms(expr: sp.Expr) -> list[tuple[str, sp.Expr]]:
    forms = [("simplify", sp.simplify(expr))]
    forms.append(("expand, simplify", sp.simplify(sp.expand(expr))))
    forms.append(("rewrite in exp, simplify", sp.simplify(expr.rewrite(sp.exp))))
    return forms


def prove(lhs: Any, rhs: Any = 0, relation: Relation = "==", domain: dict | None = None) -> str:
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
        gap, _ = _assumed(lhs - rhs, domain)
        for how, form in _zero_forms(gap):
            if form == 0:
                return f"lhs − rhs = 0 ({how})"
        raise ClaimError(f"SymPy reduces lhs − rhs to {_short(sp.simplify(gap), 200)}, not to 0")

    strict = relation in ("<", ">")
    gap = (rhs - lhs) if relation in ("<", "<=") else (lhs - rhs)
    assumed_gap, swaps = _assumed(gap, domain)
    for form in (sp.simplify(assumed_gap), sp.factor(sp.simplify(assumed_gap))):
        ok = form.is_positive if strict else form.is_nonnegative
        if ok:
            return "sign from the domain assumptions"
        if ok is False and not form.free_symbols:
            raise ClaimError(f"the gap {relation} evaluates to {_short(form)}, so the inequality is false")
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

    def _add(self, **fields: Any) -> None:
        claim = Claim(chapter=self.chapter, number=len(self.claims) + 1, **fields)
        self.claims.append(claim)
        detail = claim.ours if claim.kind != "reported" else f"ours {claim.ours}, article {claim.expected}"
        print(f"{claim.verdict.split()[0]} {claim.label} {claim.statement}: {detail}")

    def _fail(self, statement: str, source: str, detail: str) -> ClaimError:
        label = f"{self.chapter}#{len(self.claims) + 1}"
        return ClaimError(f"Claim {label} failed: {statement!r} (source: {source}): {detail}")

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
            how = prove(lhs, rhs, relation, domain)
        except ClaimError as exc:
            raise self._fail(statement, source, f"expected lhs {relation} rhs with rhs = {_short(sp.sympify(rhs))}; {exc}") from None
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
                raise ValueError("relation '≈' needs a tolerance: give rtol or atol (or use relation '==')")
            allowed = atol + rtol * abs(target)
            ok = math.isfinite(value) and abs(value - target) <= allowed
            tolerance = f"± {allowed:.2g}" + (f" ({rtol:.2g} relative)" if rtol else "")
            detail = f"expected {_fmt(target)} ± {allowed:.3g}, got {_fmt(value)} (off by {abs(value - target):.3g})"
        else:
            if rtol or atol:
                raise ValueError(f"relation {relation!r} is a bound; rtol/atol apply only to '≈'")
            ops = {"==": value == target, "<": value < target, "<=": value <= target, ">": value > target, ">=": value >= target}
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
        article_text = _fmt(_as_float("article", article)) if not isinstance(article, str) else article
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
            f"{kinds.count(REPRODUCED)} reproduced · {kinds.count(CONTEXT)} shown beside the article"
        )

    def to_html(self) -> str:
        """The ledger as an HTML table (with the summary line above it)."""
        return f'<div class="kexue-ledger"><p><strong>{html.escape(self.summary())}</strong></p>{claims_table_html(self.records())}</div>'

    def to_text(self) -> str:
        """The ledger as plain text (terminals, logs)."""
        lines = [self.summary()]
        lines += [f"{c.label:>6}  {c.verdict:<24} {c.statement}  [{c.source}]  expected {c.expected}; ours {c.ours}" for c in self.claims]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        data = {"text/html": self.to_html(), "text/plain": self.to_text()}
        meta = {METADATA_KEY: {"ledger": {"chapter": self.chapter, "title": self.title, "claims": self.records()}}}
        return data, meta

    def show(self) -> None:
        """Display the table; the records travel in the output metadata for the report."""
        if not self.claims:
            raise ValueError(f"the ledger of chapter {self.chapter} is empty: record claims before showing it")
        from IPython.display import display

        display(self)


def claims_table_html(records: list[dict[str, Any]]) -> str:
    """HTML table of claim records (#, claim, source, expected, ours, verdict), horizontally scrollable.

    Used by :meth:`Ledger.to_html` and by the book's verification report.
    """
    head = "".join(f"<th>{h}</th>" for h in ("#", "claim", "source", "expected", "ours", "verdict"))
    rows = []
    for c in records:
        expected = c["expected"] if c["kind"] != "reported" else f"{c['expected']} (article; {c['tolerance']})"
        cells = (c["number"], c["statement"], c["source"], expected, c["ours"], c["verdict"])
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    return (
        f'<div class="kexue-scroll"><table class="kexue-ledger-table"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>'
    )


def _require_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
