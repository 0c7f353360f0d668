import pytest

from kexue_lab import _validate


def test_int_at_least_accepts_and_names_the_bound():
    assert _validate.int_at_least("n", 5, 2) == 5
    assert _validate.int_at_least("k", 0, 0) == 0
    with pytest.raises(ValueError, match=r"n must be >= 2 \(two keys at least\), got 1"):
        _validate.int_at_least("n", 1, 2, "two keys at least")
    with pytest.raises(TypeError, match="n must be a positive integer"):
        _validate.int_at_least("n", 2.5, 2)
