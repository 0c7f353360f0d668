"""Tests of kexue_lab.generative.vqvae (chapter 06: the convolutional VQ-VAE and its prior)."""

import pytest
import torch
import torch.nn.functional as F

from kexue_lab.generative import vqvae as M


@pytest.mark.parametrize("channels, size, grid", [(1, 28, 7), (3, 32, 8)])
def test_vqvae_shapes(channels, size, grid):
    torch.manual_seed(0)
    model = M.VQVAE(channels, hidden=8, num_codes=16, code_dim=4, n_res=1)
    x = torch.rand(3, channels, size, size)
    x_hat, loss, codes = model(x)
    assert x_hat.shape == x.shape and codes.shape == (3, grid, grid) and loss.dim() == 0
    assert model.decode_codes(codes).shape == x.shape
    mse, all_codes, rec = M.encode_dataset(model, x, batch_size=2)
    assert all_codes.shape == (3, grid, grid) and rec.shape == x.shape and mse > 0
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, H, W\)"):
        M.VQVAE(1, 8, 16, 4)(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="hidden"):
        M.VQVAE(1, 0)


def test_without_straight_through_the_encoder_gets_no_reconstruction_gradient():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 28, 28)
    for st in (True, False):
        model = M.VQVAE(1, hidden=8, num_codes=16, code_dim=4, n_res=1, straight_through=st)
        x_hat, _, _ = model(x)
        grads = torch.autograd.grad(
            F.mse_loss(x_hat, x), list(model.encoder.parameters()), allow_unused=True
        )
        total = sum(float(g.abs().sum()) for g in grads if g is not None)
        assert (total > 0) == st


def test_vqvae_reseeding_runs_in_training_only():
    torch.manual_seed(0)
    model = M.VQVAE(1, hidden=8, num_codes=32, code_dim=4, n_res=0, reseed_every=2)
    x = torch.rand(8, 1, 28, 28)
    for _ in range(3):
        model(x)
    assert model.steps == 3 and model.reseeded > 0
    model.eval()
    model(x)
    assert model.steps == 3


def test_vqvae_learns_quickly():
    from kexue_lab.train import fit

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    rows, cols = torch.randint(2, 26, (2, 256, 1, 1, 1), generator=g)
    grid = torch.arange(28)
    x = (
        ((grid[:, None] - rows).abs() <= 1) | ((grid[None, :] - cols).abs() <= 1)
    ).float()  # crosses
    model = M.VQVAE(1, hidden=8, num_codes=16, code_dim=4, n_res=0, reseed_every=5)

    def loss_fn(m, xb, _):
        x_hat, vq, _ = m(xb)
        return F.mse_loss(x_hat, xb) + vq

    fit(model, loss_fn, x, epochs=20, batch_size=32, lr=3e-3, seed=0)
    after, _, _ = M.encode_dataset(model, x)
    assert after < 0.35 * float(
        x.var()
    )  # far better than predicting the mean image (measured 0.19)


def test_independent_prior_code_length_and_samples():
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 2, (500, 2, 3), generator=g)  # only 2 of 4 codes used
    prior = M.fit_independent_prior(codes, 4)
    assert prior.shape == (2, 3, 4)
    torch.testing.assert_close(prior.sum(-1), torch.ones(2, 3, dtype=prior.dtype))
    bits = M.code_length_bits(prior, codes)
    assert 6 * 1.0 <= bits < 6 * 1.05  # ≈ 1 bit per position, against 2 for a uniform prior
    uniform = torch.full((2, 3, 4), 0.25, dtype=torch.float64)
    assert M.code_length_bits(uniform, codes) == pytest.approx(6 * 2.0)
    samples = M.sample_codes(prior, 1000, generator=g)
    assert samples.shape == (1000, 2, 3) and (samples < 2).float().mean() > 0.99
    with pytest.raises(ValueError, match=r"codes must have shape \(N, h, w\)"):
        M.fit_independent_prior(codes.reshape(500, 6), 4)
    with pytest.raises(ValueError, match="alpha"):
        M.fit_independent_prior(codes, 4, alpha=0)


def test_one_code_vqvae_names_one_of_k_images():
    torch.manual_seed(0)
    model = M.OneCodeVQVAE(1, hidden=8, num_codes=4, code_dim=3, n_res=0, image_size=28)
    x = torch.rand(50, 1, 28, 28)
    x_hat, loss, codes = model(x)
    assert x_hat.shape == x.shape and codes.shape == (50, 1, 1) and loss.dim() == 0
    mse, all_codes, rec = M.encode_dataset(model, x)
    assert all_codes.shape == (50, 1, 1)
    assert len(torch.unique(rec.flatten(1), dim=0)) <= 4  # at most K distinct outputs
    torch.testing.assert_close(rec, model.decode_codes(all_codes))  # the code alone decides
    assert mse == pytest.approx(float(F.mse_loss(rec, x)))
    with pytest.raises(ValueError, match="image_size"):
        M.OneCodeVQVAE(1, 8, 4, 3, image_size=30)
    with pytest.raises(ValueError, match="image_size"):
        M.OneCodeVQVAE(1, 8, 4, 3, image_size=32)(torch.rand(2, 1, 28, 28))
