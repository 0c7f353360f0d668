"""The classroom round trip: build an nbgrader assignment, submit, mark (no network).

Submissions: every solution (full marks), every stub (zero; it also searches the installed
package for the hidden tests and finds nothing), and one wrong answer (all but its points).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import assign  # noqa: E402

pytest.importorskip("nbgrader")
CHAPTERS = ["16", "18"]
NAME = "week1"

SNOOP = """import pathlib

import kexue_lab

package = pathlib.Path(kexue_lab.__file__).parent
texts = [p.read_text(errors="ignore") for p in package.rglob("*") if p.suffix in (".py", ".json")]
hits = [t for t in texts if "BEGIN HIDDEN TESTS" in t or "BEGIN SOLUTION" in t or "expect_" in t]
hits = [t for t in hits if "def expect_" not in t]  # the helpers themselves hold no answer
print("hits in the installed package:", len(hits))
"""


def _cells(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _answers(source: dict) -> dict[str, str]:
    """grade_id of each answer cell -> the solution code (what a perfect student writes)."""
    out = {}
    for cell in source["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            src = "".join(cell["source"])
            out[meta["grade_id"]] = src.split("### BEGIN SOLUTION\n")[1].split("### END SOLUTION")[
                0
            ]
    return out


def _submit(course: Path, student: str, edit) -> None:
    for release in (course / "release" / NAME).glob("*.ipynb"):
        nb = _cells(release)
        source = _cells(course / "source" / NAME / release.name)
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if gid and gid.endswith("_answer"):
                cell["source"] = edit(gid, "".join(cell["source"]), _answers(source)[gid])
        target = course / "submitted" / student / NAME / release.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    assign.build(CHAPTERS, course, name=NAME, exercises_only=True, points_for={"16.1": 3.0})
    graded = {}
    for ch in CHAPTERS:
        nb = _cells(next((course / "source" / NAME).glob(f"{ch}-*.ipynb")))
        graded.update(
            {
                c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
                for c in nb["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade")
            }
        )
    wrong = "ex16_4_answer"
    _submit(course, "perfect", lambda gid, stub, sol: stub + "\n" + sol)
    # the blank submission also searches the package for hidden tests (one kernel run less)
    _submit(
        course, "blank", lambda gid, stub, sol: SNOOP + stub if gid == "ex16_1_answer" else stub
    )
    _submit(
        course,
        "onewrong",
        lambda gid, stub, sol: stub + "\n" + sol + ("\nmultiplier = 8.0" if gid == wrong else ""),
    )
    scores = assign.mark(course, NAME)
    with scores.open(encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    return course, rows, graded


def test_points_and_the_score_table(marked):
    _, rows, graded = marked
    total = sum(graded.values())
    assert graded["ex16_1_tests"] == 3.0 and total == len(graded) - 1 + 3.0
    assert float(rows["perfect"]["total"]) == total == float(rows["perfect"]["max"])
    assert float(rows["blank"]["total"]) == 0.0


def test_one_wrong_answer_loses_exactly_its_points(marked):
    _, rows, graded = marked
    assert float(rows["onewrong"]["16.4"]) == 0.0
    assert float(rows["onewrong"]["total"]) == sum(graded.values()) - graded["ex16_4_tests"]


def test_the_student_side_holds_no_solution_and_no_hidden_test(marked):
    course, rows, _ = marked
    for release in (course / "release" / NAME).glob("*.ipynb"):
        text = release.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        assert "expect_" not in text and "passed(" not in text
        assert "colab.research.google.com" not in text or "blob/main" not in text
    snooped = _cells(next((course / "autograded" / "blank" / NAME).glob("16-*.ipynb")))
    outputs = "".join(
        o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
        for c in snooped["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
    )
    assert "hits in the installed package: 0" in outputs
    assert float(rows["blank"]["total"]) == 0.0
    shutil.rmtree(course / "autograded", ignore_errors=True)


def test_colab_links_never_open_the_book_with_solutions():
    import book

    link = (
        "[Open in Colab](https://colab.research.google.com/github/kexue-lab/kexue-lab/blob/main/"
        "book/architecture/16-entropy-invariant-attention-scale.ipynb)"
    )
    assert "colab" not in book.student_links(link, None)
    moved = book.student_links(link, "https://colab.research.google.com/github/t/c/blob/s/week1/")
    assert moved.endswith("blob/s/week1/16-entropy-invariant-attention-scale.ipynb)")
