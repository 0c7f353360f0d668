"""Graded assignments for nbgrader: build them from chapters, mark the submissions.

    python tools/book.py assign 16 12 --out COURSE [--name week3] [--exercises 16.1,16.3]
                                [--points 2] [--points-for 16.3=3] [--exercises-only]
    python tools/book.py mark COURSE --name week3      # -> COURSE/scores-week3.csv

``assign`` writes an nbgrader course folder: ``COURSE/source/<name>/NN-slug.ipynb`` (the
teacher's version: solutions and the teacher's tests inside nbgrader's markers),
``COURSE/nbgrader_config.py``, and runs ``nbgrader generate_assignment``, which writes the
student version to ``COURSE/release/<name>/`` (stubs, explanations and public checks; no
solutions, no hidden tests). Per exercise:

* the stub and the solution become one *autograded answer* cell: the stub's lines, then
  ``### BEGIN SOLUTION`` … ``### END SOLUTION`` (the worked solution's prose as comments, then
  its code), which nbgrader strips from the student's copy;
* the public check and the teacher's tests become one *autograder tests* cell worth the
  exercise's points: the check's lines, then ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN
  TESTS``; the student runs the check, the teacher's marking runs both;
* practice exercises (``"practice": true``) and the exercises not chosen are left out, and so
  are passages marked as giving an answer away.

``mark`` runs ``nbgrader autograde`` on ``COURSE/submitted/<student>/<name>/`` and writes one
row per student (a column per exercise, then the total) to ``COURSE/scores-<name>.csv``.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book  # noqa: E402

NBGRADER_CONFIG = """\
c = get_config()  # noqa: F821 (nbgrader's config object)
c.CourseDirectory.course_id = "kexue-lab"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# the stub's own lines stay above the solution region, which nbgrader replaces by this line
c.ClearSolutions.code_stub = {"python": "# your answer: fill in the stub above"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = 300
"""


def _grade_id(exercise: str, part: str) -> str:
    return f"ex{exercise.replace('.', '_')}_{part}"


def _nbgrader(cell: dict, *, grade_id: str, solution: bool, grade: bool, points: float = 0) -> dict:
    meta = cell.setdefault("metadata", {})
    meta["nbgrader"] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": grade,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["nbgrader"]["points"] = points
    return cell


def _code(source: str, meta: dict | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": dict(meta or {}),
        "outputs": [],
        "source": source,
    }


def _comment(markdown: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in markdown.strip().splitlines())


def exercise_ids(nb: dict) -> list[str]:
    """The graded exercises of a chapter notebook, in order (practice ones left out)."""
    seen: list[str] = []
    for cell in nb["cells"]:
        ex, role = book.cell_role(cell)
        if ex and role == "statement" and not cell["metadata"]["kexue"].get("practice"):
            seen.append(ex)
    return seen


def assignment_notebook(
    nb: dict, chosen: list[str], points: dict[str, float], *, exercises_only: bool = False
) -> dict:
    """The teacher's (nbgrader source) version of a chapter with the ``chosen`` exercises."""
    cells = nb["cells"]
    parts: dict[str, dict[str, list[dict]]] = {}
    for cell in cells:
        ex, role = book.cell_role(cell)
        if ex:
            parts.setdefault(ex, {}).setdefault(role, []).append(cell)
    out: list[dict] = []
    done: set[str] = set()
    for i, cell in enumerate(cells):
        ex, role = book.cell_role(cell)
        if book.gives_away(cell):
            continue
        if not ex:
            setup = "from kexue_lab.runtime import setup" in book._text(cell)
            if not exercises_only or i == 0 or setup:  # the title and the setup cell stay
                out.append(json.loads(json.dumps(cell)))
            continue
        if ex not in chosen or ex in done:
            continue
        done.add(ex)
        p = parts[ex]
        out += [json.loads(json.dumps(c)) for c in p["statement"]]
        stub = "\n".join(book._text(c).rstrip() for c in p["stub"])
        prose = "\n".join(
            _comment(book._text(c)) for c in p["solution"] if c["cell_type"] != "code"
        )
        code = "\n\n".join(
            book._text(c).rstrip() for c in p["solution"] if c["cell_type"] == "code"
        )
        answer = f"{stub}\n### BEGIN SOLUTION\n{prose}\n{code}\n### END SOLUTION"
        out.append(
            _nbgrader(_code(answer), grade_id=_grade_id(ex, "answer"), solution=True, grade=False)
        )
        check = "\n".join(book._text(c).rstrip() for c in p["check"])
        tests = "\n".join(book._text(c).rstrip() for c in p["tests"])
        both = f"{check}\n### BEGIN HIDDEN TESTS\n{tests}\n### END HIDDEN TESTS"
        out.append(
            _nbgrader(
                _code(both),
                grade_id=_grade_id(ex, "tests"),
                solution=False,
                grade=True,
                points=points[ex],
            )
        )
    missing = sorted(set(chosen) - done)
    if missing:
        raise SystemExit(f"exercises not found in the chapter: {', '.join(missing)}")
    result = {**nb, "cells": out}
    for n, cell in enumerate(out):
        cell["id"] = f"cell-{n}"
        if cell["cell_type"] == "markdown":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return result


def build(
    chapters: list[str],
    out: Path,
    *,
    name: str = "assignment",
    exercises: list[str] | None = None,
    default_points: float = 1.0,
    points_for: dict[str, float] | None = None,
    exercises_only: bool = False,
    colab_base: str | None = None,
) -> Path:
    """Write the course folder ``out`` and generate the students' release; return the release."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise SystemExit(f"--name must be letters, digits, - or _, got {name!r}")
    notebooks = {p.name[:2]: p for p in book.chapter_notebooks()}
    wanted = [c.zfill(2) for c in chapters]
    unknown = [c for c in wanted if c not in notebooks]
    if unknown:
        raise SystemExit(
            f"no written chapter {', '.join(unknown)}; written: {', '.join(sorted(notebooks))}"
        )
    source = out / "source" / name
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    for ch in wanted:
        nb = book.read_nb(notebooks[ch])
        graded = exercise_ids(nb)
        chosen = [e for e in graded if exercises is None or e in exercises]
        points = {e: float((points_for or {}).get(e, default_points)) for e in chosen}
        teacher = assignment_notebook(nb, chosen, points, exercises_only=exercises_only)
        book.write_nb(source / notebooks[ch].name, teacher)
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"],
        cwd=out,
        check=True,
    )
    release = out / "release" / name
    for path in release.glob("*.ipynb"):  # Colab links open the release, never the book's main
        text = path.read_text(encoding="utf-8")
        path.write_text(book.student_links(text, colab_base), encoding="utf-8")
    return release


def mark(course: Path, name: str) -> Path:
    """Autograde every submission of ``name`` and write the per-student score table (CSV)."""
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", name, "--force"], cwd=course, check=True
    )
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment(name)
        cells = sorted(
            {(nb.name, c.name, c.max_score) for nb in assignment.notebooks for c in nb.grade_cells},
        )
        for student in sorted(s.id for s in gb.students):
            try:
                sub = gb.find_submission(name, student)
            except Exception:  # noqa: BLE001 - a student without a submission
                continue
            row = {"student": student}
            for nb_name, cell, _ in cells:
                grade = gb.find_grade(cell, nb_name, name, student)
                row[cell.removeprefix("ex").removesuffix("_tests").replace("_", ".")] = grade.score
            row["total"] = sub.score
            row["max"] = sub.max_score
            rows.append(row)
    path = course / f"scores-{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=list(rows[0]) if rows else ["student", "total", "max"]
        )
        writer.writeheader()
        writer.writerows(rows)
    return path
