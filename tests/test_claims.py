"""Tests of kexue_lab.claims: proofs, the five kinds of claim, sources, errors, rendering."""

import json
import math

import numpy as np
import pytest
import sympy as sp
import torch

from kexue_lab.claims import CONTEXT, HOLDS, REPRODUCED, ClaimError, Ledger, prove

x, y = sp.symbols("x y", real=True)
POS = {x: sp.Interval.open(0, sp.oo)}


# ---- prove ------------------------------------------------------------------------------------
def test_identity_is_proved():
    assert "= 0" in prove(sp.Eq(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1))
    assert prove(sp.Eq((1 + sp.exp(-x)) ** -1, (1 + sp.tanh(x / 2)) / 2))


def test_false_identity_raises_with_the_residual():
    with pytest.raises(ClaimError, match="not to 0"):
        prove(sp.Eq(sp.sin(x), sp.cos(x)))


def test_domain_assumptions_are_used():
    with pytest.raises(ClaimError):
        prove(sp.Eq(sp.sqrt(x**2), x))
    assert prove(sp.Eq(sp.sqrt(x**2), x), domain=POS)


def test_inequality_on_an_interval_and_its_failure():
    assert prove(1 / (1 + x) >= sp.Rational(1, 2), domain={x: sp.Interval(0, 1)})
    with pytest.raises(ClaimError, match="fails"):
        prove(1 / (1 + x) >= sp.Rational(1, 2), domain={x: sp.Interval(0, 2)})


def test_inequality_from_assumptions_with_several_symbols():
    m, n = sp.symbols("m n", real=True)
    positive = {m: sp.Interval.open(0, sp.oo), n: sp.Interval.open(0, sp.oo)}
    assert "assumptions" in prove(m * n + 1 > 0, domain=positive)
    with pytest.raises(ClaimError, match="could not prove"):
        prove(m - n >= 0, domain=positive)


def test_relations_that_evaluate_at_once():
    assert "True" in prove(sp.pi > 3)
    with pytest.raises(ClaimError, match="False"):
        prove(sp.pi > 4)


def test_python_booleans_and_other_objects_are_refused():
    with pytest.raises(TypeError, match=r"sp\.Eq"):
        prove(x + 1 == x + 1)  # Python's == compares trees
    with pytest.raises(TypeError, match="relation"):
        prove(x)
    with pytest.raises(TypeError, match="domain"):
        prove(sp.Eq(x, x + 0 * y), domain={"x": (0, 1)})


# ---- the ledger --------------------------------------------------------------------------------
def test_every_kind_records_and_prints(capsys):
    ledger = Ledger("99", "test")
    ledger.prove("Pythagoras", sp.Eq(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1), source="ours")
    ledger.prove("positive", x**2 + 1 > 0, domain=POS, source="ours")
    ledger.approx("pi", math.pi, 3.14159, atol=1e-5, source="ours")
    ledger.bound("bound", 0.2, "<", 0.5, source="ours")
    ledger.bound("count", np.int64(4), "==", 4, source="ours")
    ledger.approx("tensor", torch.tensor(2.0), 2.0, rtol=1e-6, source="ours")
    ledger.true("flag", np.bool_(True), source="ours")
    ledger.beside("CelebA MSE", 0.01, "n/a", source="article", why="different data")
    verdicts = [c.verdict for c in ledger.claims]
    assert verdicts == [HOLDS] * 2 + [REPRODUCED] * 5 + [CONTEXT]
    assert [c.kind for c in ledger.claims] == ["symbolic"] * 2 + ["numeric"] * 5 + ["reported"]
    assert [c.number for c in ledger.claims] == list(range(1, 9))
    assert "99#3" in capsys.readouterr().out
    assert "8 claims" in ledger.summary()
    data, meta = ledger._repr_mimebundle_()
    assert "<table" in data["text/html"] and "Pythagoras" in data["text/plain"]
    assert meta["kexue_lab"]["ledger"]["claims"][2]["statement"] == "pi"


def test_cite_gives_a_default_source_and_nests():
    ledger = Ledger("99")
    with ledger.cite("article eq. (1)"):
        ledger.bound("a", 1, "<", 2)
        with ledger.cite("paper Table 2"):
            ledger.bound("b", 1, "<", 2)
        ledger.bound("c", 1, "<", 2, source="ours")
        ledger.bound("d", 1, "<", 2)
    assert [c.source for c in ledger.claims] == [
        "article eq. (1)",
        "paper Table 2",
        "ours",
        "article eq. (1)",
    ]
    with pytest.raises(TypeError, match="source"):
        ledger.bound("e", 1, "<", 2)
    with pytest.raises(ValueError, match="source"):
        with ledger.cite(""):
            pass


def test_arrays_are_checked_element_by_element_and_the_worst_is_named():
    ledger = Ledger("99")
    ledger.approx("close", np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0005], atol=1e-3, source="ours")
    assert "worst at index 2" in ledger.claims[-1].ours
    with pytest.raises(ClaimError, match=r"index 1.*got 2\.5"):
        ledger.approx("far", [1.0, 2.5, 3.0], [1.0, 2.0, 3.0], atol=0.1, source="ours")
    ledger.approx("2-D", np.eye(2) + 0.1, np.eye(2), atol=0.5, source="ours")
    assert "worst at index (0, 0)" in ledger.claims[-1].ours  # no np.int64(0) in the text
    ledger.bound("all below", torch.tensor([0.1, 0.4]), "<", 0.5, source="ours")
    assert "index 1" in ledger.claims[-1].ours  # the one nearest the bound
    with pytest.raises(ClaimError, match=r"got 0\.7 at index 2"):
        ledger.bound("one above", [0.1, 0.2, 0.7], "<", 0.5, source="ours")
    with pytest.raises(ClaimError, match="2 of 3 entries"):
        ledger.true("mostly false", np.array([True, False, False]), source="ours")
    with pytest.raises(ValueError, match="broadcast"):
        ledger.approx("shapes", np.ones(3), np.ones(2), atol=1, source="ours")


