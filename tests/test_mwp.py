"""Tests of kexue_lab.sequences.mwp and mwp_data (chapter 39)."""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import os
import random
import subprocess
import time

import pytest
import sympy as sp

from kexue_lab.data import DownloadError
from kexue_lab.sequences import mwp, mwp_data
from kexue_lab.sequences.mwp import (
    is_equal,
    normalize_ape210k,
    remove_redundant_brackets,
    safe_eval,
)


def _random_expr(rng: random.Random, depth: int = 0) -> str:
    """A trusted random expression of numbers, + - * / and brackets (made by the test)."""
    if depth > 3 or rng.random() < 0.3:
        return rng.choice([str(rng.randint(1, 30)), f"{rng.randint(0, 9)}.{rng.randint(1, 99)}"])
    left, right = _random_expr(rng, depth + 1), _random_expr(rng, depth + 1)
    expr = f"{left}{rng.choice('+-*/')}{right}"
    return f"({expr})" if rng.random() < 0.5 else expr


def test_safe_eval_matches_python_on_trusted_expressions():
    rng = random.Random(0)
    for _ in range(300):
        expr = _random_expr(rng)
        try:
            want = eval(expr)  # trusted: the test wrote it  # noqa: S307
        except ZeroDivisionError:
            with pytest.raises(ValueError):
                safe_eval(expr)
            continue
        assert safe_eval(expr) == pytest.approx(want, rel=1e-12, abs=1e-12)
        exact = safe_eval(expr, exact=True)
        assert isinstance(exact, sp.Rational)
        assert exact == sp.sympify(expr, rational=True)  # SymPy's own exact arithmetic


def test_article_examples_powers_and_percentages():
    assert safe_eval("150*20%/5%-150") == pytest.approx(450)
    assert safe_eval("(3.14*(4+1)**2)-(3.14*4**2)") == 28.259999999999998
    assert is_equal(safe_eval("(3.14*(4+1)**2)-(3.14*4**2)"), 28.26)
    assert safe_eval("(1+2)/4", exact=True) == sp.Rational(3, 4)
    assert safe_eval("1/3+1/6", exact=True) == sp.Rational(1, 2)
    assert safe_eval("0.1+0.2", exact=True) == sp.Rational(3, 10)
    assert safe_eval("2^3^2") == 512 == safe_eval("2**3**2")
    assert safe_eval("-2^2") == -4
    assert safe_eval("4^(1/2)", exact=True) == 2
    assert safe_eval("12.5%") == 0.125
    assert safe_eval("150*20%/5%-150", exact=True) == 450


@pytest.mark.parametrize(
    "bad",
    [
        "__import__('os').system('echo hacked')",
        "boom()",
        "().__class__.__bases__[0].__subclasses__()",
        "(1).__class__",
        "lambda: boom()",
        "(lambda: boom())()",
        "[boom() for _ in range(3)]",
        "{boom() for _ in range(3)}",
        "(boom() for _ in range(3))",
        "f'{boom()}'",
        "'a'*10**9",
        "b'x'",
        "x",
        "1 if boom() else 2",
        "(a:=1)",
        "1<2",
        "10 % 3",
        "7//2",
        "1<<64",
        "~1",
        "not 1",
        "[1, 2]",
        "1j",
        "True",
        "None",
        "...",
        "1;2",
        "",
        "9^9^9",
        "9**9**9",
        "10**10**10",
        "2**65",
        "(10**30)*(10**30)*(10**30)",
        "1e300*1e300",
        "(" * 500 + "1" + ")" * 500,
        "-" * 399 + "1",
        "1+" * 300 + "1",
        "9" * 1000,
        "1/0",
        "0**-1",
        "(-8)**(1/3)",
    ],
)
def test_hostile_inputs_raise_fast_and_execute_nothing(bad):
    calls = []

    def spy(name, original):
        def wrapper(*args, **kwargs):
            calls.append((name, args, kwargs))
            if name in ("boom", "system", "Popen"):
                raise AssertionError("something was executed")
            return original(*args, **kwargs)

        return wrapper

    patched = [(builtins, n) for n in ("eval", "exec", "compile", "__import__")]
    patched += [(os, "system"), (subprocess, "Popen")]
    saved = [(obj, n, getattr(obj, n)) for obj, n in patched]
    builtins.boom = spy("boom", None)
    for obj, n, original in saved:
        setattr(obj, n, spy(n, original))
    try:
        start = time.perf_counter()
        for exact in (False, True):
            with pytest.raises(ValueError):
                safe_eval(bad, exact=exact)
        elapsed = time.perf_counter() - start
    finally:
        for obj, n, original in saved:
            setattr(obj, n, original)
        del builtins.boom
    names = [c[0] for c in calls]
    assert not {"boom", "eval", "exec", "system", "Popen"} & set(names), names
    # ast.parse calls compile() with PyCF_ONLY_AST: a syntax tree, never code
    assert all(c[1][3] & ast.PyCF_ONLY_AST for c in calls if c[0] == "compile")
    assert not [c for c in calls if c[0] == "__import__" and c[1][0] in ("os", "subprocess")]
    assert elapsed < 1.0, f"{bad[:40]!r} took {elapsed:.2f} s"


