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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book  # noqa: E402
from kexue_lab.exercises import NotYetRight, exercises  # noqa: E402


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
            if exercise and cell["cell_type"] == "code":
                found[exercise][role].append(_source(cell))
            elif exercise:
                found[exercise]["text-" + str(role)].append("".join(cell["source"]))
    return found


EXERCISES = _collect()


def test_every_exercise_has_stub_solution_and_check() -> None:
    assert EXERCISES, "no exercises found in the book"
    for ex, parts in EXERCISES.items():
        for role in ("stub", "solution", "check"):
            assert parts.get(role), f"exercise {ex} has no {role} code cell"
        assert any(t.startswith(f"**Solution {ex}.**") for t in parts.get("text-solution", [])), (
            f"exercise {ex} has no written solution (**Solution {ex}.** …)"
        )
        assert any(f"#### Exercise {ex} · " in t for t in parts.get("text-statement", [])), (
            f"exercise {ex} has no statement (#### Exercise {ex} · Title)"
        )


def test_every_exercise_has_a_checker_and_vice_versa() -> None:
    assert set(EXERCISES) == set(exercises()), (
        "exercises in notebooks and registered checkers differ"
    )


def _run(cells: list[str]) -> None:
    namespace: dict = {"__name__": "__exercise__"}
    for code in cells:
        exec(compile(code, "<exercise cell>", "exec"), namespace)


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_stub_fails_its_check(exercise: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = EXERCISES[exercise]
    monkeypatch.setenv("KEXUE_STRICT_CHECKS", "1")  # a check that is not right raises
    with pytest.raises(NotYetRight):
        _run(parts["stub"] + parts["check"])


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_solution_passes_its_check(exercise: str, capsys: pytest.CaptureFixture[str]) -> None:
    parts = EXERCISES[exercise]
    _run(parts["stub"] + parts["solution"] + parts["check"])
    assert f"✓ Exercise {exercise}: correct." in capsys.readouterr().out


def test_student_edition_drops_solutions_and_keeps_stubs_and_checks() -> None:
    for nb_path in book.chapter_notebooks():
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        student = book.student_version(nb)
        roles = [book.cell_role(c)[1] for c in student["cells"]]
        assert "solution" not in roles
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
    assert f"Exercises checked: {checks}" in last and "right 0" in last, last


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
