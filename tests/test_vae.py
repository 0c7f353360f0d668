"""Tests of kexue_lab.generative.vae against independent references."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from kexue_lab.generative.vae import DECODERS, VAE, gaussian_kl, iwae_bound


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


def _vae(decoder="bernoulli", sigma=1.0):
    torch.manual_seed(0)
    return VAE(6, 2, (8,), decoder=decoder, sigma=sigma).double()


@pytest.mark.parametrize("decoder", DECODERS)
def test_vae_log_weights_match_torch_distributions(decoder):
    model = _vae(decoder, sigma=0.3)
    x = torch.rand(4, 6, dtype=torch.float64)
    torch.manual_seed(5)
    log_w = model.log_weights(x, 3)
    torch.manual_seed(5)
    mu, logvar = model.encode(x)
    eps = torch.randn(4, 3, 2, dtype=torch.float64)
    z = mu.unsqueeze(1) + (0.5 * logvar).exp().unsqueeze(1) * eps
    q = Normal(mu.unsqueeze(1), (0.5 * logvar).exp().unsqueeze(1))
    out = model.decode(z)
    if decoder == "bernoulli":
        log_px = -torch.nn.functional.binary_cross_entropy_with_logits(
            out, x.unsqueeze(1).expand_as(out), reduction="none"
        ).sum(-1)
    else:
        log_px = Normal(out, 0.3).log_prob(x.unsqueeze(1)).sum(-1)
    ref = log_px + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    assert log_w.shape == (4, 3)
    torch.testing.assert_close(log_w, ref)


def test_vae_elbo_terms_and_bound():
    model = _vae("gaussian", sigma=0.5)
    x = torch.rand(5, 2, 3, dtype=torch.float64)  # flattened to 6 values per sample
    rec, kl = model.elbo_terms(x)
    assert rec.shape == kl.shape == (5,) and bool((kl >= 0).all())
    torch.manual_seed(1)
    many = model.log_weights(x, 2000)
    elbo = many.mean(1)  # E_q[log w] = the ELBO, estimated with 2000 draws
    bound = iwae_bound(many)
    assert bool((bound >= elbo).all())  # Jensen: log E w >= E log w


@pytest.mark.parametrize(
    "kwargs, err, name",
    [
        ({"x_dim": 0}, ValueError, "x_dim"),
        ({"x_dim": 4, "decoder": "poisson"}, ValueError, "decoder"),
        ({"x_dim": 4, "sigma": 0.0}, ValueError, "sigma"),
        ({"x_dim": 4, "hidden": (8, -1)}, ValueError, "hidden"),
    ],
)
def test_vae_bad_arguments(kwargs, err, name):
    with pytest.raises(err, match=name):
        VAE(**kwargs)


def test_vae_bad_input_shape():
    model = _vae()
    with pytest.raises(ValueError, match="x must have 6 values"):
        model.encode(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="samples"):
        model.log_weights(torch.zeros(2, 6, dtype=torch.float64), 0)