def test_safe_eval_rejects_non_strings():
    for bad in (None, 3, b"1+1", ["1"]):
        with pytest.raises(ValueError, match="expr must be a string"):
            safe_eval(bad)


def test_is_equal_rounds_to_six_decimals():
    assert is_equal(28.259999999999998, "28.26")
    assert not is_equal(1.000001, 1.000002)
    assert is_equal(1.0000001, 1.0000002)
    with pytest.raises(ValueError):
        is_equal("x", 1)
    with pytest.raises(ValueError):
        is_equal(1, 1, ndigits=-1)


def test_remove_redundant_brackets_keeps_the_value():
    rng = random.Random(1)
    for _ in range(200):
        expr = _random_expr(rng)
        try:
            value = eval(expr)  # noqa: S307 (trusted)
        except ZeroDivisionError:
            continue
        short = remove_redundant_brackets(expr)
        assert len(short) <= len(expr)
        assert round(eval(short), 6) == round(value, 6)  # noqa: S307 (trusted)
    assert remove_redundant_brackets("((1+2))") == "1+2"
    assert remove_redundant_brackets("2*(3+4)") == "2*(3+4)"
    assert remove_redundant_brackets("(3.14*(4+1)**2)-(3.14*4**2)") == "3.14*(4+1)**2-3.14*4**2"
    # within the 6-decimal tolerance a bracket that matters is dropped too
    assert remove_redundant_brackets("0.0000001/(2*4)") == "0.0000001/2*4"
    with pytest.raises(ValueError):
        remove_redundant_brackets("(1+2")


RECORDS = [  # hand-made in Ape210K's format (several copied from its test split)
    ({"original_text": "小王要将150千克含药量20%的农药稀释成含药量5%的药水．需要加水多少千克？",
      "ans": "450", "equation": "x=150*20%/5%-150"},
     ("小王要将150千克含药量20%的农药稀释成含药量5%的药水．需要加水多少千克？",
      "150*20/100/(5/100)-150", "450")),
    ({"original_text": "2.75-1(5/6)+3(1/4)-2(1/6)．", "ans": "2",
      "equation": "x=2.75-1(5/6)+3(1/4)-2(1/6)"},
     ("2.75-(1+5/6)+(3+1/4)-(2+1/6)．", "2.75-(1+5/6)+3+1/4-(2+1/6)", "2")),
    ({"original_text": "电冰箱的价钱是洗衣机的(3/5)，一共花了6000元", "ans": "3750",
      "equation": "x=6000/(1+(3/5))"},
     ("电冰箱的价钱是洗衣机的3/5，一共花了6000元", "6000/(1+3/5)", "3750")),
    ({"original_text": "高应该是多少厘米．", "ans": "100", "equation": "(5/5)*100"},
     ("高应该是多少厘米．", "5/5*100", "100")),
    ({"original_text": "(4/7)x-2(5/11)=0.25-(1/28)x．", "ans": "4(5/11)",
      "equation": "x=(2(5/11)+0.25)/(4/7+1/28)"},
     ("4/7x-(2+5/11)=0.25-1/28x．", "(2+5/11+0.25)/(4/7+1/28)", "(4+5/11)")),
    ({"original_text": "男生人数是女生人数的多少", "ans": "150%", "equation": "x=60%/(1-60%)"},
     ("男生人数是女生人数的多少", "60/100/(1-60/100)", "(150/100)")),
    ({"original_text": "比是3:5", "ans": "24", "equation": "x=3:5*40"},
     ("比是3:5", "3/5*40", "24")),
    ({"original_text": "商是多少？", "ans": "(45+39)/(45-39)", "equation": "x=(45+39)/(45-39)"},
     ("商是多少？", "(45+39)/(45-39)", "(45+39)/(45-39)")),
]  # fmt: skip


