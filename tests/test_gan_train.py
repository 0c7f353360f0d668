import pytest
import torch

from kexue_lab.generative.gan_train import (
    fit_gan,
    gradient_penalty,
    ns_d_loss,
    ns_g_loss,
    wgan_d_loss,
    wgan_g_loss,
)
from kexue_lab.nn import mlp


def linear(w, b=0.0):
    w = torch.tensor(w)
    return lambda x: x @ w + b


def test_losses_match_their_formulas():
    real, fake = torch.randn(7, 2), torch.randn(7, 2)
    D = linear([1.0, -2.0], 0.5)
    sp = torch.nn.functional.softplus
    assert torch.allclose(ns_d_loss(D, real, fake), sp(-D(real)).mean() + sp(D(fake)).mean())
    assert torch.allclose(ns_g_loss(D, fake), sp(-D(fake)).mean())
    assert torch.allclose(wgan_d_loss(D, real, fake), D(fake).mean() - D(real).mean())
    assert torch.allclose(wgan_g_loss(D, fake), -D(fake).mean())
    # ns: log(1 + e^{-t}) at t = 0 is log 2
    zero = linear([0.0, 0.0])
    assert ns_d_loss(zero, real, fake).item() == pytest.approx(2 * torch.log(torch.tensor(2.0)))


@pytest.mark.parametrize("w, expected", [([0.6, 0.8], 0.0), ([3.0, 0.0], 40.0)])
def test_gradient_penalty_of_a_linear_critic(w, expected):
    # ‖∇D‖ = ‖w‖ everywhere, so the penalty is λ(‖w‖ − 1)² whatever the points
    real, fake = torch.randn(9, 2), torch.randn(9, 2)
    gp = gradient_penalty(linear(w), real, fake, weight=10.0)
    assert gp.item() == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_trains_the_critic_and_checks_shapes():
    D = mlp([2, 16, 1], activation="tanh")
    gp = gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    assert D[0].weight.grad is not None and D[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(D, torch.randn(8, 2), torch.randn(7, 2))
    with pytest.raises(ValueError, match="weight"):
        gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2), weight=-1)


def test_fit_gan_moves_the_generator_onto_the_data():
    torch.manual_seed(0)
    G, D = mlp([1, 16, 1]), mlp([1, 16, 1])

    def real(n):
        return 3.0 + 0.5 * torch.randn(n, 1)

    with torch.no_grad():
        before = G(torch.randn(2000, 1)).mean().item()
    hist = fit_gan(
        G, D, real, z_dim=1, steps=200, d_loss=ns_d_loss, g_loss=ns_g_loss, batch_size=128,
        lr_g=5e-3, lr_d=5e-3, log_every=100, show_progress=False,
    )  # fmt: skip
    with torch.no_grad():
        after = G(torch.randn(2000, 1)).mean().item()
    assert abs(before - 3.0) > 2.0 and abs(after - 3.0) < 0.5
    assert len(hist["d_loss"]) == len(hist["g_loss"]) == 2


def test_fit_gan_bad_input_and_divergence():
    G, D = mlp([1, 4, 1]), mlp([1, 4, 1])
    kw = dict(z_dim=1, d_loss=ns_d_loss, g_loss=ns_g_loss, show_progress=False)
    with pytest.raises(ValueError, match="steps"):
        fit_gan(G, D, lambda n: torch.randn(n, 1), steps=0, **kw)
    with pytest.raises(FloatingPointError, match="non-finite"):
        fit_gan(G, D, lambda n: torch.full((n, 1), float("nan")), steps=3, log_every=1, **kw)
