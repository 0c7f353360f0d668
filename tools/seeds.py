"""Do the chapters' measured claims hold at every seed? Run the smoke profile once per seed.

    python tools/book.py seeds 14 15 --seeds 0 1 2 3 4     # what CONTRIBUTING.md asks of a chapter
    python tools/book.py seeds --seeds $(seq 0 19)          # every chapter, 20 seeds (spreads)

Each (chapter, seed) runs in its own process, without a kernel (as ``tools/book.py full``
does, with the ``smoke`` profile), with ``KEXUE_SEED`` set and ``KEXUE_CLAIMS=collect``, so
a false claim is recorded and the chapter goes on. The tool prints

1. every claim that failed at some seed, with the seeds and the values measured there;
2. the spread of every measured value that changes with the seed (min, mean, max, sd), next
   to the check it must pass, so a tolerance can be set from the spread, not from one draw;

writes them to ``_build/seeds.json`` and exits 1 if a claim failed or a chapter crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fullrun  # noqa: E402

FAILED = "✗ failed"


def run(path: Path, seed: int, folder: Path, timeout: int) -> dict:
    """One smoke run of a chapter at ``seed``: its claim records, time and any crash."""
    out = folder / f"{path.name[:2]}-seed{seed}.json"
    env = dict(
        os.environ,
        KEXUE_SEED=str(seed),
        KEXUE_CLAIMS="collect",
        KEXUE_LEDGER_OUT=str(out),
        KEXUE_BOOK="1",
        CI="1",
        PYTHONHASHSEED="0",
    )
    cmd = [sys.executable, str(Path(fullrun.__file__)), "--one", str(path), "--profile", "smoke"]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        error = "" if done.returncode == 0 else done.stderr.strip().splitlines()[-1:]
    except subprocess.TimeoutExpired:
        error = [f"timed out after {timeout} s"]
    claims = json.loads(out.read_text())["claims"] if out.exists() else []
    return {
        "chapter": path.name[:2],
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "error": " ".join(error) if error else "",
        "claims": claims,
    }


def summarise(runs: list[dict]) -> dict:
    """Per chapter: failures (claim → seeds and values) and spreads of varying values."""
    chapters: dict[str, dict] = {}
    for r in sorted(runs, key=lambda r: (r["chapter"], r["seed"])):
        ch = chapters.setdefault(r["chapter"], {"claims": {}, "errors": {}, "seconds": []})
        ch["seconds"].append(r["seconds"])
        if r["error"]:
            ch["errors"][r["seed"]] = r["error"]
        for c in r["claims"]:
            row = ch["claims"].setdefault(
                c["number"],
                {
                    "statement": c["statement"],
                    "expected": c["expected"],
                    "values": {},
                    "failed": [],
                },
            )
            if c["verdict"] != FAILED and row["expected"] != c["expected"]:
                row["expected"] = c["expected"]
            row["values"][r["seed"]] = c.get("value")
            if c["verdict"] == FAILED:
                row["failed"].append(r["seed"])
    return chapters


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def report(chapters: dict, seeds: list[int]) -> int:
    """Print the two tables; return the number of failed claims plus crashed runs."""
    bad = 0
    print("\nclaims that fail at some seed")
    for number, ch in chapters.items():
        for seed, error in ch["errors"].items():
            print(f"  {number}  seed {seed}: the chapter stopped: {error}")
            bad += 1
        for n, row in ch["claims"].items():
            if row["failed"]:
                bad += 1
                vals = ", ".join(
                    f"{s}: {_fmt(v)}" for s, v in row["values"].items() if v is not None
                )
                print(f"  {number}#{n:<3} {row['statement'][:70]}")
                print(f"        fails at seeds {row['failed']}; check {row['expected']}; {vals}")
    if not bad:
        print("  none")
    print(f"\nmeasured values that change with the seed ({len(seeds)} seeds)")
    print(f"  {'claim':<7} {'min':>10} {'mean':>10} {'max':>10} {'sd':>9}  check · statement")
    for number, ch in chapters.items():
        for n, row in ch["claims"].items():
            vals = [v for v in row["values"].values() if v is not None]
            if len(vals) < 2 or max(vals) == min(vals):
                continue
            sd = statistics.stdev(vals)
            print(
                f"  {number}#{n:<4} {_fmt(min(vals)):>10} {_fmt(statistics.fmean(vals)):>10} "
                f"{_fmt(max(vals)):>10} {_fmt(sd):>9}  {row['expected'][:28]} · "
                f"{row['statement'][:60]}"
            )
    print("\nrun time per chapter (smoke, mean over seeds)")
    for number, ch in chapters.items():
        print(f"  {number}: {statistics.fmean(ch['seconds']):.1f} s")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("chapters", nargs="*", help="chapter numbers (default: every chapter)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run (default 600)")
    ap.add_argument("--out", default=str(ROOT / "_build" / "seeds.json"))
    args = ap.parse_args(argv)
    if any(s < 0 for s in args.seeds):
        ap.error(f"--seeds must be non-negative integers, got {args.seeds}")
    if args.chapters:
        paths = [fullrun.notebook(n) for n in args.chapters]
    else:
        paths = sorted((ROOT / "book").glob("*/[0-9][0-9]-*.ipynb"), key=lambda p: p.name)
    jobs = [(p, s) for p in paths for s in args.seeds]
    print(f"[seeds] {len(paths)} chapters × {len(args.seeds)} seeds, {args.jobs} at a time")
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, p, s, Path(tmp), args.timeout) for p, s in jobs]
        runs = []
        for f in futures:
            runs.append(f.result())
            r = runs[-1]
            status = "stopped: " + r["error"] if r["error"] else "ok"
            print(f"  {r['chapter']} seed {r['seed']}: {r['seconds']:.1f} s, {status}", flush=True)
    chapters = summarise(runs)
    bad = report(chapters, args.seeds)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"seeds": args.seeds, "chapters": chapters}, indent=1))
    print(f"\n[seeds] written to {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
