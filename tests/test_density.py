"""Tests of kexue_lab.generative.density against independent references.

References: torch.distributions (MultivariateNormal, kl_divergence), scipy.stats, Gaussian
conditioning written with the joint covariance (not the formula the module uses), direct
loops, and Monte Carlo where the module's answer is a closed form.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import MultivariateNormal, kl_divergence

from kexue_lab.generative import density as D
from kexue_lab.generative.vae import VAE, iwae_bound

F64 = torch.float64


def _model(x_dim=5, z_dim=2, sigma=0.7, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(x_dim, z_dim, generator=g, dtype=F64)
    b = torch.randn(x_dim, generator=g, dtype=F64)
    return D.LinearGaussian(w, b, sigma), g


def test_log_px_matches_torch_and_scipy():
    model, g = _model()
    x, _ = model.sample(6, g)
    cov = model.weight @ model.weight.T + model.sigma**2 * torch.eye(5, dtype=F64)
    ref = MultivariateNormal(model.bias, cov).log_prob(x)
    torch.testing.assert_close(model.log_px(x), ref, rtol=0, atol=1e-12)
    sp_ref = stats.multivariate_normal(model.bias.numpy(), cov.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(model.log_px(x).numpy(), sp_ref, rtol=0, atol=1e-10)


def test_one_dimensional_case_matches_the_brief_numbers():
    model = D.LinearGaussian(torch.ones(1, 1, dtype=F64), sigma=0.5)  # a = 1, s = 0.5
    x = torch.ones(1, 1, dtype=F64)
    assert model.log_px(x).item() == pytest.approx(stats.norm(0, math.sqrt(1.25)).logpdf(1.0))
    loc, cov = model.posterior(x)
    assert loc.item() == pytest.approx(0.8) and cov.item() == pytest.approx(0.2)


def test_posterior_matches_gaussian_conditioning():
    model, g = _model(x_dim=6, z_dim=3)
    x, _ = model.sample(4, g)
    w, s2 = model.weight, model.sigma**2
    sxx = w @ w.T + s2 * torch.eye(6, dtype=F64)  # joint covariance blocks of (z, x)
    gain = w.T @ torch.linalg.inv(sxx)
    ref_loc = (x - model.bias) @ gain.T
    ref_cov = torch.eye(3, dtype=F64) - gain @ w
    loc, cov = model.posterior(x)
    torch.testing.assert_close(loc, ref_loc, rtol=0, atol=1e-12)
    torch.testing.assert_close(cov, ref_cov, rtol=0, atol=1e-12)


def test_log_joint_matches_torch_and_bayes_rule():
    model, g = _model()
    x, _ = model.sample(3, g)
    z = torch.randn(3, 7, 2, generator=g, dtype=F64)
    lik = torch.distributions.Normal(z @ model.weight.T + model.bias, model.sigma)
    ref = lik.log_prob(x[:, None]).sum(-1) + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(
        -1
    )
    joint = model.log_joint(x, z)
    torch.testing.assert_close(joint, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.log_joint(x, z[:, 0]), ref[:, 0])
    loc, cov = model.posterior(x)
    log_post = MultivariateNormal(loc[:, None], cov).log_prob(z)
    torch.testing.assert_close(joint - log_post, model.log_px(x)[:, None].expand(3, 7))


def test_posterior_proposal_gives_constant_weights():
    model, g = _model()
    x, _ = model.sample(5, g)
    loc, cov = model.posterior(x)
    log_w = model.log_weights(x, loc, torch.linalg.cholesky(cov), 200, generator=g)
    assert log_w.shape == (5, 200)
    assert (log_w - model.log_px(x)[:, None]).abs().max() < 1e-10
    assert D.effective_sample_size(log_w).sub(200).abs().max() < 1e-6


def test_log_weights_follow_the_proposal():
    model, g = _model()
    x, _ = model.sample(2, g)
    loc = torch.tensor([0.3, -0.2], dtype=F64)
    tril = torch.tensor([[0.9, 0.0], [0.4, 0.5]], dtype=F64)
    gen = torch.Generator().manual_seed(3)
    log_w = model.log_weights(x, loc, tril, 4, generator=gen)
    gen = torch.Generator().manual_seed(3)  # the same draws, written out
    eps = torch.randn(2, 4, 2, dtype=F64, generator=gen)
    z = loc + eps @ tril.T
    ref = model.log_joint(x, z) - MultivariateNormal(loc, scale_tril=tril).log_prob(z)
    torch.testing.assert_close(log_w, ref, rtol=0, atol=1e-12)


def test_elbo_is_log_px_minus_kl_and_the_mean_log_weight():
    model, g = _model()
    x, _ = model.sample(3, g)
    loc, cov = model.posterior(x)
    q_loc, q_cov = loc + 0.4, 1.5 * cov + 0.1 * torch.eye(2, dtype=F64)
    post = MultivariateNormal(loc, cov)
    ref = model.log_px(x) - kl_divergence(MultivariateNormal(q_loc, q_cov), post)
    torch.testing.assert_close(model.elbo(x, q_loc, q_cov), ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(model.elbo(x, loc, cov), model.log_px(x), rtol=0, atol=1e-10)
    log_w = model.log_weights(x, q_loc, torch.linalg.cholesky(q_cov), 200_000, generator=g)
    se = log_w.std(1) / math.sqrt(200_000)
    assert ((log_w.mean(1) - ref).abs() < 5 * se).all()


def test_prior_moment_ratio_matches_closed_form_and_monte_carlo():
    one = D.LinearGaussian(torch.ones(1, 1, dtype=F64), sigma=0.1)
    x0 = torch.zeros(1, 1, dtype=F64)
    s = 0.1
    closed = stats.norm(0, math.sqrt(1 + s**2 / 2)).pdf(0) / (2 * math.sqrt(math.pi) * s)
    closed /= stats.norm(0, math.sqrt(1 + s**2)).pdf(0) ** 2
    assert one.prior_log_moment_ratio(x0).exp().item() == pytest.approx(closed, rel=1e-12)
    assert closed == pytest.approx(7.1240, abs=1e-4)
    model, g = _model(x_dim=3, z_dim=2, sigma=1.5)
    x, _ = model.sample(2, g)
    z = torch.zeros(2, 2, dtype=F64)
    log_w = model.log_weights(x, z[0], torch.eye(2, dtype=F64), 400_000, generator=g)
    w = (log_w - model.log_px(x)[:, None]).exp()  # w / p(x), mean 1
    ratio_mc = (w**2).mean(1)
    se = (w**2).std(1) / math.sqrt(400_000)
    ratio = model.prior_log_moment_ratio(x).exp()
    assert ((ratio_mc - ratio).abs() < 5 * se).all()


def test_effective_sample_size_matches_direct_formula():
    g = torch.Generator().manual_seed(0)
    log_w = 3 * torch.randn(4, 50, generator=g, dtype=F64)
    w = log_w.exp()
    torch.testing.assert_close(
        D.effective_sample_size(log_w), w.sum(1) ** 2 / (w**2).sum(1), rtol=1e-12, atol=0
    )
    extreme = torch.tensor([[1000.0, 0.0, 0.0], [5.0, 5.0, 5.0]], dtype=F64)
    torch.testing.assert_close(
        D.effective_sample_size(extreme), torch.tensor([1.0, 3.0], dtype=F64)
    )


def test_iwae_bounds_average_disjoint_groups():
    g = torch.Generator().manual_seed(1)
    log_w = torch.randn(3, 12, generator=g, dtype=F64)
    out = D.iwae_bounds(log_w, [1, 3, 12])
    assert out.shape == (3, 3)
    for row, m in enumerate((1, 3, 12)):
        for b in range(3):
            groups = [log_w[b, k : k + m] for k in range(0, 12, m)]
            direct = np.mean([math.log(np.mean(grp.exp().numpy())) for grp in groups])
            assert out[row, b].item() == pytest.approx(direct, abs=1e-12)
    torch.testing.assert_close(out[2], iwae_bound(log_w))


@pytest.mark.parametrize(
    "log_w, ms, err",
    [
        (torch.zeros(2, 6), [4], ValueError),
        (torch.zeros(2, 6), [], ValueError),
        (torch.zeros(2, 6), [0], ValueError),
        (torch.zeros(2, 6), [1.5], TypeError),
        (torch.zeros(6), [1], ValueError),
        (torch.zeros(2, 6, dtype=torch.long), [1], TypeError),
        (torch.full((2, 6), float("nan")), [1], ValueError),
    ],
)
def test_iwae_bounds_bad_input(log_w, ms, err):
    with pytest.raises(err, match="ms|log_w"):
        D.iwae_bounds(log_w, ms)


def test_linear_gaussian_bad_input():
    with pytest.raises(TypeError, match="weight"):
        D.LinearGaussian([[1.0]])
    with pytest.raises(ValueError, match="weight"):
        D.LinearGaussian(torch.ones(3))
    with pytest.raises(ValueError, match="bias"):
        D.LinearGaussian(torch.ones(3, 1), torch.zeros(2))
    with pytest.raises(ValueError, match="sigma"):
        D.LinearGaussian(torch.ones(3, 1), sigma=0.0)
    model, _ = _model()
    x = torch.zeros(2, 5, dtype=F64)
    with pytest.raises(ValueError, match="x must have shape"):
        model.log_px(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match="z must have shape"):
        model.log_joint(x, torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="scale_tril"):
        model.log_weights(x, torch.zeros(2, dtype=F64), -torch.eye(2, dtype=F64), 3)
    with pytest.raises(ValueError, match="loc"):
        model.log_weights(x, torch.zeros(3, 2, dtype=F64), torch.eye(2, dtype=F64), 3)
    with pytest.raises(ValueError, match="samples"):
        model.log_weights(x, torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64), 0)
    with pytest.raises(ValueError, match="cov"):
        model.elbo(x, torch.zeros(2, dtype=F64), torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="n must"):
        model.sample(0)


def _vae(seed=0):
    torch.manual_seed(seed)
    return VAE(12, 3, (16,))


def test_iwae_loss_is_minus_the_mean_bound_and_trains():
    model = _vae()
    x = torch.bernoulli(torch.full((8, 12), 0.3))
    torch.manual_seed(5)
    loss = D.iwae_loss(model, x, 4)
    torch.manual_seed(5)
    ref = -iwae_bound(model.log_weights(x, 4)).mean()
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(TypeError, match="model"):
        D.iwae_loss(torch.nn.Linear(2, 2), x, 4)
    with pytest.raises(ValueError, match="samples"):
        D.iwae_loss(model, x, 0)


def test_log_likelihood_bounds_chunks_agree_with_one_draw():
    model = _vae(1)
    x = torch.bernoulli(torch.full((7, 12), 0.4))
    torch.manual_seed(2)
    one = D.log_likelihood_bounds(model, x, [1, 4, 20], batch_size=100, chunk=100)
    torch.manual_seed(2)
    with torch.no_grad():
        ref = D.iwae_bounds(model.log_weights(x, 20).double(), [1, 4, 20])
    torch.testing.assert_close(one, ref)
    assert one.shape == (3, 7) and one.dtype == F64
    torch.manual_seed(3)
    chunked = D.log_likelihood_bounds(model, x, [1, 4, 2000], batch_size=3, chunk=500)
    assert chunked.shape == (3, 7)
    # the estimates of E[L_m] increase with m (Burda et al., Theorem 1), on average
    means = chunked.mean(1)
    assert means[0] < means[1] < means[2]
    assert model.training  # the mode is restored


def test_log_likelihood_bounds_bad_input():
    model = _vae()
    x = torch.zeros(4, 12)
    with pytest.raises(ValueError, match="chunk"):
        D.log_likelihood_bounds(model, x, [1, 30], chunk=7)
    with pytest.raises(ValueError, match="ms"):
        D.log_likelihood_bounds(model, x, [])
    with pytest.raises(ValueError, match="batch_size"):
        D.log_likelihood_bounds(model, x, [1], batch_size=0)
    with pytest.raises(TypeError, match="model"):
        D.log_likelihood_bounds("vae", x, [1])
