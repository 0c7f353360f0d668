"""kexue_lab.maths.entropy against direct formulas, SciPy and torch, bad input included."""

import math

import numpy as np
import pytest
import torch
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy

from kexue_lab.maths.entropy import entropy, kl_discrete, perplexity, softmax_entropy


def _direct_entropy(scores: np.ndarray) -> np.ndarray:
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return -(p * np.log(p)).sum(axis=-1)


# ---- entropy --------------------------------------------------------------------------------
def test_entropy_matches_scipy_and_closed_forms():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(12), size=5)
    assert np.allclose(entropy(p), scipy_entropy(p, axis=-1), atol=1e-13)
    assert entropy(np.full(8, 1 / 8)) == pytest.approx(math.log(8), abs=1e-14)
    assert entropy([1.0, 0.0, 0.0]) == 0.0  # 0·log 0 = 0
    assert isinstance(entropy([0.5, 0.5]), float)
    t = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    h = entropy(t)
    assert torch.is_tensor(h) and h.item() == pytest.approx(scipy_entropy([0.2, 0.3, 0.5]))
    h.backward()
    assert torch.allclose(t.grad, -(torch.log(t.detach()) + 1))


def test_entropy_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        entropy([0.5, -0.1, 0.6])
    with pytest.raises(ValueError, match="finite"):
        entropy([0.5, np.nan])
    with pytest.raises(TypeError, match="at least one entry"):
        entropy(0.5)
    with pytest.raises(TypeError, match="floating-point"):
        entropy(torch.tensor([1, 0]))


# ---- softmax_entropy --------------------------------------------------------------------------
def test_softmax_entropy_matches_the_direct_formula_and_the_split_form():
    rng = np.random.default_rng(0)
    s = rng.normal(scale=2.0, size=(7, 5, 30))
    h = softmax_entropy(s)
    assert isinstance(h, np.ndarray) and h.shape == (7, 5)
    assert np.allclose(h, _direct_entropy(s), atol=1e-12, rtol=0)
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    split = np.log(np.exp(s).sum(-1)) - (p * s).sum(-1)  # chapter 16, eq. (6) with λ = 1
    assert np.allclose(h, split, atol=1e-12, rtol=0)
    assert np.allclose(h, scipy_entropy(p, axis=-1), atol=1e-12)


def test_softmax_entropy_known_cases():
    for n in (1, 2, 10, 4096):
        assert softmax_entropy(np.zeros(n)) == pytest.approx(math.log(n), abs=1e-12)
    assert isinstance(softmax_entropy([0.0, 0.0]), float)
    assert softmax_entropy([3.0, -np.inf, -np.inf]) == 0.0  # one-hot
    assert softmax_entropy([5.0, 5.0, -np.inf, -np.inf]) == pytest.approx(math.log(2), abs=1e-12)
    assert softmax_entropy([0.0, 1e4]) == pytest.approx(0.0, abs=1e-12)


def test_softmax_entropy_is_stable_and_shift_invariant():
    s = np.array([1000.0, 999.0, 998.0])
    assert softmax_entropy(s) == pytest.approx(_direct_entropy(s - 1000.0), abs=1e-12)
    assert softmax_entropy(s + 1e6) == pytest.approx(softmax_entropy(s), abs=1e-9)
    assert np.isfinite(softmax_entropy(np.array([1e300, 0.0])))


def test_softmax_entropy_tensors_keep_dtype_and_gradients():
    s = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    masked = s.masked_fill(torch.arange(9) >= 6, -math.inf)
    h = softmax_entropy(masked)
    assert h.shape == (4,) and h.dtype == torch.float64
    h.sum().backward()
    assert torch.isfinite(s.grad).all() and (s.grad[:, 6:] == 0).all()
    # autograd agrees with dH/dλ = −λ Var_p(s) (chapter 16, §1)
    lam = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    row = torch.randn(12, dtype=torch.float64)
    softmax_entropy(lam * row).backward()
    p = torch.softmax(0.7 * row, -1)
    var = (p * row**2).sum() - (p * row).sum() ** 2
    assert lam.grad.item() == pytest.approx(-0.7 * var.item(), rel=1e-10)
    assert softmax_entropy(torch.zeros(3, 5, dtype=torch.float32)).dtype == torch.float32


def test_softmax_entropy_bad_input():
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        softmax_entropy([0.0, np.nan])
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        softmax_entropy([0.0, np.inf])
    with pytest.raises(ValueError, match="fully masked"):
        softmax_entropy([[0.0, 1.0], [-np.inf, -np.inf]])
    with pytest.raises(ValueError, match="at least one entry"):
        softmax_entropy(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="at least one entry"):
        softmax_entropy(1.0)
    with pytest.raises(TypeError, match="floating-point tensor"):
        softmax_entropy(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="numeric"):
        softmax_entropy(["a", "b"])


# ---- perplexity and kl ------------------------------------------------------------------------
def test_perplexity_closed_forms():
    assert perplexity(np.array([5.0, 5.0, 5.0, 5.0])) == pytest.approx(4.0)
    assert perplexity(np.array([7.0, 0.0, 0.0])) == pytest.approx(1.0)
    counts = np.array([1.0, 2.0, 3.0, 0.0])
    assert perplexity(counts) == pytest.approx(math.exp(scipy_entropy(counts / counts.sum())))
    assert perplexity(torch.tensor([3, 3])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="sum to 0"):
        perplexity(np.zeros(3))
    with pytest.raises(ValueError, match="1-D"):
        perplexity(np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        perplexity(np.array([1.0, -1.0]))


def test_kl_matches_scipy():
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(6), size=3), rng.dirichlet(np.ones(6), size=3)
    assert np.allclose(kl_discrete(p, q), rel_entr(p, q).sum(-1), atol=1e-13)
    assert kl_discrete([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-15)
    assert kl_discrete([0.0, 1.0], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert kl_discrete([0.5, 0.5], [1.0, 0.0]) == math.inf
    with pytest.raises(ValueError, match="same number of entries"):
        kl_discrete([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="q must hold"):
        kl_discrete([0.5, 0.5], [1.5, -0.5])


def test_kl_discrete_rows_must_sum_to_one():
    with pytest.raises(ValueError, match="p must sum to 1"):
        kl_discrete([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="q must sum to 1"):
        kl_discrete([[0.5, 0.5]], [[0.2, 0.2]])
    rows = kl_discrete(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[0.5, 0.5], [0.5, 0.5]]))
    assert rows.shape == (2,) and rows[1] == pytest.approx(math.log(2))
