import math

import numpy as np
import pytest
import sympy as sp
import torch

from kexue_lab.claims import HOLDS, REPRODUCED, ClaimError, Ledger, prove

x, y = sp.symbols("x y", real=True)


def test_identity_is_proved():
    assert "= 0" in prove(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1)
    assert prove((1 + sp.exp(-x)) ** -1, (1 + sp.tanh(x / 2)) / 2)


def test_false_identity_raises_with_the_residual():
    with pytest.raises(ClaimError, match="not to 0"):
        prove(sp.sin(x), sp.cos(x))


def test_domain_assumptions_are_used():
    with pytest.raises(ClaimError):
        prove(sp.sqrt(x**2), x)
    assert prove(sp.sqrt(x**2), x, domain={x: sp.Interval.open(0, sp.oo)})


def test_inequality_on_an_interval_and_its_failure():
    assert prove(1 / (1 + x), sp.Rational(1, 2), ">=", domain={x: sp.Interval(0, 1)})
    with pytest.raises(ClaimError, match="fails"):
        prove(1 / (1 + x), sp.Rational(1, 2), ">=", domain={x: sp.Interval(0, 2)})


def test_inequality_from_assumptions_with_several_symbols():
    m, n = sp.symbols("m n", real=True)
    positive = {m: sp.Interval.open(0, sp.oo), n: sp.Interval.open(0, sp.oo)}
    assert "assumptions" in prove(m * n + 1, 0, ">", domain=positive)
    with pytest.raises(ClaimError, match="could not prove"):
        prove(m - n, 0, ">=", domain=positive)


def test_strict_inequality_with_a_number():
    assert prove(sp.pi, 3, ">")
    with pytest.raises(ClaimError):
        prove(sp.pi, 4, ">")


def test_bad_relation_and_domain():
    with pytest.raises(ValueError, match="relation"):
        prove(x, x, "~")
    with pytest.raises(TypeError, match="domain"):
        prove(x, x, "==", domain={"x": (0, 1)})


def test_ledger_records_and_prints(capsys):
    ledger = Ledger("99", "test")
    ledger.symbolic("Pythagoras", sp.sin(x) ** 2 + sp.cos(x) ** 2, 1, source="ours")
    ledger.numeric("pi", math.pi, 3.14159, atol=1e-5, source="ours")
    ledger.numeric("bound", 0.2, 0.5, relation="<", source="ours")
    ledger.numeric("count", np.int64(4), 4, relation="==", source="ours")
    ledger.numeric("tensor", torch.tensor(2.0), 2.0, rtol=1e-6, source="ours")
    ledger.reported("CelebA MSE", 0.01, "n/a", source="article", why="different data")
    assert [c.verdict for c in ledger.claims][:5] == [HOLDS] + [REPRODUCED] * 4
    assert [c.number for c in ledger.claims] == [1, 2, 3, 4, 5, 6]
    assert "99#2" in capsys.readouterr().out
    assert "6 claims" in ledger.summary()
    data, meta = ledger._repr_mimebundle_()
    assert "<table" in data["text/html"] and "Pythagoras" in data["text/plain"]
    assert meta["kexue_lab"]["ledger"]["claims"][1]["statement"] == "pi"


def test_failed_numeric_claim_names_claim_expected_and_got():
    ledger = Ledger("99")
    with pytest.raises(ClaimError, match=r"99#1.*'pi'.*expected 3\.2.*got 3\.14159"):
        ledger.numeric("pi", math.pi, 3.2, atol=1e-3, source="ours")
    assert ledger.claims == []


def test_nan_never_passes():
    ledger = Ledger("99")
    with pytest.raises(ClaimError):
        ledger.numeric("nan", float("nan"), 1.0, rtol=0.5, source="ours")
    with pytest.raises(ClaimError):
        ledger.numeric("nan bound", float("nan"), 1.0, relation="<", source="ours")


def test_numeric_argument_errors():
    ledger = Ledger("99")
    with pytest.raises(ValueError, match="tolerance"):
        ledger.numeric("no tol", 1.0, 1.0, source="ours")
    with pytest.raises(ValueError, match="rtol"):
        ledger.numeric("wide", 1.0, 1.0, rtol=1.0, source="ours")
    with pytest.raises(ValueError, match="bound"):
        ledger.numeric("bound with tol", 1.0, 2.0, relation="<", rtol=0.1, source="ours")
    with pytest.raises(ValueError, match="relation"):
        ledger.numeric("bad rel", 1.0, 2.0, relation="~", source="ours")
    with pytest.raises(ValueError, match="source"):
        ledger.numeric("no source", 1.0, 1.0, atol=1, source="")
    with pytest.raises(TypeError, match="ours"):
        ledger.numeric("array", torch.ones(3), 1.0, atol=1, source="ours")


def test_symbolic_failure_names_the_claim():
    ledger = Ledger("99")
    with pytest.raises(ClaimError, match=r"99#1.*'wrong'"):
        ledger.symbolic("wrong", x + 1, x, source="ours")


def test_show_refuses_an_empty_ledger():
    with pytest.raises(ValueError, match="empty"):
        Ledger("99").show()
    with pytest.raises(ValueError, match="chapter"):
        Ledger("")
