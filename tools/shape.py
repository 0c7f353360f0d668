"""The chapter template, checked: every notebook in ``book/`` has the shape of CONTRIBUTING.md.

    python tools/shape.py                      # all chapters: problems and the ledger's share
    python tools/shape.py book/x/12-….ipynb    # one chapter

Checked per chapter: the title cell, the standard setup cell, one imports cell right after it,
the sections in order, ``ledger.show()`` under "## · Claim ledger", no code cell over
``MAX_CELL_LINES`` lines, and no import outside the imports cell except in exercise cells
(which must stand alone). Over all chapters together, the non-blank code lines inside
``ledger.…(…)`` calls must stay under ``MAX_LEDGER_SHARE`` of all non-blank code lines.
``tests/test_shape.py`` runs this in CI.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_CELL_LINES = 30
MAX_LEDGER_SHARE = 0.25
SECTIONS = (
    "## Setup",
    "## 1 · ",
    "## · Explore",
    "## · Exercises",
    "## · Claim ledger",
    "## · Errata and pitfalls",
    "## · References",
)
SETUP = re.compile(
    r"\Atry:\n    import kexue_lab\nexcept ModuleNotFoundError:  # Colab: install the "
    r"book\'s companion package\n"
    r'    %pip install -q "kexue-lab @ git\+https://github\.com/kexue-lab/kexue-lab[^"]*"\n'
    r"from kexue_lab\.runtime import setup\n\n"
    r'run = setup\("(\d\d)", smoke_seconds=\d+(\.\d+)?, full_seconds=\d+(\.\d+)?\)\nledger '
    r"= run\.ledger\n?\Z"
)


@dataclass
class Report:
    path: Path
    problems: list[str] = field(default_factory=list)
    code_lines: int = 0
    ledger_lines: int = 0


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _python(src: str) -> str:
    """Cell source with IPython magics and shell lines blanked out, so ``ast`` can parse it."""
    return "\n".join(
        "pass" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines()
    )


def ledger_spans(src: str) -> tuple[int, int]:
    """(non-blank lines, non-blank lines inside ``ledger.…(…)`` calls) of one code cell."""
    lines = _python(src).splitlines()
    total = sum(1 for line in lines if line.strip())
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return total, 0
    spans: set[int] = set()
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        owner = getattr(func, "value", None)
        if (
            isinstance(node, ast.Call)
            and isinstance(func, ast.Attribute)
            and (
                (isinstance(owner, ast.Name) and owner.id == "ledger")
                or (isinstance(owner, ast.Attribute) and owner.attr == "ledger")
            )
        ):
            spans.update(i for i in range(node.lineno, node.end_lineno + 1) if lines[i - 1].strip())
    return total, len(spans)


def _imports(src: str) -> bool:
    try:
        tree = ast.parse(_python(src))
    except SyntaxError:
        return False
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))


def check(path: Path) -> Report:
    """The shape problems of one chapter notebook, and its code and ledger line counts."""
    report = Report(path)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    bad = report.problems.append
    number = path.name[:2]
    if (
        not cells
        or cells[0]["cell_type"] != "markdown"
        or not _source(cells[0]).startswith(f"# {number} · ")
    ):
        bad(f"the first cell must be the title, '# {number} · English title'")
    code = [(i, c) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    if not code or not SETUP.match(_source(code[0][1])):
        bad("the first code cell is not the standard setup cell (see CONTRIBUTING.md)")
    elif SETUP.match(_source(code[0][1])).group(1) != number:
        bad(f"the setup cell names another chapter than {number}")
    imports_at = code[1][0] if len(code) > 1 else None
    if imports_at is None or not _imports(_source(cells[imports_at])):
        bad("the second code cell must be the imports cell")
    else:
        tree = ast.parse(_python(_source(cells[imports_at])))
        if not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body):
            bad("the imports cell must hold imports only")
    heads = [
        (i, line)
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown"
        for line in _source(c).splitlines()
        if line.startswith("## ")
    ]
    found = []
    for want in SECTIONS:
        at = next((i for i, line in heads if line.startswith(want)), None)
        if at is None:
            bad(f"missing section {want.strip()!r}")
        found.append(at)
    present = [a for a in found if a is not None]
    if present != sorted(present):
        bad("sections out of order; expected " + " → ".join(s.strip() for s in SECTIONS))
    ledger_at = found[SECTIONS.index("## · Claim ledger")]
    if ledger_at is not None:
        nxt = next((c for c in cells[ledger_at + 1 :] if c["cell_type"] == "code"), None)
        if nxt is None or _source(nxt).strip() != "ledger.show()":
            bad("the code cell under '## · Claim ledger' must be exactly ledger.show()")
    for i, cell in code:
        src = _source(cell)
        n = len(src.rstrip("\n").splitlines())
        if n > MAX_CELL_LINES:
            bad(f"cell {i}: {n} code lines (at most {MAX_CELL_LINES})")
        exercise = cell.get("metadata", {}).get("kexue", {}).get("exercise")
        if i not in (code[0][0], imports_at) and not exercise and _imports(src):
            bad(
                f"cell {i}: an import outside the imports cell (only exercise cells import "
                "for themselves)"
            )
        if cell.get("outputs"):
            bad(f"cell {i}: stored outputs")
        total, led = ledger_spans(src)
        report.code_lines += total
        report.ledger_lines += led
    return report


def chapters() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "book").glob("*/[0-9][0-9]-*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or chapters()
    reports = [check(p) for p in paths]
    failed = False
    for r in reports:
        share = r.ledger_lines / r.code_lines if r.code_lines else 0.0
        status = "ok" if not r.problems else f"{len(r.problems)} problem(s)"
        print(
            f"{r.path.name:<48} code {r.code_lines:5d}  ledger {r.ledger_lines:4d} "
            f"({share:5.1%})  {status}"
        )
        for p in r.problems:
            print(f"    - {p}")
        failed |= bool(r.problems)
    code = sum(r.code_lines for r in reports)
    led = sum(r.ledger_lines for r in reports)
    share = led / code if code else 0.0
    print(
        f"all: {led} of {code} non-blank code lines in ledger calls ({share:.1%}; limit "
        f"{MAX_LEDGER_SHARE:.0%})"
    )
    return 1 if failed or share >= MAX_LEDGER_SHARE else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
