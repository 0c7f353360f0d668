import pytest
import sympy as sp

from kexue_lab import exercises as ex


def test_check_prints_for_a_right_answer(capsys):
    ex.check("12.2", 4 / (2 * 3.141592653589793) ** 0.5)
    assert "✓ Exercise 12.2: correct." in capsys.readouterr().out


def test_check_never_reveals_the_answer():
    with pytest.raises(ex.NotYetRight) as err:
        ex.check("12.2", 1.6, strict=True)
    assert "1.59" not in str(err.value) and "too large" in str(err.value)


def test_check_never_stops_run_all_and_the_summary_counts(capsys, monkeypatch):
    monkeypatch.setattr(ex, "_STATUS", {})
    ex.check("12.2", 1.6)  # prints one line, raises nothing
    ex.check("12.1", ...)
    assert ex._STATUS == {"12.2": "not yet right", "12.1": "open"}
    ex.check("12.2", 4 / (2 * 3.141592653589793) ** 0.5)
    out = capsys.readouterr().out
    assert "✗ Exercise 12.2: not yet right." in out and "Traceback" not in out
    assert ex.summary() == {"right": 1, "not yet right": 0, "open": 1}
    assert "answered 1 · right 1 · open 1" in capsys.readouterr().out
    monkeypatch.setenv("KEXUE_STRICT_CHECKS", "1")
    with pytest.raises(ex.NotYetRight):
        ex.check("12.1", ...)


def test_ellipsis_and_unimplemented_functions():
    with pytest.raises(ex.NotYetRight, match="not answered yet"):
        ex.check("12.1", ..., strict=True)

    def stub(*args):
        raise NotImplementedError

    def raises_not_implemented(answer):
        answer()

    ex._REGISTRY["0.1"] = raises_not_implemented
    try:
        with pytest.raises(ex.NotYetRight, match="NotImplementedError"):
            ex.check("0.1", stub, strict=True)
    finally:
        del ex._REGISTRY["0.1"]


def test_unknown_exercise():
    with pytest.raises(ValueError, match="no exercise '99.9'"):
        ex.check("99.9", 1)


def test_duplicate_checker_is_refused():
    with pytest.raises(ValueError, match="already"):
        ex.checker("12.1")(lambda a: None)


def test_expect_helpers():
    with pytest.raises(ex.Wrong, match="number"):
        ex.expect_number("x", 1.0, rtol=0.1)
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
