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


# --- power iteration, spectral penalty, HierVAE, BN re-estimation (chapter 08) -------------

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

from kexue_lab.generative.nvae import (  # noqa: E402
    SpectralPenalty,
    latent_count,
    pca_frechet,
    power_iteration,
    with_recomputed_bn,
)
from kexue_lab.generative.nvae_model import HierVAE, nvae_loss  # noqa: E402


def test_power_iteration_matches_svdvals_and_its_gradient_is_u_vT():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(64, 32, generator=g, dtype=torch.float64, requires_grad=True)
    # a Gaussian matrix has a small gap (σ₂/σ₁ = 0.968 here): 20 steps leave 1 %, 300 steps 1e-9
    sigma, u = power_iteration(w, torch.randn(64, generator=g, dtype=torch.float64), iters=300)
    top = torch.linalg.svdvals(w.detach())[0]
    assert abs(sigma.item() - top.item()) / top.item() < 1e-6
    sigma, _ = power_iteration(w, u, iters=200)
    sigma.backward()
    uu, _, vh = torch.linalg.svd(w.detach())
    ref = torch.outer(uu[:, 0], vh[0])  # dσ/dW = u vᵀ (sign-free)
    torch.testing.assert_close(w.grad, ref * torch.sign((w.grad * ref).sum()), atol=1e-6, rtol=0)


def test_spectral_penalty_sums_the_top_singular_values():
    model = HierVAE(20, (3, 2), hidden=16, state=8)
    pen = SpectralPenalty(model, iters=50)
    ref = sum(
        float(torch.linalg.svdvals(m.weight.detach())[0])
        for m in model.modules()
        if isinstance(m, torch.nn.Linear)
    )
    assert len(pen.layers) == 9
    assert pen().item() == pytest.approx(ref, rel=1e-3)


def test_hiervae_kl_and_log_ratio_match_torch_distributions():
    torch.manual_seed(0)
    model = HierVAE(12, (3, 2, 4), hidden=16, state=8).double().eval()
    x = torch.rand(5, 12, dtype=torch.float64)
    out = model.infer(x, samples=2)
    assert out["kl"].shape == (10, 3) and out["log_ratio"].shape == (10, 3)
    for level, (z, (mu_p, ls_p, mu_q, ls_q)) in enumerate(zip(out["z"], out["params"])):
        p, q = Normal(mu_p, ls_p.exp()), Normal(mu_q, ls_q.exp())
        torch.testing.assert_close(out["kl"][:, level], kl_divergence(q, p).sum(-1))
        ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)
        torch.testing.assert_close(out["log_ratio"][:, level], ratio)
    mu_p, ls_p = out["params"][0][:2]
    assert torch.equal(mu_p, torch.zeros_like(mu_p)) and torch.equal(ls_p, torch.zeros_like(ls_p))


def test_absolute_parameterisation_gives_a_valid_posterior():
    torch.manual_seed(1)
    model = HierVAE(12, (3, 2), hidden=16, state=8, residual=False).double().eval()
    out = model.infer(torch.rand(4, 12, dtype=torch.float64))
    mu_p, ls_p, mu_q, ls_q = out["params"][1]
    ref = kl_divergence(Normal(mu_q, ls_q.exp()), Normal(mu_p, ls_p.exp())).sum(-1)
    torch.testing.assert_close(out["kl"][:, 1], ref)


def test_log_weights_bound_log_px_from_below_in_expectation():
    torch.manual_seed(2)
    model = HierVAE(6, (2,), hidden=8, state=4).double().eval()
    x = torch.bernoulli(torch.full((3, 6), 0.5, dtype=torch.float64))
    with torch.no_grad():
        lw = model.log_weights(x, 4000)
        rec, kl = model.elbo_terms(x.repeat_interleave(4000, 0))
    assert lw.shape == (3, 4000)
    elbo = (rec - kl.sum(-1)).reshape(3, 4000).mean(1)
    torch.testing.assert_close(lw.mean(1), elbo, atol=0.15, rtol=0)  # both estimate the ELBO
    assert (torch.logsumexp(lw, 1) - np.log(4000) >= lw.mean(1)).all()  # Jensen


def test_sample_temperature_scales_the_top_group():
    torch.manual_seed(3)
    model = HierVAE(6, (1,), hidden=8, state=4).eval()
    layer = model.topdown[0][0]
    seen = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    model.sample(20_000, temperature=0.7, generator=torch.Generator().manual_seed(0))
    hook.remove()
    assert float(seen[0].var()) == pytest.approx(0.49, rel=0.03)  # s.e. of a variance ≈ 1 %


