"""The ledger of one chapter: the five kinds of claim, sources, and its rendering."""

from __future__ import annotations

import contextlib
import html
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import numpy as np
import sympy as sp

from .. import _validate
from .proof import _relation, prove
from .record import (
    _SHOWN,
    _TEX,
    CONTEXT,
    FAILED,
    HOLDS,
    METADATA_KEY,
    MODE_ENV,
    OPERATORS,
    OUT_ENV,
    REPRODUCED,
    TEX_LIMIT,
    Claim,
    ClaimError,
    _as_array,
    _as_float,
    _fmt,
    _require_text,
    _short,
    _where,
)
from .table import claims_table_html


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

    def _fail(
        self, statement: str, source: str, detail: str, kind: str, value: float | None = None
    ) -> None:
        """A false claim: raise :class:`ClaimError`, or record it as failed in collect mode."""
        label = f"{self.chapter}#{len(self.claims) + 1}"
        if os.environ.get(MODE_ENV, "").strip().lower() != "collect":
            raise ClaimError(f"Claim {label} failed: {statement!r} (source: {source}): {detail}")
        self._add(
            statement=statement,
            source=source,
            kind=kind,
            expected=detail,
            ours="",
            tolerance="",
            verdict=FAILED,
            value=value,
        )

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
            detail = f"expected lhs {_SHOWN[op]} rhs with rhs = {_short(rhs)}; {exc}"
            return self._fail(statement, source, detail, "symbolic")
        where = ""
        if domain:
            where = " for " + ", ".join(f"{s} ∈ {d}" for s, d in domain.items())
        if lhs is sp.true:  # SymPy decided the relation when it was written, e.g. `fifth < 0`
            expected, tex = "True", ""
        else:
            expected, tex = f"{_SHOWN[op]} {_short(rhs, 40)}", f"{_TEX[op]} {sp.latex(rhs)}"
        self._add(
            statement=statement,
            source=source,
            kind="symbolic",
            expected=expected + where,
            expected_tex=tex if len(tex) <= TEX_LIMIT else "",
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
            detail = (
                f"expected {_fmt(w)} ± {a:.3g}{_where(worst, got.size)}, got {_fmt(g)} (off "
                f"by {abs(g - w):.3g})"
            )
            return self._fail(statement, source, detail, "numeric", g)
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
            value=g,
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
            detail = (
                f"expected a value {_SHOWN[op]} {_fmt(float(lim[bad]))}, got "
                f"{_fmt(float(got[bad]))}{_where(bad, got.size)}"
            )
            return self._fail(statement, source, detail, "numeric", float(got[bad]))
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
            value=g,
        )

    def true(self, statement: str, condition: Any, *, source: str | None = None) -> None:
        """A boolean claim: ``condition``, a bool or a boolean array or tensor (all must hold)."""
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
            detail = f"the condition is False{where}"
            return self._fail(statement, source, detail, "numeric", float(arr.mean()))
        self._add(
            statement=statement,
            source=source,
            kind="numeric",
            expected="true" if arr.size == 1 else f"true for all {arr.size}",
            ours="true",
            tolerance="exact",
            verdict=REPRODUCED,
            value=1.0,
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
        value = None if isinstance(ours, str) else _as_float("ours", ours)
        ours_text = ours if value is None else _fmt(value)
        article_text = article if isinstance(article, str) else _fmt(_as_float("article", article))
        self._add(
            statement=statement,
            source=source,
            kind="reported",
            expected=article_text,
            ours=ours_text,
            tolerance=why,
            verdict=CONTEXT,
            value=value,
        )

    # rendering -------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """The claims as plain dictionaries (what the verification report reads)."""
        return [asdict(c) for c in self.claims]

    def summary(self) -> str:
        """One line: how many claims hold, were reproduced, or are shown beside."""
        kinds = [c.verdict for c in self.claims]
        failed = f" · {kinds.count(FAILED)} FAILED" if FAILED in kinds else ""
        return (
            f"chapter {self.chapter}: {len(kinds)} claims · {kinds.count(HOLDS)} proved · "
            f"{kinds.count(REPRODUCED)} reproduced · {kinds.count(CONTEXT)} shown beside "
            f"the article{failed}"
        )

    def to_html(self) -> str:
        """The ledger as an HTML table (with the summary line above it)."""
        summary = html.escape(self.summary())
        from ..runtime import in_book_build  # runtime imports this module

        table = claims_table_html(self.records(), math=in_book_build())
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
        """Display the table; the records travel in the output metadata for the report.

        With ``KEXUE_LEDGER_OUT=path`` set, the records are also written there as JSON
        (``tools/book.py seeds`` reads them).
        """
        if not self.claims:
            raise ValueError(
                f"the ledger of chapter {self.chapter} is empty: record claims before showing it"
            )
        out = os.environ.get(OUT_ENV, "").strip()
        if out:
            with open(out, "w", encoding="utf-8") as fh:
                json.dump({"chapter": self.chapter, "claims": self.records()}, fh, indent=1)
        from IPython.display import display

        display(self)
