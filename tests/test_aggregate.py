"""Tests of kexue_lab.generative.aggregate against closed forms and numerical integration."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from kexue_lab.generative.aggregate import aggregate_kl, aggregate_moments
from kexue_lab.generative.vae import gaussian_kl


def test_moments_match_a_large_sample_of_the_mixture():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 2, generator=g, dtype=torch.float64)
    logvar = torch.randn(3, 2, generator=g, dtype=torch.float64)
    mean, var = aggregate_moments(mu, logvar)
    which = torch.randint(0, 3, (400_000,), generator=g)
    draws = mu[which] + (0.5 * logvar[which]).exp() * torch.randn(400_000, 2, generator=g)
    torch.testing.assert_close(mean, draws.mean(0), atol=0.02, rtol=0)
    torch.testing.assert_close(var, draws.var(0), atol=0.03, rtol=0.02)


def test_kl_is_zero_when_every_component_is_the_prior():
    est, se = aggregate_kl(torch.zeros(50, 3), torch.zeros(50, 3))
    assert est == pytest.approx(0.0, abs=1e-12) and se == pytest.approx(0.0, abs=1e-12)


def test_kl_of_one_component_is_the_gaussian_kl():
    mu = torch.tensor([[0.7, -1.0]]).repeat(2_000, 1).double()
    logvar = torch.tensor([[math.log(0.3), math.log(2.0)]]).repeat(2_000, 1).double()
    est, se = aggregate_kl(mu, logvar, generator=torch.Generator().manual_seed(1))
    exact = float(gaussian_kl(mu[:1], logvar[:1]))
    assert abs(est - exact) < 5 * se


def test_kl_of_a_two_component_mixture_matches_quadrature():
    mu = torch.tensor([[-1.5], [2.0]], dtype=torch.float64).repeat(1_000, 1)
    logvar = torch.tensor([[math.log(0.04)], [math.log(0.25)]], dtype=torch.float64).repeat(
        1_000, 1
    )

    def q(z):
        return 0.5 * norm.pdf(z, -1.5, 0.2) + 0.5 * norm.pdf(z, 2.0, 0.5)

    exact, _ = integrate.quad(
        lambda z: q(z) * (np.log(q(z)) - norm.logpdf(z)), -6, 6, points=[-1.5, 2.0], limit=200
    )
    est, se = aggregate_kl(mu, logvar, generator=torch.Generator().manual_seed(2), chunk=777)
    assert abs(est - exact) < 5 * se
    # the moment-matched normal is closer to the prior (maximum entropy)
    mean, var = aggregate_moments(mu, logvar)
    assert float(gaussian_kl(mean, var.log())) < exact


@pytest.mark.parametrize(
    "mu, logvar, err",
    [
        ([[0.0]], torch.zeros(1, 1), TypeError),
        (torch.zeros(3), torch.zeros(3), ValueError),
        (torch.zeros(2, 2), torch.zeros(2, 3), ValueError),
        (torch.zeros(0, 2), torch.zeros(0, 2), ValueError),
        (torch.tensor([[float("nan")]]), torch.zeros(1, 1), ValueError),
    ],
)
def test_bad_input(mu, logvar, err):
    with pytest.raises(err, match="mu|logvar"):
        aggregate_moments(mu, logvar)
    with pytest.raises(err, match="mu|logvar"):
        aggregate_kl(mu, logvar)


def test_bad_chunk():
    with pytest.raises(ValueError, match="chunk"):
        aggregate_kl(torch.zeros(2, 1), torch.zeros(2, 1), chunk=0)