def test_recomputed_bn_statistics_are_exact_prior_averages():
    torch.manual_seed(4)
    model = HierVAE(6, (2,), hidden=8, state=4)
    model.train()
    model.infer(torch.rand(50, 6) * 10)  # move the running statistics somewhere else
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new = with_recomputed_bn(model, temperature=0.5, n_batches=3, batch_size=100, seed=7)
    g = torch.Generator().manual_seed(7)
    z = 0.5 * torch.cat([torch.randn(100, 2, generator=g) for _ in range(3)])
    pre = new.topdown[0][0](z)
    torch.testing.assert_close(new.topdown[0][1].running_mean, pre.mean(0), atol=1e-5, rtol=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])  # the original is untouched
    assert torch.equal(new.encoder[0][1].running_mean, model.encoder[0][1].running_mean)
    assert not new.training


def test_latent_count_article_value_and_bad_input():
    assert latent_count([4, 4, 4, 8, 16], [8, 16, 32, 64, 128], 20) == 6_005_760
    with pytest.raises(ValueError, match="equally long"):
        latent_count([4, 4], [8], 20)
    with pytest.raises(ValueError, match="channels"):
        latent_count([4], [8], 0)


def test_pca_frechet_matches_a_scipy_reference():
    g = torch.Generator().manual_seed(5)
    real = torch.randn(300, 10, generator=g, dtype=torch.float64) @ torch.randn(
        10, 10, generator=g, dtype=torch.float64
    )
    fake = 0.8 * real[:200] + 0.3
    _, _, vt = np.linalg.svd((real - real.mean(0)).numpy(), full_matrices=False)
    pr, pf = ((t - real.mean(0)).numpy() @ vt[:4].T for t in (real, fake))
    s_r, s_f = np.cov(pr.T), np.cov(pf.T)
    ref = ((pr.mean(0) - pf.mean(0)) ** 2).sum() + np.trace(
        s_r + s_f - 2 * scipy.linalg.sqrtm(s_r @ s_f).real
    )
    assert pca_frechet(real, fake, k=4) == pytest.approx(ref, rel=1e-8)
    assert abs(pca_frechet(real, real, k=4)) < 1e-8


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: power_iteration(torch.zeros(3), torch.zeros(3)), ValueError, "matrix"),
        (lambda: power_iteration(torch.zeros(3, 2), torch.zeros(2)), ValueError, "u must"),
        (lambda: power_iteration(torch.eye(2), torch.ones(2), 0), ValueError, "iters"),
        (lambda: SpectralPenalty("model"), TypeError, "model"),
        (lambda: SpectralPenalty(torch.nn.ReLU()), ValueError, "Linear"),
        (lambda: HierVAE(10, ()), ValueError, "z_dims"),
        (lambda: HierVAE(10, (2, 0)), ValueError, r"z_dims\[1\]"),
        (lambda: HierVAE(10, (2,), residual=1), TypeError, "residual"),
        (lambda: HierVAE(10, (2,)).infer(torch.zeros(3, 9)), ValueError, "10 values"),
        (lambda: HierVAE(10, (2,)).sample(4, temperature=0), ValueError, "temperature"),
        (lambda: with_recomputed_bn(torch.nn.Linear(2, 2)), TypeError, "HierVAE"),
        (lambda: with_recomputed_bn(HierVAE(4, (2,)), batch_size=1), ValueError, "batch_size"),
        (lambda: nvae_loss(None, 0.1), ValueError, "penalty"),
        (lambda: pca_frechet(torch.zeros(5, 3), torch.zeros(5, 4)), ValueError, "features"),
        (lambda: pca_frechet(torch.zeros(5, 3), torch.zeros(5, 3), k=5), ValueError, "k=5"),
    ],
)
def test_chapter_08_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_nvae_loss_records_one_kl_per_group():
    torch.manual_seed(6)
    model = HierVAE(6, (2, 3), hidden=8, state=4)
    loss, metrics = nvae_loss(SpectralPenalty(model), 0.5)(model, torch.rand(8, 6))
    assert set(metrics) == {"neg_elbo", "kl", "kl_1", "kl_2"}
    assert loss.item() > metrics["neg_elbo"].item()  # the penalty is positive
