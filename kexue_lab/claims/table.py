"""The HTML table of claims, shared by the chapters' ledgers and the verification report."""

from __future__ import annotations

import html
from typing import Any


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
