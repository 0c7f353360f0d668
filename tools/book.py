"""Build the book: stage a copy, execute each notebook once, gather the ledgers, render.

    python tools/book.py build [--strict] [--jobs N]   # the book  -> _build/html/index.html
    python tools/book.py student                       # student notebooks -> _build/student/
    python tools/book.py check-clean                   # fail if a notebook in git holds outputs
    python tools/book.py assign NN … --out COURSE      # an nbgrader assignment (tools/assign.py)
    python tools/book.py mark COURSE                   # autograde it -> COURSE/scores-*.csv
    python tools/book.py full NN [NN …]                # full profiles, no kernel (GPU machine)
    python tools/book.py seeds NN [NN …] --seeds 0 1 2 3 4   # claims at every seed?

``build`` works on a staged copy (``_stage/``), so the notebooks in ``book/``
never receive outputs:

1. **stage**: copy ``_config.yml``, ``_toc.yml`` and ``book/`` to ``_stage/``,
   add MathJax and plotly.js from their pinned PyPI packages (pages then work
   offline), and switch Jupyter Book's own execution off;
2. **execute**: run every chapter once with nbmake (``--overwrite`` stores the
   outputs), with the network cut off (``tools/offline``), the ``smoke`` profile
   and ``KEXUE_BOOK=1`` (explorations render their static version); print each
   notebook's run time;
3. **report**: read the claim ledgers from the executed notebooks and write
   the "Verification report" page;
4. **render**: ``jupyter-book build`` the staged copy (``-W --keep-going`` with
   ``--strict``) and copy the HTML to ``_build/html``.

``student`` stages a copy without solutions, teacher's tests and answer-giving passages (see
``kexue_lab.exercises``),
keeps stubs and checks, adds an exercise summary at the end, and writes the notebooks to
``_build/student/notebooks`` for handing out (no HTML: a student site without outputs would
show less than the book).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

if __name__ == "__main__" and sys.argv[1:2] in (["full"], ["seeds"]):
    # the GPU machine has neither PyYAML nor Jupyter: `full` and `seeds` need none of what follows
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fullrun
    import seeds

    sys.exit({"full": fullrun.main, "seeds": seeds.main}[sys.argv[1]](sys.argv[2:]))

import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import catalog  # noqa: E402
from foldchecks import fold_checks  # noqa: E402

from kexue_lab.claims import claims_table_html  # noqa: E402

ROOT = catalog.ROOT
BUILD = ROOT / "_build"
STAGE = ROOT / "_stage"
STUDENT_STAGE = ROOT / "_stage_student"
MATHJAX_PARTS = [
    "tex-chtml.js",
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "ui",
    "a11y",
    "adaptors",
]


def log(msg: str) -> None:
    print(f"[book] {msg}", flush=True)


# ---- notebooks ----------------------------------------------------------------------------------
def read_nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_nb(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def cell_role(cell: dict) -> tuple[str | None, str | None]:
    """(exercise id, role) of a cell, from its metadata ``{"kexue": {"exercise", "role"}}``."""
    meta = cell.get("metadata", {}).get("kexue", {})
    return meta.get("exercise"), meta.get("role")


SUMMARY_CELLS = [
    {
        "cell_type": "markdown",
        "id": "kexue-summary-text",
        "metadata": {"kexue": {"role": "summary"}},
        "source": [
            "## · Your exercises\n",
            "\n",
            "Each check above printed one line and let the notebook run on; this cell counts them.",
        ],
    },
    {
        "cell_type": "code",
        "execution_count": None,
        "id": "kexue-summary",
        "metadata": {"kexue": {"role": "summary"}},
        "outputs": [],
        "source": ["from kexue_lab.exercises import summary\n", "\n", "summary()"],
    },
]


COLAB_LINK = re.compile(
    r"\[Open in Colab\]\(https://colab\.research\.google\.com/github/[^)]*?(\d\d-[\w-]+\.ipynb)\)"
)


def student_links(text: str, colab_base: str | None) -> str:
    """``text`` with every "Open in Colab" link pointing at ``colab_base``/NN-slug.ipynb, or,
    without a base, replaced by a note (the book's own link opens the notebook with solutions)."""
    if colab_base:
        return COLAB_LINK.sub(lambda m: f"[Open in Colab]({colab_base.rstrip('/')}/{m[1]})", text)
    return COLAB_LINK.sub("open this notebook from where your teacher shared it", text)


def gives_away(cell: dict) -> bool:
    """Whether the cell is a passage marked as giving an exercise's answer away."""
    return bool(cell.get("metadata", {}).get("kexue", {}).get("reveals"))


def student_version(nb: dict) -> dict:
    """The notebook without solutions, teacher's tests and passages that give answers away
    (``{"kexue": {"reveals": "16.3"}}``); stubs and public checks stay, and the notebook ends
    with a summary of the exercises (right, answered, open)."""
    out = dict(nb)
    out["cells"] = [
        c for c in nb["cells"] if cell_role(c)[1] not in ("solution", "tests") and not gives_away(c)
    ]
    if any(cell_role(c)[1] == "check" for c in out["cells"]):
        out["cells"] = out["cells"] + json.loads(json.dumps(SUMMARY_CELLS))
    return out


_STATEMENT = re.compile(
    r"^#### Exercise (?P<num>\d+\.\d+) · (?P<title>[^\n]*)\n+(?P<body>.*)\Z", re.S | re.M
)
_SOLUTION = re.compile(r"\A\*\*Solution (?P<num>\d+\.\d+)\.\*\* (?P<body>.*)\Z", re.S)


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def dress_exercises(nb: dict, chapter: str) -> dict:
    """The book's dressing of the exercises, added when the book is staged.

    The stored notebooks use plain Markdown that Jupyter, Colab and the book all render
    (``#### Exercise 12.1 · Title`` and ``**Solution 12.1.** …``). In the book, a statement
    becomes a numbered exercise box, and a solution becomes one folded box holding the prose
    and the solution's code; the code cell itself still runs (its check needs it) but is not
    shown a second time.
    """
    out = json.loads(json.dumps(nb))
    cells = out["cells"]
    for i, cell in enumerate(cells):
        exercise, role = cell_role(cell)
        if role == "tests":  # the teacher's tests run unseen; their verdict line shows
            meta = cell.setdefault("metadata", {})
            meta["tags"] = sorted({*meta.get("tags", []), "remove-input"})
        if not exercise or cell["cell_type"] != "markdown":
            continue
        label = f"ex-{chapter}-{exercise.split('.')[1]}"
        if role == "statement":
            match = _STATEMENT.search(_text(cell))
            if match is None:
                raise SystemExit(f"exercise {exercise}: the statement must start '#### Exercise'")
            head = _text(cell)[: match.start()]
            practice = " (practice, ungraded)" if cell["metadata"]["kexue"].get("practice") else ""
            box = (
                f"```{{exercise}} {match['num']} · {match['title']}{practice}\n:label: {label}\n"
                f":nonumber:\n{match['body'].rstrip()}\n```"
            )
            cell["source"] = head + box
        elif role == "solution":
            match = _SOLUTION.match(_text(cell))
            if match is None:
                raise SystemExit(f"exercise {exercise}: the solution must start '**Solution'")
            code = []
            for nxt in cells[i + 1 :]:
                if cell_role(nxt) != (exercise, "solution") or nxt["cell_type"] != "code":
                    break
                code.append(_text(nxt).rstrip())
                meta = nxt.setdefault("metadata", {})
                meta["tags"] = sorted({*meta.get("tags", []), "remove-cell"})
            listing = "".join(f"\n\n```python\n{c}\n```" for c in code)
            body = match["body"].rstrip()
            cell["source"] = f"````{{solution}} {label}\n:class: dropdown\n{body}{listing}\n````"
    return out


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks under ``root`` (the repository or a staged copy) in its _toc.yml."""
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    _, chapters = catalog.load()
    return [root / f"{c.stem}.ipynb" for c in chapters if c.written and f"file: {c.stem}\n" in toc]


# ---- stage --------------------------------------------------------------------------------------
def vendor(dest: Path) -> None:
    """Copy MathJax 3 and plotly.js from their PyPI packages into ``dest/_vendor/vendor``."""
    import importlib.util

    target = dest / "_vendor" / "vendor"
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.submodule_search_locations is None:
        raise SystemExit(
            "MathJax is missing: pip install -r requirements.txt (package django-static-mathjax)"
        )
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        src, dst = es5 / part, target / "mathjax" / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    import plotly

    shutil.copy2(
        Path(plotly.__file__).parent / "package_data" / "plotly.min.js", target / "plotly.min.js"
    )


def stage(dest: Path, *, student: bool = False, only: set[int] | None = None) -> None:
    """Copy the book sources to ``dest`` with execution off (and solutions removed for students).

    ``only`` keeps just those chapter numbers in the staged table of contents (quick builds of
    one chapter while writing it).
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__")
    shutil.copytree(ROOT / "book", dest / "book", ignore=ignore)
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    if only:
        toc = _only_chapters(toc, only)
        _unlink_chapters_outside(dest, only)
    (dest / "_toc.yml").write_text(toc, encoding="utf-8")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    if student:
        config["title"] = f"{config['title']} (student edition)"
    (dest / "_config.yml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    vendor(dest)
    for nb_path in chapter_notebooks(dest):
        nb = read_nb(nb_path)  # students get plain Markdown (Jupyter, Colab); the book, its boxes
        if student:
            write_nb(nb_path, student_version(nb))
        else:  # and the claim bookkeeping folded behind one toggle
            write_nb(nb_path, fold_checks(dress_exercises(nb, nb_path.name[:2]))[0])


def _only_chapters(toc_text: str, only: set[int]) -> str:
    """The table of contents restricted to the chapters numbered in ``only`` (back matter kept)."""
    _, chapters = catalog.load()
    keep = {c.stem for c in chapters if c.number in only} | set(catalog.BACK_MATTER)
    data = yaml.safe_load(toc_text)
    for part in data["parts"]:
        part["chapters"] = [entry for entry in part["chapters"] if entry["file"] in keep]
    data["parts"] = [part for part in data["parts"] if part["chapters"]]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)


_CHAPTER_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)\s]*/)?(\d\d)-[a-z0-9-]+\.ipynb(?:#[^)\s]*)?\)")


def _unlink_chapters_outside(dest: Path, only: set[int]) -> None:
    """Turn links to chapters left out of an ``--only`` build into plain text.

    A one-chapter build keeps the intro and the chapter's cross-references, whose links to
    other chapters would otherwise be broken (errors under ``--strict``).
    """

    def unlink(match: re.Match[str]) -> str:
        return match.group(0) if int(match.group(2)) in only else match.group(1)

    for path in [*dest.joinpath("book").rglob("*.md"), *dest.joinpath("book").rglob("*.ipynb")]:
        text = path.read_text(encoding="utf-8")
        new = _CHAPTER_LINK.sub(unlink, text)
        if new != text:
            path.write_text(new, encoding="utf-8")


# ---- execute ------------------------------------------------------------------------------------
def execute(
    dest: Path, *, jobs: int = 1, profile: str = "smoke", offline: bool = True, timeout: int = 300
) -> dict[str, float]:
    """Run every chapter notebook of ``dest`` once with nbmake; return seconds per notebook."""
    notebooks = chapter_notebooks(dest)
    junit = dest / "nbmake-junit.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbmake",
        f"--nbmake-timeout={timeout}",
        "--overwrite",
        "-p",
        "no:cacheprovider",
        "-q",
        "--durations=0",
        f"--junitxml={junit}",
        "--rootdir",
        str(dest),
        *map(str, notebooks),
    ]
    if jobs > 1:
        cmd[3:3] = ["-n", str(jobs)]
    if offline:
        cmd = [str(ROOT / "tools" / "offline"), *cmd]
    env = dict(os.environ, KEXUE_BOOK="1", KEXUE_PROFILE=profile, PYTHONHASHSEED="0")
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", "1")
    log(
        f"executing {len(notebooks)} notebooks ({profile} profile, {jobs} at a time, "
        f"network {'off' if offline else 'on'})"
    )
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=dest, env=env)
    wall = time.perf_counter() - start
    timings = _junit_times(junit)
    width = max((len(k) for k in timings), default=10)
    print("\nnotebook run times (nbmake):")
    for name, secs in sorted(timings.items()):
        flag = "  <-- over the 60 s smoke budget" if profile == "smoke" and secs > 60 else ""
        print(f"  {name:<{width}}  {secs:6.1f} s{flag}")
    print(f"  {'total (wall clock)':<{width}}  {wall:6.1f} s\n", flush=True)
    BUILD.mkdir(exist_ok=True)
    (BUILD / "timings.json").write_text(
        json.dumps(
            {"profile": profile, "jobs": jobs, "wall_seconds": wall, "notebooks": timings}, indent=1
        )
    )
    if proc.returncode != 0:
        raise SystemExit(f"notebook execution failed (pytest exit code {proc.returncode})")
    return timings