@pytest.mark.parametrize("record, want", RECORDS)
def test_normalize_ape210k_on_real_format_records(record, want):
    got = normalize_ape210k({"id": "1", "segmented_text": "…", **record})
    assert got == want
    assert is_equal(safe_eval(got[1]), safe_eval(got[2]))


def test_normalize_ape210k_drops_wrong_or_unparsable_records():
    assert normalize_ape210k({"original_text": "q", "ans": "7", "equation": "x=3+3"}) is None
    assert normalize_ape210k({"original_text": "q", "ans": "2", "equation": "x=a+1"}) is None
    assert normalize_ape210k({"original_text": "q", "ans": "??", "equation": "x=1"}) is None
    with pytest.raises(ValueError, match="lacks"):
        normalize_ape210k({"original_text": "q", "equation": "x=1"})
    with pytest.raises(TypeError):
        normalize_ape210k("x=1")


def test_classic_closed_forms_solve_their_linear_systems():
    c, r, n, t, days, g, stock = sp.symbols("c r n t days g G")
    rng = random.Random(2)
    for _ in range(10):
        cc, rr = rng.randint(1, 40), rng.randint(1, 40)
        want = sp.solve([c + r - (cc + rr), 2 * c + 4 * r - (2 * cc + 4 * rr)], [c, r])[r]
        assert mwp.classic_answer("chickens_rabbits", H=cc + rr, F=2 * cc + 4 * rr) == want
        a, b, s, nn = rng.randint(1, 5), rng.randint(6, 9), rng.randint(1, 9), rng.randint(2, 20)
        d = b * nn - (a * nn + s)
        want = sp.solve(a * n + s - (b * n - d), n)[0]
        assert mwp.classic_answer("surplus_deficit", a=a, s=s, b=b, d=d) == want
        ff, cc2, k = rng.randint(30, 50), rng.randint(2, 12), rng.randint(2, 4)
        want = sp.solve(ff + t - k * (cc2 + t), t)[0]
        assert mwp.classic_answer("ages", F=ff, C=cc2, k=k) == want
        n1, d1, n2, d2 = 10 + rng.randint(0, 5), 20, 15 + rng.randint(6, 9), 10
        sol = sp.solve([stock + g * d1 - n1 * d1, stock + g * d2 - n2 * d2], [stock, g])
        want = sp.solve(sol[stock] + sol[g] * days - (sol[g] + 7) * days, days)[0]
        got = mwp.classic_answer("cows_grass", N1=n1, D1=d1, N2=n2, D2=d2, N3=int(sol[g] + 7))
        assert got == want
    assert mwp.classic_answer("chickens_rabbits", H=35, F=94) == 12
    assert mwp.classic_answer("cows_grass", N1=10, D1=20, N2=15, D2=10, N3=25) == 5
    assert mwp.classic_answer("trees", L=100, d=5) == 21
    assert mwp.classic_answer("profit", C=100, p=50, q=0.8) == pytest.approx(20)
    with pytest.raises(ValueError):
        mwp.classic_answer("dragons", H=1)
    with pytest.raises(ValueError):
        mwp.classic_answer("trees", L=100)
    with pytest.raises(ValueError):
        mwp.classic_answer("trees", L="100", d=5)


