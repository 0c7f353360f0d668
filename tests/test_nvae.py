"""Tests of kexue_lab.generative.nvae against torch.distributions."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from kexue_lab.generative.nvae import kl_residual


def test_kl_residual_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_p = torch.randn(6, 1, 4, generator=g, dtype=torch.float64)
    logsig_p = torch.randn(6, 1, 4, generator=g, dtype=torch.float64)
    dmu = torch.randn(6, 3, 4, generator=g, dtype=torch.float64)
    dlogsig = torch.randn(3, 4, generator=g, dtype=torch.float64)
    sig_p = logsig_p.exp()
    ref = kl_divergence(Normal(mu_p + dmu, sig_p * dlogsig.exp()), Normal(mu_p, sig_p))
    ours = kl_residual(dmu, dlogsig, logsig_p)
    assert ours.shape == (6, 3, 4) and ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_kl_residual_article_spot_value():
    # syllabus: Δμ = 0.5, σ = 0.5, Δσ² = 2 gives ½(1 + 2 − ln 2 − 1)
    out = kl_residual(
        torch.tensor(0.5, dtype=torch.float64),
        torch.tensor(0.5 * math.log(2), dtype=torch.float64),  # Δσ² = e^{2Δlogσ} = 2
        torch.tensor(math.log(0.5), dtype=torch.float64),
    )
    assert float(out) == pytest.approx(0.5 * (2 - math.log(2)), abs=1e-15)


def test_kl_residual_zero_at_prior_and_positive_elsewhere():
    logsig_p = torch.linspace(-3, 3, 7)
    assert torch.equal(kl_residual(torch.zeros(7), torch.zeros(7), logsig_p), torch.zeros(7))
    g = torch.Generator().manual_seed(1)
    out = kl_residual(torch.randn(100, generator=g), torch.randn(100, generator=g), logsig_p[:1])
    assert out.dtype == torch.float32 and (out > 0).all()


def test_kl_residual_gradcheck():
    g = torch.Generator().manual_seed(2)
    args = tuple(
        torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)
    )
    assert torch.autograd.gradcheck(kl_residual, args)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((0.1, torch.zeros(2), torch.zeros(2)), TypeError, "dmu"),
        ((torch.zeros(2), [0.0, 0.0], torch.zeros(2)), TypeError, "dlogsig"),
        (
            (torch.zeros(2), torch.zeros(2), torch.zeros(2, dtype=torch.int64)),
            TypeError,
            "logsig_p",
        ),
        ((torch.zeros(2), torch.zeros(3), torch.zeros(2)), ValueError, "broadcast"),
    ],
)
def test_kl_residual_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        kl_residual(*args)
