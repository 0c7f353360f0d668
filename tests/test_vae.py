"""Tests of kexue_lab.generative.vae against independent references."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from kexue_lab.generative.vae import gaussian_kl, iwae_bound


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 5, generator=g, dtype=torch.float64)
    logvar = torch.randn(7, 5, generator=g, dtype=torch.float64)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    ours = gaussian_kl(mu, logvar)
    assert ours.dtype == torch.float64 and ours.shape == (7,)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_gaussian_kl_zero_at_prior_and_differentiable():
    mu = torch.zeros(3, 4, requires_grad=True)
    logvar = torch.zeros(3, 4, requires_grad=True)
    kl = gaussian_kl(mu, logvar)
    assert torch.equal(kl, torch.zeros(3))
    kl.sum().backward()
    assert torch.equal(mu.grad, torch.zeros(3, 4)) and torch.equal(logvar.grad, torch.zeros(3, 4))


@pytest.mark.parametrize(
    "mu, logvar, err",
    [
        ([0.0], torch.zeros(1), TypeError),
        (torch.zeros(2, dtype=torch.long), torch.zeros(2), TypeError),
        (torch.zeros(2), torch.zeros(3), ValueError),
        (torch.tensor(0.0), torch.tensor(0.0), ValueError),
    ],
)
def test_gaussian_kl_bad_input(mu, logvar, err):
    with pytest.raises(err, match="mu|logvar"):
        gaussian_kl(mu, logvar)


def test_iwae_bound_matches_direct_formula_and_is_stable():
    log_w = torch.tensor([[0.0, math.log(3.0)], [-2.0, -2.0]], dtype=torch.float64)
    direct = torch.log(log_w.exp().mean(1))
    torch.testing.assert_close(iwae_bound(log_w), direct, rtol=0, atol=1e-15)
    big = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3.0)]], dtype=torch.float64)
    out = iwae_bound(big)
    torch.testing.assert_close(
        out, torch.tensor([1000.0, -1000.0 + math.log(2.0)], dtype=torch.float64)
    )


def test_iwae_bound_m1_is_elbo_and_grows_with_m():
    g = torch.Generator().manual_seed(1)
    log_w = torch.randn(200, 64, generator=g, dtype=torch.float64)
    torch.testing.assert_close(iwae_bound(log_w[:, :1]), log_w[:, 0])
    means = [float(iwae_bound(log_w[:, :m]).mean()) for m in (1, 4, 16, 64)]
    assert means == sorted(means)  # E[L_M] is non-decreasing in M (Burda et al., Theorem 1)
    x = torch.zeros(2, 3, requires_grad=True)
    iwae_bound(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((2, 3), 1 / 3))


@pytest.mark.parametrize(
    "log_w, err",
    [
        ([[0.0]], TypeError),
        (torch.zeros(3), ValueError),
        (torch.zeros(2, 0), ValueError),
        (torch.tensor([[float("nan")]]), ValueError),
        (torch.zeros(2, 2, dtype=torch.int64), TypeError),
    ],
)
def test_iwae_bound_bad_input(log_w, err):
    with pytest.raises(err, match="log_w"):
        iwae_bound(log_w)
