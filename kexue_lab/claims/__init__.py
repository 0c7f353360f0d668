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

from .ledger import Ledger
from .proof import prove
from .record import (
    CONTEXT,
    FAILED,
    HOLDS,
    METADATA_KEY,
    OPERATORS,
    REPRODUCED,
    Claim,
    ClaimError,
)
from .table import claims_table_html

__all__ = [
    "CONTEXT",
    "FAILED",
    "HOLDS",
    "METADATA_KEY",
    "OPERATORS",
    "REPRODUCED",
    "Claim",
    "ClaimError",
    "Ledger",
    "claims_table_html",
    "prove",
]
