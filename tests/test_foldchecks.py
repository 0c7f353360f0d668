"""tools/foldchecks.py: the claim bookkeeping moves behind one toggle, the computation stays."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from foldchecks import TAG, fold_checks, later_reads, machinery, tail_split  # noqa: E402


def _nb(*sources: str, meta: dict | None = None) -> dict:
    cells = [
        {"cell_type": "code", "metadata": dict(meta or {}), "source": s, "outputs": []}
        for s in sources
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _folded(nb: dict) -> list[tuple[str, bool]]:
    out, _ = fold_checks(nb)
    return [(c["source"], TAG in c["metadata"].get("tags", [])) for c in out["cells"]]


def test_tail_of_claims_moves_to_a_tagged_cell():
    claims = '# the claims\nwith ledger.cite("ours"):\n    ledger.approx("y", y, 1.0, rtol=1e-3)'
    src = "y = f(x)\nprint(y)\n" + claims
    assert _folded(_nb(src)) == [("y = f(x)\nprint(y)", False), (claims, True)]


def test_claims_only_cell_is_tagged_whole_and_keeps_its_id():
    nb = _nb('ledger.true("a", a > 0)')
    nb["cells"][0]["id"] = "abc"
    out, n = fold_checks(nb)
    assert n == 1 and out["cells"][0]["id"] == "abc" and TAG in out["cells"][0]["metadata"]["tags"]


def test_tables_of_claims_and_loops_fold_with_them():
    src = (
        "acc = train()\n"
        "rows = [('a', acc, 0.9)]\n"
        "for stmt, ours, limit in rows:\n"
        '    ledger.bound(stmt, ours, ">", limit)'
    )
    assert tail_split(src, set(), {"train"}) == 1  # the experiment stays in view
    assert tail_split(src, set()) == 0  # a call of something else is bookkeeping


def test_machinery_is_what_the_chapter_imports_from_kexue_lab_or_defines():
    cells = [
        "from kexue_lab import data, train\nfrom kexue_lab.x import y as z",
        "def f():\n    pass",
    ]
    assert machinery(cells) == {"run", "data", "train", "z", "f"}
    assert tail_split('floor = run.pick(smoke=1, full=2)\nledger.true("a", a > floor)', set()) == 0


def test_a_name_read_later_stays_in_view():
    src = 'gap = a - b\nledger.bound("gap", gap, "<", 1e-3)'
    assert tail_split(src, {"gap"}) == 1  # `gap` stays; only the claim folds
    assert tail_split(src, set()) == 0


def test_later_reads_ignore_names_a_later_cell_binds_first():
    assert later_reads(["rows = [1]\nfor r in rows:\n    print(r)", "print(gap)"]) == {
        "print",
        "gap",
    }


def test_printing_loops_exercises_and_magics_stay():
    looped = 'for k in ks:\n    print(k)\n    ledger.true("k", k > 0)'
    assert tail_split(looped, set()) is None
    assert tail_split('%pip install x\nledger.true("a", a)', set()) is None
    nb = _nb('ledger.true("a", a)', meta={"kexue": {"exercise": "12.1", "role": "check"}})
    assert fold_checks(nb)[1] == 0


def test_an_expression_that_now_ends_the_cell_is_not_displayed():
    (head, _), (tail, tagged) = _folded(
        _nb('fig = plot()\nfig.tight_layout()\nledger.true("a", a)')
    )
    assert head == "fig = plot()\nfig.tight_layout();" and tagged
    (head, _), _ = _folded(_nb('print(x)  # shown\nledger.true("a", a)'))
    assert head == "print(x)  # shown"


def test_every_chapter_folds_and_still_compiles():
    for path in sorted(ROOT.glob("book/*/[0-9][0-9]-*.ipynb")):
        out, n = fold_checks(json.loads(path.read_text(encoding="utf-8")))
        assert n > 0, path.name
        for cell in out["cells"]:
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            if cell["cell_type"] == "code" and "%pip" not in src:
                compile(src, path.name, "exec")
