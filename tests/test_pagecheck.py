"""tools/pagecheck.py sees what readers see: it flags broken math, cut lines and wide tables."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import pagecheck  # noqa: E402

pytestmark = pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser")),
    reason="needs Debian's chromium (tools/setup.sh installs it)",
)

PAGE = """<html><head><style>article {{ width: 600px; }}</style></head><body><article>
{body}</article></body></html>"""


def _problems(tmp_path, body):
    page = tmp_path / "page.html"
    page.write_text(PAGE.format(body=body), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return pagecheck.probe(pagecheck.chromium(), page, work)["problems"]


def test_a_clean_page_passes(tmp_path):
    assert (
        _problems(tmp_path, "<p>Plain prose, <code>$HOME</code> and <code>\\\\alpha</code>.</p>")
        == []
    )


def test_the_two_broken_formulas_are_caught(tmp_path):
    # chapter 16 §3: a display equation inside a list item ran into the prose after it
    broken_16 = (
        "<ul><li><p>The <mjx-container>x</mjx-container>\\log n term is the dilution n$."
        "</p></li></ul>"
    )
    # chapter 15, solution 15.3: a line starting with + became a bullet and split the math
    broken_15 = (
        "<p>$\\partial h'/\\partial h = z +</p><ul><li>(1-z)(1-n^2)\\bigl(rU_n\\bigr)$</li></ul>"
    )
    # a claim table's formula outside a span MathJax processes stays as typed
    raw_delimiters = "<table><tr><td>\\(= 0\\)</td></tr></table>"
    for body in (broken_16, broken_15, raw_delimiters):
        problems = _problems(tmp_path, body)
        assert any("unrendered math" in p for p in problems), problems


def test_a_mathjax_error_is_caught(tmp_path):
    # chapter 06 eq. (13): a \\tag in a display that Sphinx wraps in split
    body = '<mjx-container><mjx-merror data-mjx-error="\\tag not allowed in split environment">'
    problems = _problems(tmp_path, body + "x</mjx-merror></mjx-container>")
    assert any("MathJax error: \\tag not allowed" in p for p in problems), problems


def test_cut_lines_and_wide_tables_are_caught(tmp_path):
    long_output = (
        '<div class="cell_output"><pre style="overflow:auto">' + "x" * 400 + "</pre></div>"
    )
    wide_table = "<table><tr><td>" + "y" * 300 + "</td></tr></table>"
    problems = _problems(tmp_path, long_output + wide_table)
    assert any("printed output wider" in p for p in problems), problems
    assert any("table wider" in p for p in problems), problems
