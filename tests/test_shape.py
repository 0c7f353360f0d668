"""Every chapter has the template's shape (tools/shape.py); the checker catches what it should."""

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import shape  # noqa: E402

CHAPTERS = shape.chapters()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name[:2] for p in CHAPTERS])
def test_chapter_has_the_template_shape(path):
    report = shape.check(path)
    assert not report.problems, "\n".join(report.problems)


def test_claim_bookkeeping_stays_under_a_quarter_of_the_code():
    reports = [shape.check(p) for p in CHAPTERS]
    code = sum(r.code_lines for r in reports)
    ledger = sum(r.ledger_lines for r in reports)
    assert ledger / code < shape.MAX_LEDGER_SHARE, f"{ledger} of {code} code lines are ledger calls"


def _broken(tmp_path, change):
    nb = json.loads(CHAPTERS[0].read_text(encoding="utf-8"))
    nb = copy.deepcopy(nb)
    change(nb["cells"])
    path = tmp_path / CHAPTERS[0].name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return shape.check(path).problems


def _code(cells):
    return [c for c in cells if c["cell_type"] == "code"]


def test_the_checker_catches_broken_shapes(tmp_path):
    def long_cell(cells):
        _code(cells)[3]["source"] = "\n".join(f"x{i} = {i}" for i in range(31))

    def stray_import(cells):
        _code(cells)[3]["source"] = "import os\n" + "".join(_code(cells)[3]["source"])

    def setup_changed(cells):
        _code(cells)[0]["source"] = "from kexue_lab.runtime import setup\nrun = setup('12')"

    def no_ledger(cells):
        for c in _code(cells):
            if "".join(c["source"]).strip() == "ledger.show()":
                c["source"] = "pass"

    def sections_swapped(cells):
        heads = [c for c in cells if c["cell_type"] == "markdown"]
        for c in heads:
            src = "".join(c["source"])
            if "## · Exercises" in src:
                c["source"] = src.replace("## · Exercises", "## · Claim ledger")
            elif "## · Claim ledger" in src:
                c["source"] = src.replace("## · Claim ledger", "## · Exercises")

    cases = {
        long_cell: "code lines",
        stray_import: "import outside",
        setup_changed: "setup cell",
        no_ledger: "ledger.show()",
        sections_swapped: "out of order",
    }
    for change, words in cases.items():
        problems = _broken(tmp_path, change)
        assert any(words in p for p in problems), (change.__name__, problems)


def test_ledger_lines_are_counted_inside_calls_only():
    src = (
        "x = 1\n"
        "with ledger.cite('ours'):\n"
        "    ledger.approx(\n        'a', x, 1, atol=0.1\n    )\n"
        "    y = 2\n"
    )
    assert shape.ledger_spans(src) == (6, 4)
