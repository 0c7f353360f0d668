"""Tests of kexue_lab.losses.logit_adjustment against independent references (chapter 29)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.metrics import balanced_accuracy_score

from kexue_lab.losses import logit_adjustment as la


def _pairwise(logits: np.ndarray, y: np.ndarray, prior: np.ndarray, tau: float) -> float:
    """Slow reference: mean of log[1 + Σ_{i≠y} (π_i/π_y)^τ e^{f_i − f_y}] (article eq. (6))."""
    total = 0.0
    for f, t in zip(logits, y):
        s = sum(
            (prior[i] / prior[t]) ** tau * math.exp(f[i] - f[t]) for i in range(len(f)) if i != t
        )
        total += math.log1p(s)
    return total / len(y)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_loss_equals_the_pairwise_form(tau: float) -> None:
    gen = np.random.default_rng(1)
    logits = gen.normal(0, 3, (20, 5))
    y = gen.integers(0, 5, 20)
    prior = gen.dirichlet(np.ones(5))
    got = la.logit_adjusted_ce(
        torch.tensor(logits), torch.tensor(y), torch.tensor(np.log(prior)), tau
    )
    assert got.item() == pytest.approx(_pairwise(logits, y, prior, tau), rel=1e-12)


def test_tau_zero_is_plain_cross_entropy_and_gradients_flow() -> None:
    logits = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0])
    lp = la.log_prior([5, 2, 1])
    plain = torch.nn.functional.cross_entropy(logits, y)
    assert la.logit_adjusted_ce(logits, y, lp, 0.0).item() == pytest.approx(plain.item())
    la.logit_adjusted_ce(logits, y, lp).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_posthoc_adjust_and_log_prior() -> None:
    lp = la.log_prior(np.array([90, 10]))
    assert lp.dtype == torch.float64
    assert lp.exp().tolist() == pytest.approx([0.9, 0.1])
    g = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    out = la.posthoc_adjust(g, lp, tau=2.0)
    ref = g.numpy() - 2.0 * np.log([0.9, 0.1])
    assert np.allclose(out.numpy(), ref)
    assert torch.equal(la.posthoc_adjust(g, lp, 0.0), g)
    assert math.isfinite(la.log_prior([3, 0, 1])[1].item())  # ε keeps an empty class finite


def test_two_gaussian_example_against_scipy() -> None:
    b0 = la.two_gaussian_boundary(0.1, 2.0, 0.0)
    assert b0 == pytest.approx(1 + math.log(9) / 2)
    assert la.two_gaussian_boundary(0.1, 2.0, 1.0) == pytest.approx(1.0)
    # the τ = 0 boundary is where the prior-weighted densities cross
    assert 0.9 * norm.pdf(b0) == pytest.approx(0.1 * norm.pdf(b0, loc=2.0))
    e = la.two_gaussian_errors(0.1, 2.0, b0)
    assert e["head"] == pytest.approx(norm.sf(b0)) and e["tail"] == pytest.approx(norm.cdf(b0 - 2))
    assert e["balanced"] == pytest.approx(0.278601, abs=1e-6)
    assert e["overall"] == pytest.approx(0.070061, abs=1e-6)
    # overall error is smallest at τ = 0, balanced error at τ = 1 (grid of boundaries)
    grid = np.linspace(-1, 4, 5001)
    errs = [la.two_gaussian_errors(0.1, 2.0, b) for b in grid]
    assert grid[np.argmin([e["overall"] for e in errs])] == pytest.approx(b0, abs=1e-3)
    assert grid[np.argmin([e["balanced"] for e in errs])] == pytest.approx(1.0, abs=1e-3)


def test_per_class_accuracy_matches_sklearn() -> None:
    gen = np.random.default_rng(2)
    t = gen.integers(0, 4, 200)
    preds = gen.integers(0, 4, (3, 200))
    rec = la.per_class_accuracy(torch.tensor(t), torch.tensor(preds), 4)
    assert rec.shape == (3, 4)
    for r, p in zip(rec, preds):
        assert r.mean() == pytest.approx(balanced_accuracy_score(t, p))
    assert la.per_class_accuracy(t, preds[0], 4).shape == (4,)


def test_bad_input() -> None:
    logits, y, lp = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]), la.log_prior([1, 1, 1])
    with pytest.raises(TypeError, match="logits"):
        la.logit_adjusted_ce(np.zeros((4, 3)), y, lp)
    with pytest.raises(ValueError, match="logits"):
        la.posthoc_adjust(torch.zeros(4), lp)
    with pytest.raises(ValueError, match="log_prior"):
        la.logit_adjusted_ce(logits, y, la.log_prior([1, 1]))
    with pytest.raises(ValueError, match="log_prior"):
        la.posthoc_adjust(logits, torch.tensor([0.5, -1.0, -1.0]))
    with pytest.raises(TypeError, match="y"):
        la.logit_adjusted_ce(logits, y.float(), lp)
    with pytest.raises(ValueError, match="y must hold"):
        la.logit_adjusted_ce(logits, torch.tensor([0, 1, 3, 0]), lp)
    with pytest.raises(ValueError, match="y must have shape"):
        la.logit_adjusted_ce(logits, torch.tensor([0, 1]), lp)
    with pytest.raises(ValueError, match="tau"):
        la.logit_adjusted_ce(logits, y, lp, tau=-1.0)
    with pytest.raises(ValueError, match="counts"):
        la.log_prior([0, 0])
    with pytest.raises(ValueError, match="p "):
        la.two_gaussian_boundary(1.0, 2.0)
    with pytest.raises(ValueError, match="delta"):
        la.two_gaussian_errors(0.1, -1.0, 0.0)
    with pytest.raises(ValueError, match="every class"):
        la.per_class_accuracy([0, 0, 1], [0, 0, 1], 3)
