"""Every exercise of the book: the stub fails its check, the solution passes it.

The cells of each exercise are found through their metadata
(``{"kexue": {"exercise": "12.1", "role": "stub" | "solution" | "check"}}``) and run
in a fresh namespace in this process, so they must be self-contained.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book  # noqa: E402
from kexue_lab.exercises import NotYetRight  # noqa: E402


def _source(cell: dict) -> str:
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if re.search(r"^\s*[%!]", text, re.M):
        raise AssertionError(f"exercise cells must be plain Python (no magics):\n{text}")
    return text


def _collect() -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for nb_path in book.chapter_notebooks():
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            exercise, role = book.cell_role(cell)
            if exercise and cell["metadata"]["kexue"].get("practice"):
                found[exercise]["practice"] = ["ungraded"]
            if exercise and cell["cell_type"] == "code":
                found[exercise][role].append(_source(cell))
            elif exercise:
                found[exercise]["text-" + str(role)].append("".join(cell["source"]))
    return found


EXERCISES = _collect()


def test_every_exercise_has_its_five_parts() -> None:
    assert EXERCISES, "no exercises found in the book"
    for ex, parts in EXERCISES.items():
        for role in ("stub", "solution", "check", "tests"):
            assert parts.get(role), f"exercise {ex} has no {role} code cell"
        assert any(t.startswith(f"**Solution {ex}.**") for t in parts.get("text-solution", [])), (
            f"exercise {ex} has no written solution (**Solution {ex}.** …)"
        )
        assert any(f"#### Exercise {ex} · " in t for t in parts.get("text-statement", [])), (
            f"exercise {ex} has no statement (#### Exercise {ex} · Title)"
        )
        assert any(f'passed("{ex}")' in t for t in parts["tests"]), f"{ex}: tests end with passed()"


def _run(cells: list[str]) -> dict:
    namespace: dict = {"__name__": "__exercise__"}
    for code in cells:
        exec(compile(code, "<exercise cell>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_stub_is_open_and_fails_the_teachers_tests(
    exercise: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = EXERCISES[exercise]
    monkeypatch.setenv("KEXUE_STRICT_CHECKS", "1")  # an open or wrong answer raises
    with pytest.raises(NotYetRight):
        _run(parts["stub"] + parts["check"])
    monkeypatch.delenv("KEXUE_STRICT_CHECKS")
    with pytest.raises((AssertionError, NotImplementedError, TypeError)):
        _run(parts["stub"] + parts["tests"])


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_solution_passes_the_check_and_the_teachers_tests(
    exercise: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = EXERCISES[exercise]
    _run(parts["stub"] + parts["solution"] + parts["check"] + parts["tests"])
    out = capsys.readouterr().out
    exact = any("fingerprint=" in c for c in parts["check"])
    verdict = "correct." if exact else "answered."
    assert f"Exercise {exercise}: {verdict}" in out, out
    assert f"✓ Exercise {exercise}: passes the teacher's tests." in out, out


def test_student_edition_drops_solutions_and_keeps_stubs_and_checks() -> None:
    for nb_path in book.chapter_notebooks():
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        student = book.student_version(nb)
        roles = [book.cell_role(c)[1] for c in student["cells"]]
        assert "solution" not in roles and "tests" not in roles
        assert not any(c["metadata"].get("kexue", {}).get("reveals") for c in student["cells"])
        assert roles.count("stub") == [book.cell_role(c)[1] for c in nb["cells"]].count("stub")
        assert roles.count("check") == [book.cell_role(c)[1] for c in nb["cells"]].count("check")
        assert not any("{solution}" in "".join(c["source"]) for c in student["cells"])


def test_a_student_notebook_runs_all_with_every_stub_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run All on a student edition with nothing answered: no error, and the summary last."""
    import nbformat
    from nbclient import NotebookClient

    source = next(p for p in book.chapter_notebooks() if p.name.startswith("18-"))
    student = book.student_version(json.loads(source.read_text(encoding="utf-8")))
    nb = nbformat.reads(json.dumps(student), as_version=4)
    monkeypatch.setenv("CI", "1")  # the smoke profile, one thread
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
    )
    client.execute()  # raises CellExecutionError if any cell fails
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    checks = sum(book.cell_role(c)[1] == "check" for c in nb.cells)
    assert f"Exercises checked: {checks}" in last and "right 0 · answered" in last, last


def test_stored_exercises_are_plain_markdown_and_the_book_dresses_them() -> None:
    for nb_path in book.chapter_notebooks():
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert "{exercise}" not in text and "{solution}" not in text, nb_path.name
        dressed = book.dress_exercises(nb, nb_path.name[:2])
        boxes = "".join("".join(c["source"]) for c in dressed["cells"])
        n = sum(book.cell_role(c)[1] == "statement" for c in nb["cells"])
        assert boxes.count("```{exercise}") == n and boxes.count("````{solution}") == n
        removed = [c for c in dressed["cells"] if "remove-cell" in c["metadata"].get("tags", [])]
        assert all(book.cell_role(c)[1] == "solution" for c in removed) and removed
        verdicts = [c for c in dressed["cells"] if "remove-input" in c["metadata"].get("tags", [])]
        assert {book.cell_role(c)[1] for c in verdicts} == {"tests"}


def _answer_name(stub: str) -> str:
    import ast

    for node in ast.parse(stub).body:
        if isinstance(node, (ast.Assign, ast.FunctionDef)):
            return node.name if isinstance(node, ast.FunctionDef) else node.targets[0].id
    raise AssertionError(f"the stub assigns or defines nothing:\n{stub}")


