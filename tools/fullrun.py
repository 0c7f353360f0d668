"""Run chapters' ``full`` profile without a Jupyter kernel, one after another (a GPU machine).

    python tools/book.py full 14 15 16            # what a GPU session runs
    python tools/book.py full 14 --check          # only the preflight: data and packages

Made for a machine lent for a few minutes with no internet and no Jupyter: it needs only
Python (3.11 or 3.12), torch, numpy, scipy, sympy, matplotlib, scikit-learn and tqdm.

1. **Preflight**, before anything runs: for every chapter, the data sets its code asks for
   (``run.dataset(smoke=…, full=…)``, ``data.load("…")``, with ``KEXUE_FULL_DATA`` applied)
   must be loadable offline (:func:`kexue_lab.data.missing_offline`), and every module its
   code cells import, and those its catalog entry lists under ``full_needs``, must be
   installed. A chapter that lacks something is reported and
   skipped; the others run.
2. **Run**: each chapter in its own Python process (fresh CUDA state, its own time limit),
   in its notebook's folder, with ``KEXUE_PROFILE=full``. The code cells run in order as
   plain Python: ``%``/``!`` lines become ``pass``, ``IPython.display`` is replaced by
   no-ops (ledgers, tables and explorations display nothing; a bare exploration as a cell's
   last expression is never evaluated for display), figures are drawn with the Agg backend
   and closed. Exercise cells are skipped. Every claim still runs: a false one stops the
   chapter with its ``ClaimError``.
3. **Record**: the chapter's ``run.save(...)`` writes ``book/<part>/results/NN-full.json``;
   the tool prints each chapter's time and the record it wrote.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASET_CALL = re.compile(r"dataset\(\s*smoke=\s*\"([^\"]+)\"\s*,\s*full=\s*\"([^\"]+)\"")
LOAD_CALL = re.compile(r"\bload\(\s*\"([a-z0-9-]+)\"")


def notebook(number: str) -> Path:
    """The notebook of chapter ``number`` (``"6"``, ``"06"`` or ``"14"``, or a notebook's path)."""
    if number.endswith(".ipynb"):
        return Path(number).resolve()
    found = sorted((ROOT / "book").glob(f"*/{int(number):02d}-*.ipynb"))
    if not found:
        raise SystemExit(f"chapter {number}: no notebook book/<part>/{int(number):02d}-*.ipynb")
    return found[0]


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(index, Python source) of every code cell that is not part of an exercise."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or cell.get("metadata", {}).get("kexue", {}).get("exercise"):
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = [re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in src.splitlines()]
        out.append((i, "\n".join(lines)))
    return out


def needs(path: Path) -> tuple[set[str], set[str]]:
    """(data set names, top-level modules) the chapter's code asks for under ``full``."""
    override = os.environ.get("KEXUE_FULL_DATA", "").strip()
    datasets: set[str] = set()
    modules: set[str] = set()
    for _, src in code_cells(path):
        for _, full in DATASET_CALL.findall(src):
            datasets.add(override or full)
        datasets.update(LOAD_CALL.findall(src))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules.discard("IPython")  # replaced by no-ops
    catalog = json.loads((ROOT / "kexue_lab" / "catalog.json").read_text(encoding="utf-8"))
    modules.update(catalog.get(path.name[:2], {}).get("full_needs", ()))
    return datasets, modules


def preflight(path: Path) -> list[str]:
    """What chapter ``path`` lacks on this machine (empty: it can run)."""
    from kexue_lab.data import DATASETS, missing_offline

    datasets, modules = needs(path)
    problems = [
        f"module {m!r} is not installed" for m in sorted(modules) if not importlib.util.find_spec(m)
    ]
    for name in sorted(datasets):
        if name not in DATASETS:
            continue  # a name the regex caught that is not a data set
        missing = missing_offline(name)
        if missing:
            problems.append(f"data set {name!r} is not available offline: missing {missing}")
    catalog = json.loads((ROOT / "kexue_lab" / "catalog.json").read_text(encoding="utf-8"))
    for ref in catalog.get(path.name[:2], {}).get("full_data", ()):
        missing = missing_remote(ref)
        if missing:
            problems.append(f"data {ref!r} is not available offline: missing {missing}")
    return problems


def missing_remote(ref: str) -> str | None:
    """What the RemoteDataset named ``"module:NAME"`` lacks on this machine (None: nothing)."""
    from kexue_lab.data import missing_files

    module, _, name = ref.partition(":")
    if not module or not name:
        raise ValueError(f"full_data entries must read 'module:NAME', got {ref!r}")
    return missing_files(getattr(importlib.import_module(module), name))


def _silent_ipython() -> None:
    """Replace IPython.display by no-ops in this process (there is no kernel to show anything)."""
    display = types.ModuleType("IPython.display")
    display.display = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    for name in ("HTML", "Markdown", "Image", "Latex", "Math", "SVG", "JSON"):
        setattr(display, name, lambda *args, **kwargs: None)
    ipython = types.ModuleType("IPython")
    ipython.display = display  # type: ignore[attr-defined]
    ipython.get_ipython = lambda: None  # type: ignore[attr-defined]
    ipython.version_info = (9, 0, 0)  # type: ignore[attr-defined]  # matplotlib reads it
    sys.modules["IPython"], sys.modules["IPython.display"] = ipython, display


def run_one(path: Path, profile: str = "full") -> int:
    """Run the chapter's code cells in order (in this process); 0 on success."""
    os.environ["KEXUE_PROFILE"] = profile
    os.environ.setdefault("MPLBACKEND", "Agg")
    _silent_ipython()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.show = lambda *args, **kwargs: None  # type: ignore[assignment]
    os.chdir(path.parent)
    sys.path.insert(0, str(ROOT))
    namespace: dict = {"__name__": "__main__"}
    for index, src in code_cells(path):
        try:
            exec(compile(src, f"{path.name}[cell {index}]", "exec"), namespace)
        except Exception:
            traceback.print_exc()
            print(f"[full] {path.name}: cell {index} failed", file=sys.stderr, flush=True)
            return 1
        finally:
            plt.close("all")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("chapters", nargs="+", help="chapter numbers, e.g. 14 15 16")
    ap.add_argument("--check", action="store_true", help="only the preflight (data, packages)")
    ap.add_argument(
        "--timeout", type=int, default=600, help="seconds allowed per chapter (default 600)"
    )
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", default="full", choices=["smoke", "full"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        return run_one(notebook(args.chapters[0]), args.profile)

    sys.path.insert(0, str(ROOT))
    # each chapter runs in its own folder: keep the data and library paths absolute
    if os.environ.get("KEXUE_DATA"):
        os.environ["KEXUE_DATA"] = str(Path(os.environ["KEXUE_DATA"]).resolve())
    if os.environ.get("PYTHONPATH"):
        parts = os.environ["PYTHONPATH"].split(os.pathsep)
        os.environ["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in parts if p)
    paths = [notebook(n) for n in args.chapters]
    ready = []
    print("[full] preflight (data sets and packages, no network):")
    for path in paths:
        problems = preflight(path)
        print(f"  {path.name}: " + ("ready" if not problems else "SKIPPED"))
        for p in problems:
            print(f"      - {p}")
        if not problems:
            ready.append(path)
    if args.check or not ready:
        return 0 if len(ready) == len(paths) else 1
    rows = []
    for path in ready:
        record = path.parent / "results" / f"{path.name[:2]}-full.json"
        before = record.stat().st_mtime if record.exists() else None
        print(f"[full] running {path.name} …", flush=True)
        start = time.perf_counter()
        try:
            code = subprocess.run(
                [sys.executable, __file__, "--one", path.name[:2]], timeout=args.timeout
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        seconds = time.perf_counter() - start
        wrote = record.exists() and record.stat().st_mtime != before
        status = "ok" if code == 0 else f"FAILED ({code})"
        rows.append(
            (path.name, status, seconds, record.relative_to(ROOT) if wrote else "no record written")
        )
        print(f"[full] {path.name}: {status} in {seconds:.0f} s", flush=True)
    print("\n[full] summary:")
    for name, status, seconds, rec in rows:
        print(f"  {name:<48} {status:<12} {seconds:7.1f} s  {rec}")
    skipped = len(paths) - len(ready)
    failed = sum(status != "ok" for _, status, _, _ in rows)
    print(f"  {len(rows) - failed} recorded, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