def test_failed_claim_names_claim_expected_and_got_and_is_not_recorded():
    ledger = Ledger("99")
    with pytest.raises(ClaimError, match=r"99#1.*'pi'.*expected 3\.2.*got 3\.14159"):
        ledger.approx("pi", math.pi, 3.2, atol=1e-3, source="ours")
    with pytest.raises(ClaimError, match=r"99#1.*'wrong'"):
        ledger.prove("wrong", sp.Eq(x + 1, x + 2 + 0 * y), source="ours")
    assert ledger.claims == []


def test_nan_never_passes():
    ledger = Ledger("99")
    with pytest.raises(ClaimError):
        ledger.approx("nan", float("nan"), 1.0, rtol=0.5, source="ours")
    with pytest.raises(ClaimError):
        ledger.bound("nan bound", float("nan"), "<", 1.0, source="ours")
    with pytest.raises(ClaimError):
        ledger.bound("nan array", [0.0, float("nan")], ">=", 0.0, source="ours")


def test_argument_errors_name_the_argument():
    ledger = Ledger("99")
    with pytest.raises(ValueError, match="tolerance"):
        ledger.approx("no tol", 1.0, 1.0, source="ours")
    with pytest.raises(ValueError, match="rtol"):
        ledger.approx("wide", 1.0, 1.0, rtol=1.0, source="ours")
    with pytest.raises(ValueError, match="op"):
        ledger.bound("bad op", 1.0, "~", 2.0, source="ours")
    with pytest.raises(ValueError, match="statement"):
        ledger.bound("", 1.0, "<", 2.0, source="ours")
    with pytest.raises(TypeError, match="ledger.true"):
        ledger.approx("bool", True, 1.0, atol=1, source="ours")
    with pytest.raises(TypeError, match="condition"):
        ledger.true("number", 1.0, source="ours")
    with pytest.raises(TypeError, match="ours"):
        ledger.approx("text", "3.1", 1.0, atol=1, source="ours")
    with pytest.raises(ValueError, match="expected"):
        ledger.approx("inf target", 1.0, math.inf, atol=1, source="ours")
    with pytest.raises(ValueError, match="why"):
        ledger.beside("no why", 1.0, 2.0, why="", source="ours")


def test_show_refuses_an_empty_ledger():
    with pytest.raises(ValueError, match="empty"):
        Ledger("99").show()
    with pytest.raises(ValueError, match="chapter"):
        Ledger("")


def test_collect_mode_records_false_claims_and_goes_on(monkeypatch):
    from kexue_lab.claims import FAILED

    monkeypatch.setenv("KEXUE_CLAIMS", "collect")
    ledger = Ledger("99")
    ledger.approx("far", 2.0, 1.0, atol=0.1, source="ours")
    ledger.bound("above", [0.1, 0.9], "<", 0.5, source="ours")
    ledger.true("false", False, source="ours")
    ledger.prove("wrong", sp.Eq(x + 1, x + 2 + 0 * y), source="ours")
    ledger.approx("close", 1.0, 1.0, atol=0.1, source="ours")
    assert [c.verdict for c in ledger.claims] == [FAILED] * 4 + [REPRODUCED]
    assert [c.value for c in ledger.claims] == [2.0, 0.9, 0.0, None, 1.0]
    assert "FAILED" in ledger.summary()


def test_show_writes_the_records_when_asked(monkeypatch, tmp_path):
    out = tmp_path / "ledger.json"
    monkeypatch.setenv("KEXUE_LEDGER_OUT", str(out))
    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    ledger = Ledger("99")
    ledger.bound("b", 0.2, "<", 0.5, source="ours")
    ledger.show()
    data = json.loads(out.read_text())
    assert data["chapter"] == "99" and data["claims"][0]["value"] == 0.2


def test_ledger_table_shows_symbolic_expectations_as_math_in_the_book():
    from kexue_lab.claims import Ledger, claims_table_html

    x = sp.symbols("x", real=True)
    led = Ledger("99")
    with led.cite("ours"):
        _three_proofs(led, x)
    records = led.records()
    book, plain = claims_table_html(records, math=True), claims_table_html(records)
    assert (
        r'<span class="math notranslate nohighlight">\(= \frac{4 - \pi}{6 \pi}\)' in book
        and "\\(" not in plain
    )
    assert r"\(&gt; x\)</span> for x ∈ Interval.open(0, oo)" in book, book
    assert "<td>True</td>" in book


def _three_proofs(led, x):
    c = (sp.Rational(2, 3) - sp.pi / 6) / sp.pi
    led.prove("c = (4 − π)/(6π)", sp.Eq(c, (4 - sp.pi) / (6 * sp.pi), evaluate=False))
    led.prove("x² + 1 > x", x**2 + 1 > x, domain={x: sp.Interval.open(0, sp.oo)})
    led.prove("a number is negative", sp.Integer(-3) < 0)  # SymPy evaluates this at once
