"""kexue_lab.exercises: public checks that hold no answer, the teacher's tests, the summary."""

import numpy as np
import pytest
import sympy as sp

from kexue_lab import exercises as ex


@pytest.fixture(autouse=True)
def _fresh_status(monkeypatch):
    monkeypatch.setattr(ex, "_STATUS", {})
    monkeypatch.delenv(ex.STRICT_ENV, raising=False)


def test_fingerprint_is_equal_for_equal_values_and_differs_otherwise():
    golden = ex.fingerprint((sp.sqrt(5) - 1) / 2)
    assert ex.fingerprint(2 / (1 + sp.sqrt(5))) == golden
    assert ex.fingerprint(sp.Rational(618, 1000)) != golden
    x = sp.Symbol("x", positive=True)
    assert ex.fingerprint(sp.sqrt(x**2)) == ex.fingerprint(sp.Symbol("x"))
    assert ex.fingerprint(sp.log(8) / sp.log(2)) == ex.fingerprint(3)
    with pytest.raises(TypeError, match="exact"):
        ex.fingerprint(0.618)


def test_exact_answers_are_compared_through_the_fingerprint(capsys):
    digest = ex.fingerprint(sp.pi / sp.sqrt(3))
    ex.check("12.2", sp.sqrt(3) * sp.pi / 3, form="expression", fingerprint=digest)
    ex.check("12.3", sp.pi / 2, form="expression", fingerprint=digest)
    ex.check("12.4", 1.8138, form="expression", fingerprint=digest)
    out = capsys.readouterr().out
    assert "✓ Exercise 12.2: correct." in out
    assert "✗ Exercise 12.3: not yet right." in out
    assert "✗ Exercise 12.4: not yet right: it holds floating-point numbers" in out
    assert "too large" not in out and "too small" not in out


def test_numbers_and_functions_are_answered_and_the_tests_decide(capsys):
    ex.check("1.1", 2.5, form="number")
    ex.check("1.2", "2.5x", form="number")

    def stub(s, lam):
        raise NotImplementedError

    ex.check("1.3", stub, form="function", example=(np.ones(3), 1.0))
    ex.check("1.4", lambda s, lam: s.sum() * lam, form="function", example=(np.ones(3), 1.0))
    ex.check("1.5", lambda s, lam: 1 / 0, form="function", example=(np.ones(3), 1.0))
    ex.check("1.6", ..., form="number")
    out = capsys.readouterr().out
    assert "• Exercise 1.1: answered. Your teacher's tests give the verdict." in out
    assert "✗ Exercise 1.2: not yet right: it should be a number, got str." in out
    assert "✗ Exercise 1.3: your function still raises NotImplementedError" in out
    assert "• Exercise 1.4: answered." in out
    assert "✗ Exercise 1.5: not yet right: on an example input it raised ZeroDivisionError" in out
    assert "✗ Exercise 1.6: not answered yet" in out and "Traceback" not in out
    ex.passed("1.1")
    assert ex.summary() == {"right": 1, "answered": 1, "not yet right": 2, "open": 2}


def test_strict_mode_raises_for_open_and_wrong_but_not_for_answered(monkeypatch):
    monkeypatch.setenv(ex.STRICT_ENV, "1")
    with pytest.raises(ex.NotYetRight, match="not answered yet"):
        ex.check("12.1", ...)
    with pytest.raises(ex.NotYetRight, match="not yet right"):
        ex.check("12.1", 0.5, form="expression", fingerprint=ex.fingerprint(sp.Rational(1, 2)))
    ex.check("12.1", 0.5, form="number")  # no verdict to give: it prints


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"exercise": "12"}, ValueError, "exercise must look like"),
        ({"exercise": "12.1", "form": "matrix"}, ValueError, "form='matrix'"),
        ({"exercise": "12.1", "fingerprint": 123}, TypeError, "fingerprint"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, err, match):
    exercise = kwargs.pop("exercise")
    with pytest.raises(err, match=match):
        ex.check(exercise, 1.0, **kwargs)


def test_expect_helpers():
    with pytest.raises(ex.Wrong, match="number"):
        ex.expect_number("x", 1.0, rtol=0.1)
    with pytest.raises(ex.Wrong, match="off by more than"):
        ex.expect_number(1.2, 1.0, rtol=0.1)
    ex.expect_number(1.05, 1.0, rtol=0.1)
    with pytest.raises(ex.Wrong, match="floating-point"):
        ex.expect_expression(sp.Float(0.5), sp.Rational(1, 2))
    ex.expect_expression(sp.Rational(1, 2), sp.Rational(2, 4))
    with pytest.raises(ex.Wrong, match="not equal"):
        ex.expect_expression(sp.pi, sp.E)
    ex.expect_function(lambda a: a * 2, lambda a: a + a, [(1.0,), (3.0,)])
    with pytest.raises(ex.Wrong, match=r"input \(3\)"):
        ex.expect_function(lambda a: a * 2, lambda a: a + 1, [(1.0,), (3.0,)])
    with pytest.raises(ex.Wrong, match="function"):
        ex.expect_function(3, lambda a: a, [(1.0,)])