def test_synthetic_problems_are_consistent_and_balanced():
    recs = mwp_data.make_synthetic_mwp(140, seed=3)
    assert recs == mwp_data.make_synthetic_mwp(140, seed=3)
    assert recs != mwp_data.make_synthetic_mwp(140, seed=4)
    kinds = [r["kind"] for r in recs]
    assert all(kinds.count(k) == 20 for k in mwp_data.KINDS)
    for r in recs:
        assert r["equation"].startswith("x=")
        kept = normalize_ape210k(r)
        assert kept is not None, r
        assert is_equal(safe_eval(kept[1]), safe_eval(r["ans"]))
    for bad in (0, -1, 1.5):
        with pytest.raises((ValueError, TypeError)):
            mwp_data.make_synthetic_mwp(bad)


def test_load_ape210k_refuses_unverified_files(tmp_path):
    rows = [{"id": "1", "original_text": "1+1", "ans": "2", "equation": "x=1+1"}]
    path = tmp_path / "test.ape.json"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert mwp_data.load_ape210k("test", tmp_path, sha256=digest) == rows
    with pytest.raises(DownloadError, match="differs"):
        mwp_data.load_ape210k("test", tmp_path, sha256="0" * 64)
    with pytest.raises(DownloadError, match="no SHA-256 is pinned"):
        mwp_data.load_ape210k("test", tmp_path)
    with pytest.raises(ValueError):
        mwp_data.load_ape210k("dev", tmp_path, sha256=digest)


def test_solver_trains_decodes_and_checks():
    recs = [normalize_ape210k(r) for r in mwp_data.make_synthetic_mwp(70, seed=0)]
    q, e, a = zip(*recs, strict=True)
    solver = mwp_data.Solver([*q, *e], d=32, n_layers=1, n_heads=2)
    losses = solver.fit(q, e, steps=30, batch_size=16, lr=3e-3)
    assert len(losses) == 30 and losses[-1] < losses[0]
    out = solver.solve(q[:5], k=2, max_len=8)
    # at most 8 tokens were written; slots are filled back with numbers of several digits
    assert len(out) == 5 and all(isinstance(s, str) for s in out)
    assert all(len(mwp_data.mask_numbers(s)[0]) <= 8 for s in out)
    correct, parsed = solver.check(["1+1", "2*", "__import__('os')", "3"], ["2", "1", "1", "4"])
    assert correct.tolist() == [True, False, False, False]
    assert parsed.tolist() == [True, False, False, True]
    with pytest.raises(ValueError):
        solver.fit(q, e[:3], steps=1)


def test_mask_and_fill_numbers_round_trip():
    q, e, nums = mwp_data.mask_numbers("鸡兔同笼，35个头，94只脚，35只兔？", "(94-2*35)/2")
    assert q == "鸡兔同笼，①个头，②只脚，①只兔？"
    assert e == "(②-2*①)/2" and nums == ["35", "94"]
    assert mwp_data.fill_numbers(e, nums) == "(94-2*35)/2"
    q, e, nums = mwp_data.mask_numbers("进价1.5元，打8折", "1.5*8/10")
    assert (q, e, nums) == ("进价①元，打②折", "①*②/10", ["1.5", "8"])
    assert mwp_data.fill_numbers("③+1", ["1", "2"]) == "③+1"  # no third number: left alone
    with pytest.raises(ValueError):
        safe_eval(mwp_data.fill_numbers("③+1", ["1", "2"]))
    many = "，".join(str(i) for i in range(30))
    assert len(mwp_data.mask_numbers(many)[2]) == len(mwp_data.SLOTS)
    with pytest.raises(TypeError):
        mwp_data.mask_numbers(3)
    with pytest.raises(ValueError):
        mwp_data.Solver(["1+1"], numbers="words")
