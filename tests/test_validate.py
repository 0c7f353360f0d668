import pytest

from kexue_lab import _validate


def test_int_at_least_accepts_and_names_the_bound():
    assert _validate.int_at_least("n", 5, 2) == 5
    assert _validate.int_at_least("k", 0, 0) == 0
    with pytest.raises(ValueError, match=r"n must be >= 2 \(two keys at least\), got 1"):
        _validate.int_at_least("n", 1, 2, "two keys at least")
    with pytest.raises(TypeError, match="n must be a positive integer"):
        _validate.int_at_least("n", 2.5, 2)


def test_real_array():
    import numpy as np

    assert _validate.real_array("x", [1, 2]).dtype == np.float64
    assert _validate.real_array("x", 3).shape == ()
    with pytest.raises(TypeError, match="x must be numeric"):
        _validate.real_array("x", np.array([True]))
    with pytest.raises(TypeError, match="x must be a number"):
        _validate.real_array("x", "abc")
    with pytest.raises(ValueError, match="x must be finite"):
        _validate.real_array("x", [1.0, float("inf")])
