"""The HTML table of claims, shared by the chapters' ledgers and the verification report."""

from __future__ import annotations

import html
from typing import Any


def claims_table_html(records: list[dict[str, Any]], *, math: bool = False) -> str:
    """HTML table of claim records (#, claim, source, expected, ours, verdict), scrollable.

    With ``math=True`` (the built book, where MathJax typesets the page) a symbolic claim's
    expected side shows as a formula, ``\\(= \\frac{4 - \\pi}{6 \\pi}\\)``; otherwise (Jupyter,
    Colab) as SymPy text. Used by :meth:`Ledger.to_html` and by the verification report.
    """
    head = "".join(f"<th>{h}</th>" for h in ("#", "claim", "source", "expected", "ours", "verdict"))
    rows = []
    for c in records:
        expected = (
            c["expected"]
            if c["kind"] != "reported"
            else f"{c['expected']} (article; {c['tolerance']})"
        )
        cells = [html.escape(str(x)) for x in (c["number"], c["statement"], c["source"], expected)]
        cells += [html.escape(str(c["ours"])), html.escape(str(c["verdict"]))]
        tex = c.get("expected_tex", "")
        if math and tex:
            where = c["expected"].partition(" for ")[2]  # the domain, kept as text
            math_span = (
                f'<span class="math notranslate nohighlight">\\({html.escape(tex)}\\)</span>'
            )
            cells[3] = math_span + (f" for {html.escape(where)}" if where else "")
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return (
        '<div class="kexue-scroll"><table '
        f'class="kexue-ledger-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