def _junit_times(path: Path) -> dict[str, float]:
    """Seconds per notebook from pytest's JUnit XML (nbmake names each test after its notebook)."""
    if not path.exists():
        return {}
    return {
        case.get("name", "?"): float(case.get("time", 0))
        for case in ET.parse(path).getroot().iter("testcase")
    }


# ---- report -------------------------------------------------------------------------------------
def ledgers(notebook: Path) -> list[dict]:
    """Every claim ledger shown in an executed notebook (from the output metadata)."""
    found = []
    for cell in read_nb(notebook)["cells"]:
        for out in cell.get("outputs", []):
            ledger = out.get("metadata", {}).get("kexue_lab", {}).get("ledger")
            if ledger:
                found.append(ledger)
    return found


def report(dest: Path) -> Path:
    """Write ``dest/book/verification.md`` from the ledgers of the executed notebooks."""
    import torch

    by_stem = {c.stem: c for c in catalog.load()[1]}
    sections, totals = (
        [],
        {"claims": 0, "✓ holds": 0, "✓ reproduced": 0, "· beside (not checked)": 0},
    )
    for nb_path in chapter_notebooks(dest):
        c = by_stem[nb_path.relative_to(dest).with_suffix("").as_posix()]
        found = ledgers(nb_path)
        if not any(ledger.get("claims") for ledger in found):
            raise SystemExit(
                f"{c.stem}.ipynb shows no claim ledger (call ledger.show() at the end of "
                "the chapter)"
            )
        claims = [claim for ledger in found for claim in ledger["claims"]]
        counts = {k: sum(cl["verdict"] == k for cl in claims) for k in totals if k != "claims"}
        totals["claims"] += len(claims)
        for k, v in counts.items():
            totals[k] += v
        table = claims_table_html(claims, math=True)
        link = f"{c.stem.removeprefix('book/')}.ipynb"
        sections.append(
            f"## {c.number:02d} · [{c.title}]({link})\n\n{len(claims)} claims: "
            f"{counts['✓ holds']} proved, "
            f"{counts['✓ reproduced']} reproduced, {counts['· beside (not checked)']} shown "
            f"beside the article.\n\n{table}"
        )
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        f"""# Verification report

Every claim the chapters make, gathered from the notebooks as they ran for this build
(smoke profile, CPU, torch {torch.__version__}, built {stamp}). A claim that failed would have
stopped its notebook, so every row below held in this build.

- **✓ holds**: proved with SymPy (an identity, a series coefficient, an inequality on a
  stated domain); the "expected" column shows the proved right-hand side, such as
  $= \\frac{{4 - \\pi}}{{6 \\pi}}$.
- **✓ reproduced**: a number we computed or measured, within the stated tolerance of the article's,
  the paper's or the theory's value (or on the stated side of a bound).
- **· beside**: the article's number shown next to ours where the settings differ too much
  for a check.

**{totals["claims"]} claims** in {len(sections)} chapters: {totals["✓ holds"]} proved,
{totals["✓ reproduced"]} reproduced,
{totals["· beside (not checked)"]} shown beside the article.

"""
        + "\n\n".join(sections)
        + "\n"
    )
    path = dest / "book" / "verification.md"
    path.write_text(page, encoding="utf-8")
    log(f"verification report: {totals['claims']} claims from {len(sections)} chapters")
    return path


