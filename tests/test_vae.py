"""Tests of kexue_lab.generative.vae against independent references."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from kexue_lab.generative.vae import (
    DECODERS,
    VAE,
    ClassPriorVAE,
    affine_latent,
    elbo_loss,
    gaussian_kl,
    iwae_bound,
    latent_grid,
    reparameterize,
)


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


# ---- chapter 03's additions: reparameterize, ClassPriorVAE, elbo_loss, latent_grid, affine_latent


def test_reparameterize_draws_from_the_normal_and_passes_gradients():
    mu = torch.tensor([1.3, -0.5], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([math.log(0.49), 0.0], dtype=torch.float64, requires_grad=True)
    g = torch.Generator().manual_seed(3)
    z = reparameterize(mu.expand(200_000, 2), logvar.expand(200_000, 2), generator=g)
    eps = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(z, mu + (0.5 * logvar).exp() * eps)
    # mean and variance within 5 standard errors of N(μ, σ²)
    se_mean = torch.tensor([0.7, 1.0], dtype=torch.float64) / math.sqrt(200_000)
    assert bool(((z.mean(0) - mu).abs() < 5 * se_mean).all())
    assert abs(z[:, 0].var().item() - 0.49) < 5 * 0.49 * math.sqrt(2 / 200_000)
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.full((2,), 200_000.0, dtype=torch.float64))
    torch.testing.assert_close(logvar.grad, (0.5 * (0.5 * logvar).exp() * eps).sum(0).detach())


@pytest.mark.parametrize(
    "mu, logvar, err",
    [([0.0], torch.zeros(1), TypeError), (torch.zeros(2), torch.zeros(3), ValueError)],
)
def test_reparameterize_bad_input(mu, logvar, err):
    with pytest.raises(err, match="mu|logvar"):
        reparameterize(mu, logvar)


def _cvae():
    torch.manual_seed(0)
    model = ClassPriorVAE(6, 3, 2, (8,)).double()
    with torch.no_grad():
        model.class_means.normal_()
    return model


def test_class_prior_kl_matches_torch_distributions():
    model = _cvae()
    x = torch.rand(5, 6, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2, 0])
    torch.manual_seed(4)
    rec, kl = model.elbo_terms(x, y)
    mu, logvar = model.encode(x)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(model.class_means[y], 1.0))
    torch.testing.assert_close(kl, ref.sum(-1))
    torch.manual_seed(4)
    eps = torch.randn(5, 2, dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * eps
    torch.testing.assert_close(rec, model.vae.log_px_given_z(x, z))
    kl.sum().backward()  # the class means are trained through the KL term
    assert model.class_means.grad is not None and bool(model.class_means.grad.abs().sum() > 0)


@pytest.mark.parametrize(
    "y, err",
    [
        (torch.tensor([0.0, 1.0]), TypeError),
        (torch.tensor([0, 1, 2]), ValueError),
        (torch.tensor([0, 3]), ValueError),
        (torch.tensor([-1, 0]), ValueError),
    ],
)
def test_class_prior_bad_labels(y, err):
    with pytest.raises(err, match="y"):
        _cvae().elbo_terms(torch.zeros(2, 6, dtype=torch.float64), y)


def test_class_prior_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        ClassPriorVAE(6, 1)
    with pytest.raises(ValueError, match="decoder"):
        ClassPriorVAE(6, 3, decoder="laplace")


def test_elbo_loss_is_the_negative_elbo_and_trains():
    from kexue_lab.train import fit

    model = _vae("gaussian", sigma=0.5)
    x = torch.rand(8, 6, dtype=torch.float64)
    for beta in (0.0, 1.0, 2.5):
        torch.manual_seed(2)
        loss, metrics = elbo_loss(beta)(model, x, None)
        torch.manual_seed(2)
        rec, kl = model.elbo_terms(x)
        torch.testing.assert_close(loss, -rec.mean() + beta * kl.mean())
        torch.testing.assert_close(metrics["neg_elbo"], (kl - rec).mean())
    cvae = _cvae()
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    torch.manual_seed(2)
    loss, _ = elbo_loss()(cvae, x, y)
    torch.manual_seed(2)
    rec, kl = cvae.elbo_terms(x, y)
    torch.testing.assert_close(loss, (kl - rec).mean())
    hist = fit(cvae, elbo_loss(), x, y, epochs=2, batch_size=4, show_progress=False)
    assert set(hist.metrics) == {"loss", "nll", "kl", "neg_elbo"} and len(hist["kl"]) == 2


def test_elbo_loss_bad_input():
    with pytest.raises(ValueError, match="beta"):
        elbo_loss(-1.0)
    x = torch.zeros(2, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="labels"):
        elbo_loss()(_cvae(), x, None)
    with pytest.raises(TypeError, match="model"):
        elbo_loss()(torch.nn.Linear(6, 2), x, None)


def test_latent_grid_matches_scipy_quantiles():
    from scipy.stats import norm

    grid = latent_grid(15)
    q = norm.ppf(np.linspace(0.05, 0.95, 15))
    assert grid.shape == (225, 2) and grid.dtype == torch.float32
    np.testing.assert_allclose(grid[:15, 0].numpy(), q, atol=1e-6)  # first row: z₁ varies
    np.testing.assert_allclose(grid[::15, 1].numpy(), q, atol=1e-6)  # first column: z₂ varies
    shifted = latent_grid(3, 0.1, 0.9, center=[1.0, -2.0])
    np.testing.assert_allclose(
        shifted.numpy(), latent_grid(3, 0.1, 0.9).numpy() + [1, -2], atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n": 1}, "n"),
        ({"lo": 0.0}, "lo"),
        ({"lo": 0.6, "hi": 0.4}, "lo"),
        ({"center": [1.0]}, "center"),
    ],
)
def test_latent_grid_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        latent_grid(**kwargs)


def test_affine_latent_keeps_the_reconstruction_and_moves_only_the_kl():
    model = _vae("bernoulli")
    x = torch.rand(50, 6, dtype=torch.float64)
    shift = torch.tensor([0.3, -1.2], dtype=torch.float64)
    scale = torch.tensor([2.0, 0.5], dtype=torch.float64)
    moved = affine_latent(model, shift, scale)
    mu, logvar = model.encode(x)
    mu2, logvar2 = moved.encode(x)
    torch.testing.assert_close(mu2, scale * (mu - shift))
    torch.testing.assert_close(logvar2, logvar + 2 * scale.log())
    eps = torch.randn_like(mu)
    z = mu + (0.5 * logvar).exp() * eps
    z2 = mu2 + (0.5 * logvar2).exp() * eps
    torch.testing.assert_close(moved.log_px_given_z(x, z2), model.log_px_given_z(x, z))
    # the optimal shift and scale: the KL drops by KL(N(mean, var) ‖ N(0, I)) on average
    mean, var = mu.mean(0), mu.var(0, unbiased=False) + logvar.exp().mean(0)
    best = affine_latent(model, mean, var.rsqrt())
    drop = gaussian_kl(mu, logvar).mean() - gaussian_kl(*best.encode(x)).mean()
    torch.testing.assert_close(drop, gaussian_kl(mean, var.log()), rtol=1e-10, atol=1e-12)
    assert model.encoder[-1].weight is not moved.encoder[-1].weight  # a copy


def test_affine_latent_bad_input():
    model = _vae()
    ok = torch.ones(2, dtype=torch.float64)
    with pytest.raises(TypeError, match="model"):
        affine_latent(torch.nn.Linear(2, 2), ok, ok)
    with pytest.raises(ValueError, match="shift"):
        affine_latent(model, torch.ones(3, dtype=torch.float64), ok)
    with pytest.raises(ValueError, match="scale"):
        affine_latent(model, ok, -ok)