def _giveaways(value: object, solution_code: list[str]) -> set[str]:
    """Texts that would give ``value`` away: its SymPy and LaTeX forms, its first 4 digits."""
    import sympy as sp

    found: set[str] = set()
    if callable(value):  # a reference implementation: its distinctive lines
        for line in "\n".join(solution_code).splitlines():
            line = line.strip()
            if len(line) > 24 and not line.startswith(("import", "from", "def ", "#", "return")):
                found.add(line)
        return found
    try:
        expr = sp.nsimplify(value) if isinstance(value, float) else sp.sympify(value)
    except (sp.SympifyError, TypeError, ValueError):
        return found
    if not isinstance(value, float):
        found |= {t for t in (sp.sstr(expr), sp.latex(expr)) if len(t) >= 5}
    try:
        digits = f"{abs(float(expr)):.4g}"
    except TypeError:
        return found
    if sum(ch.isdigit() for ch in digits.lstrip("0.").split("e")[0]) >= 3:
        found.add(digits)
    return found


PACKAGE_TEXT = "\n".join(
    p.read_text(encoding="utf-8")
    for p in (ROOT / "kexue_lab").rglob("*")
    if p.suffix in {".py", ".json"}
)


_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_SPLIT = re.compile(r"=|\\approx|\\le(?:q)?|\\ge(?:q)?|<|>|,|;|\\quad|\\qquad|\\text\{[^}]*\}")
_NORMAL = [
    (re.compile(r"\\[td]frac"), r"\\frac"),
    (re.compile(r"\\frac(\d)(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt(\d+)"), r"\\sqrt{\1}"),
    (re.compile(r"\\left|\\right|\\,|\\!|\\;"), ""),
    (re.compile(r"\\pi\b"), "Q"),  # the parser knows no π: a letter, replaced after parsing
    (re.compile(r"(\d)\s*\\(pi|sqrt|log|ln|frac)"), r"\1 \\cdot \\\2"),
    (re.compile(r"(\d|\})\s*\("), r"\1 \\cdot ("),
]


@cache  # a chapter's text is parsed once, not once per exercise (the slowest unit test)
def _math_values(text: str) -> tuple[float, ...]:
    """Every constant the page's LaTeX writes down (each side of =, ≈, ≤, …), evaluated."""
    import sympy as sp
    from sympy.parsing.latex import parse_latex

    values = []
    for match in _MATH.finditer(text):
        for piece in _SPLIT.split(match[1] or match[2]):
            for pattern, repl in _NORMAL:
                piece = pattern.sub(repl, piece)
            if not piece.strip() or not re.search(r"\d", piece):
                continue
            try:
                expr = parse_latex(piece.strip(), backend="lark").subs(sp.Symbol("Q"), sp.pi)
                if not expr.free_symbols:
                    values.append(float(sp.N(expr)))
            except Exception:  # noqa: BLE001 - most fragments are not constants
                continue
    return tuple(values)


_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:e[-+]?\d+)?")


def _four_digits(number: str) -> float:
    return float(f"{float(number):.4g}")


@cache
def _numbers_in(text: str) -> frozenset[float]:
    """Every decimal number written in ``text``, rounded to 4 significant digits."""
    return frozenset(_four_digits(m) for m in _NUMBER.findall(text) if len(m) < 300)


@cache
def _student_text(chapter: Path) -> str:
    """The source of every cell of the chapter's student edition, joined (once per chapter)."""
    student = book.student_version(json.loads(chapter.read_text(encoding="utf-8")))
    return "\n".join("".join(c["source"]) for c in student["cells"])


@pytest.mark.parametrize(
    "exercise",
    # one xdist worker per chapter (tools/test.sh runs --dist loadgroup): its text is parsed once
    [pytest.param(ex, marks=pytest.mark.xdist_group(ex.split(".")[0])) for ex in sorted(EXERCISES)],
)
def test_neither_the_student_edition_nor_the_package_gives_the_answer_away(exercise: str) -> None:
    parts = EXERCISES[exercise]
    if parts.get("practice"):
        pytest.skip(f"{exercise} is ungraded practice")
    value = _run(parts["stub"] + parts["solution"])[_answer_name(parts["stub"][0])]
    chapter = next(
        p
        for p in book.chapter_notebooks()
        if p.name.startswith(f"{int(exercise.split('.')[0]):02d}-")
    )
    text = _student_text(chapter)
    for needle in _giveaways(value, parts["solution"]):
        if _NUMBER.fullmatch(needle):  # a value's first 4 digits: compare numbers, not substrings
            key = _four_digits(needle)  # (so 55.75 in a table does not give away 55.7)
            assert key not in _numbers_in(text), f"{chapter.name}'s student edition shows {needle}"
            assert key not in _numbers_in(PACKAGE_TEXT), f"kexue_lab holds {needle}, see {exercise}"
            continue
        assert needle not in text, f"the student edition of {chapter.name} shows {needle!r}"
        assert needle not in PACKAGE_TEXT, f"kexue_lab holds {needle!r}, the answer to {exercise}"
    if not callable(value):
        try:
            target = float(value)
        except (TypeError, ValueError):
            target = None
        if target is not None and target not in (0.0, 1.0, -1.0):
            shown = [v for v in _math_values(text) if abs(v - target) <= 1e-6 * abs(target)]
            assert not shown, (
                f"a formula in the student edition of {chapter.name} equals {exercise}"
            )