# ---- render -------------------------------------------------------------------------------------
def render(dest: Path, html_out: Path, *, strict: bool) -> None:
    """``jupyter-book build`` the staged copy and copy its HTML to ``html_out``."""
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(dest),
        "--path-output",
        str(dest),
    ]
    if strict:
        cmd += ["-W", "--keep-going"]
    log("rendering HTML" + (" (strict: any warning fails)" if strict else ""))
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit(
            "jupyter-book build failed"
            + (" (warnings count as errors with --strict)" if strict else "")
        )
    if html_out.exists():
        shutil.rmtree(html_out)
    shutil.copytree(dest / "_build" / "html", html_out)
    log(f"HTML: {html_out / 'index.html'}")


def check_clean(paths: list[Path] | None = None) -> None:
    """Fail if a notebook tracked by git (or any under book/, outside git) holds outputs."""
    if paths is None:
        try:
            listed = subprocess.run(
                ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.split()
            paths = [ROOT / p for p in listed]
        except (subprocess.CalledProcessError, FileNotFoundError):
            paths = sorted((ROOT / "book").rglob("*.ipynb"))
    dirty = []
    for p in paths:
        for cell in read_nb(p)["cells"]:
            if cell.get("cell_type") == "code" and (
                cell.get("outputs") or cell.get("execution_count") is not None
            ):
                dirty.append(str(p))
                break
    if dirty:
        raise SystemExit(
            "notebooks with stored outputs (strip them: nbstripout FILE):\n  " + "\n  ".join(dirty)
        )
    log(f"{len(paths)} notebooks are stored without outputs")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "build", help="execute every chapter once and render the book to _build/html"
    )
    b.add_argument("--strict", action="store_true", help="any Sphinx warning fails the build (CI)")
    b.add_argument("--jobs", type=int, default=1, help="notebooks executed in parallel")
    b.add_argument(
        "--profile",
        choices=["smoke", "full"],
        default="smoke",
        help="full needs a GPU and the network",
    )
    b.add_argument(
        "--only", default="", help="comma-separated chapter numbers to build alone (e.g. 13,19)"
    )
    b.add_argument("--stage", default=str(STAGE), help="staging folder (default _stage)")
    b.add_argument(
        "--html", default=str(BUILD / "html"), help="where the HTML goes (default _build/html)"
    )
    st = sub.add_parser(
        "student", help="the student edition: solutions removed, stubs and checks kept"
    )
    st.add_argument(
        "--colab-base",
        default="",
        help="where the student notebooks are published (their Open-in-Colab links point "
        "there; without it the links are replaced by a note)",
    )
    sub.add_parser("check-clean", help="fail if a notebook holds stored outputs")
    a = sub.add_parser("assign", help="an nbgrader assignment from chapters (see tools/assign.py)")
    a.add_argument("chapters", nargs="+", help="chapter numbers, e.g. 16 12")
    a.add_argument("--out", required=True, help="the nbgrader course folder to write")
    a.add_argument(
        "--name", default="assignment", help="the assignment's name (default assignment)"
    )
    a.add_argument(
        "--exercises", default="", help="comma-separated exercises (default: all graded)"
    )
    a.add_argument("--points", type=float, default=1.0, help="points per exercise (default 1)")
    a.add_argument(
        "--points-for", default="", help="overrides, e.g. 16.3=3,12.2=2 (exercise=points)"
    )
    a.add_argument(
        "--exercises-only", action="store_true", help="only the title, setup and exercise cells"
    )
    a.add_argument(
        "--colab-base",
        default="",
        help="where the released notebooks are published, e.g. "
        "https://colab.research.google.com/github/ORG/REPO/blob/BRANCH/FOLDER",
    )
    m = sub.add_parser("mark", help="autograde the submissions, write scores-<name>.csv")
    m.add_argument("course", help="the course folder written by assign")
    m.add_argument("--name", default="assignment", help="the assignment's name")
    sub.add_parser(
        "full", help="run chapters' full profile without a kernel (see tools/fullrun.py)"
    )
    args = ap.parse_args(argv)

    if args.command == "check-clean":
        check_clean()
    elif args.command in ("assign", "mark"):
        import assign

        if args.command == "mark":
            log(f"scores: {assign.mark(Path(args.course).resolve(), args.name)}")
            return
        overrides = {}
        for item in filter(None, args.points_for.split(",")):
            ex, _, pts = item.partition("=")
            overrides[ex.strip()] = float(pts)
        release = assign.build(
            args.chapters,
            Path(args.out).resolve(),
            name=args.name,
            exercises=[e.strip() for e in args.exercises.split(",") if e.strip()] or None,
            default_points=args.points,
            points_for=overrides,
            exercises_only=args.exercises_only,
            colab_base=args.colab_base or None,
        )
        log(f"students' notebooks: {release}")
    elif args.command == "build":
        t0 = time.perf_counter()
        dest = Path(args.stage).resolve()
        only = {int(n) for n in args.only.split(",") if n.strip()} or None
        stage(dest, only=only)
        execute(dest, jobs=args.jobs, profile=args.profile, offline=args.profile == "smoke")
        report(dest)
        render(dest, Path(args.html).resolve(), strict=args.strict)
        log(f"done in {time.perf_counter() - t0:.0f} s")
    elif args.command == "student":
        stage(STUDENT_STAGE, student=True)
        out = BUILD / "student" / "notebooks"
        if out.exists():
            shutil.rmtree(out)
        for nb in chapter_notebooks(STUDENT_STAGE):
            target = out / nb.relative_to(STUDENT_STAGE / "book")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(nb, target)
        import nbformat

        for nb in out.rglob("*.ipynb"):  # valid notebooks, ready to open in Jupyter or Colab
            base = args.colab_base.rstrip("/")
            part_base = f"{base}/{nb.parent.name}" if base else None
            nb.write_text(
                student_links(nb.read_text(encoding="utf-8"), part_base), encoding="utf-8"
            )
            nbformat.validate(nbformat.read(nb, as_version=4))
        log(f"student notebooks: {out} (no solutions; each ends with an exercise summary)")


if __name__ == "__main__":
    main()
