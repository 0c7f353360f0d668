"""Tests of kexue_lab.generative.vq (chapter 6: VQ-VAE)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kexue_lab.generative import vq as G
from kexue_lab import widgets as w


def _vq(num_codes=16, dim=4, beta=0.25, seed=0):
    torch.manual_seed(seed)
    vq = G.VectorQuantizer(num_codes, dim, beta)
    with torch.no_grad():
        vq.codebook.normal_()
    return vq


# ---- VectorQuantizer --------------------------------------------------------------------------------
def test_codebook_is_a_named_parameter_of_the_right_shape():
    vq = G.VectorQuantizer(32, 5)
    assert isinstance(vq.codebook, torch.nn.Parameter) and vq.codebook.shape == (32, 5)
    assert dict(vq.named_parameters())["codebook"] is vq.codebook
    assert vq.beta == 0.25
    assert vq.codebook.abs().max() <= 1 / 32  # documented init: uniform in [-1/K, 1/K]


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5, 4), (4,)])
def test_forward_shapes_and_nearest_row(shape):
    vq = _vq()
    z = torch.randn(*shape)
    z_q, loss, codes = vq(z)
    assert z_q.shape == z.shape and codes.shape == z.shape[:-1] and loss.dim() == 0
    assert codes.dtype == torch.long
    brute = torch.cdist(z.reshape(-1, 4).double(), vq.codebook.double()).argmin(1).reshape(z.shape[:-1])
    assert torch.equal(codes, brute)
    assert torch.equal(z_q, vq.codebook[codes].detach())  # bit-exact, not just close


def test_z_q_equals_the_codebook_rows():
    vq = _vq()
    z = torch.randn(50, 4, dtype=torch.float64)
    vq = vq.double()
    z_q, _, codes = vq(z)
    assert torch.equal(z_q, vq.codebook[codes].detach())


def test_straight_through_gradient_is_the_identity_for_z():
    vq = _vq().double()
    z = torch.randn(6, 3, 4, dtype=torch.float64, requires_grad=True)
    z_q, _, _ = vq(z)
    weights = torch.randn_like(z)
    (gz,) = torch.autograd.grad((weights * z_q).sum(), z)
    torch.testing.assert_close(gz, weights, rtol=0, atol=0)


def test_codebook_gets_gradient_only_from_the_codebook_term():
    vq = _vq().double()
    z = torch.randn(40, 4, dtype=torch.float64, requires_grad=True)
    z_q, loss, codes = vq(z)
    # through z_q (the reconstruction path) the codebook receives nothing
    (g_rec,) = torch.autograd.grad((z_q**2).sum(), vq.codebook, allow_unused=True)
    assert g_rec is None or torch.count_nonzero(g_rec) == 0
    # through the loss it receives exactly the gradient of mean((sg[z] - e)^2)
    g_loss, gz_loss = torch.autograd.grad(loss, [vq.codebook, z])
    e = vq.codebook[codes]
    (g_ref,) = torch.autograd.grad(F.mse_loss(e, z.detach()), vq.codebook)
    torch.testing.assert_close(g_loss, g_ref)
    # and z only the commitment term, beta * d/dz mean((z - sg[e])^2)
    torch.testing.assert_close(gz_loss, vq.beta * 2 * (z - e).detach() / z.numel())


@pytest.mark.parametrize("beta", [0.0, 0.25, 1.7])
def test_loss_value_is_the_formula(beta):
    vq = _vq(beta=beta).double()
    z = torch.randn(3, 9, 4, dtype=torch.float64)
    _, loss, codes = vq(z)
    e = vq.codebook[codes].detach()
    expected = ((z - e) ** 2).mean() + beta * ((z - e) ** 2).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-12, atol=0)


def test_codes_match_cdist_argmin_on_many_vectors():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(10_000, 8, generator=g, dtype=torch.float64)
    book = torch.randn(128, 8, generator=g, dtype=torch.float64)
    assert torch.equal(G.nearest_codes(z, book), torch.cdist(z, book).argmin(1))
    d = G.squared_distances(z[:100], book)
    torch.testing.assert_close(d, torch.cdist(z[:100], book) ** 2, rtol=1e-9, atol=1e-9)


def test_float32_disagreements_with_cdist_are_only_near_ties():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(10_000, 16, generator=g)
    book = torch.randn(256, 16, generator=g)
    ours = G.nearest_codes(z, book)
    exact = torch.cdist(z.double(), book.double())
    gap = exact.gather(1, ours[:, None]).squeeze(1) - exact.min(1).values
    assert gap.max() < 1e-4


def test_codebook_follows_the_input_dtype_and_stays_on_device():
    vq = _vq()
    z = torch.randn(5, 4, dtype=torch.float64)
    z_q, loss, codes = vq(z)
    assert z_q.dtype == torch.float64 and loss.dtype == torch.float64
    assert z_q.device == z.device == codes.device


def test_straight_through_function_value_and_jacobian():
    z = torch.randn(4, 3, requires_grad=True)
    target = torch.randn(4, 3, requires_grad=True)
    out = G.straight_through(z, target)
    assert torch.equal(out.detach(), target.detach())
    literal = z + (target - z).detach()  # the article's arrangement: equal up to rounding only
    torch.testing.assert_close(literal, out, rtol=0, atol=1e-6)
    gz, gt = torch.autograd.grad(out.sum(), [z, target], allow_unused=True)
    assert torch.equal(gz, torch.ones_like(z)) and (gt is None or torch.count_nonzero(gt) == 0)
    with pytest.raises(ValueError, match="same shape"):
        G.straight_through(z, target[:2])


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((0, 4), ValueError, "num_codes.*positive integer.*got 0"),
        ((-3, 4), ValueError, "num_codes.*got -3"),
        ((8, 0), ValueError, "dim.*got 0"),
        ((8.0, 4), TypeError, "num_codes.*integer.*8.0"),
        ((8, 4, -0.1), ValueError, "beta must be >= 0, got -0.1"),
        ((8, 4, float("nan")), ValueError, "beta must be a finite number"),
        ((8, 4, float("inf")), ValueError, "beta must be a finite number"),
        ((8, 4, "0.25"), TypeError, "beta must be a real number"),
    ],
)
def test_bad_constructor_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        G.VectorQuantizer(*args)


def test_bad_inputs_name_expected_and_got():
    vq = G.VectorQuantizer(8, 4)
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 4\).*expected 4, got 3"):
        vq(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expected 4, got a 0-d tensor"):
        vq(torch.tensor(1.0))
    with pytest.raises(TypeError, match="floating-point.*int64"):
        vq(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="torch tensor.*ndarray"):
        vq(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="no vectors"):
        vq(torch.zeros(0, 4))


def test_vector_quantizer_is_fast_enough():
    import time

    vq = G.VectorQuantizer(512, 64)
    z = torch.randn(64 * 64, 64)
    book = vq.codebook.detach()

    def best_of(fn, reps=3):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    vq(z)
    ours = best_of(lambda: vq(z))
    brute = best_of(lambda: ((z[:, None, :] - book[None]) ** 2).sum(-1).argmin(1))
    assert ours < brute / 2  # one addmm against an (N, K, d) difference tensor: ~7× measured


# ---- statistics and re-seeding ------------------------------------------------------------------
def test_perplexity_on_known_inputs():
    assert G.perplexity(torch.tensor([5, 5, 5, 5])) == pytest.approx(4.0)
    assert G.perplexity(torch.tensor([7, 0, 0])) == pytest.approx(1.0)
    assert G.perplexity(torch.tensor([1, 1, 0, 0])) == pytest.approx(2.0)
    p = np.array([0.5, 0.25, 0.25])
    assert G.perplexity(torch.tensor([2, 1, 1])) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    with pytest.raises(ValueError, match="sum to 0"):
        G.perplexity(torch.zeros(3))
    with pytest.raises(ValueError, match="non-negative"):
        G.perplexity(torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="1-D"):
        G.perplexity(torch.ones(2, 2))


def test_batch_perplexity_matches_perplexity():
    codes = torch.tensor([[0, 1, 1], [3, 3, 3]])
    assert float(G.batch_perplexity(codes, 5)) == pytest.approx(G.perplexity(torch.tensor([1, 2, 0, 3, 0])))
    with pytest.raises(TypeError, match="integer tensor"):
        G.batch_perplexity(codes.float(), 5)


def test_codebook_stats():
    s = G.codebook_stats(torch.tensor([[0, 0], [2, 2]]), 4)
    assert s.counts.tolist() == [2, 0, 2, 0]
    assert (s.used, s.dead, s.usage) == (2, 2, 0.5)
    assert s.perplexity == pytest.approx(2.0)
    assert "2/4 codes used (2 dead)" in str(s)
    with pytest.raises(ValueError, match=r"indices in \[0, 3\].*from 0 to 4"):
        G.codebook_stats(torch.tensor([0, 4]), 4)
    with pytest.raises(TypeError, match="integer tensor"):
        G.codebook_stats(torch.tensor([0.0, 1.0]), 4)
    with pytest.raises(ValueError, match="num_codes"):
        G.codebook_stats(torch.tensor([0]), 0)


def test_reseed_moves_only_dead_codes_onto_encodings():
    vq = _vq(num_codes=6, dim=3)
    before = vq.codebook.detach().clone()
    z = torch.randn(100, 3)
    counts = torch.tensor([5, 0, 3, 0, 0, 1])
    moved = G.reseed_dead_codes(vq, z, counts, generator=torch.Generator().manual_seed(0))
    assert moved == 3
    alive = counts > 0
    assert torch.equal(vq.codebook[alive], before[alive])
    for row in vq.codebook.detach()[~alive]:
        assert (z == row).all(1).any()  # each dead code now sits on an encoding
    assert len({tuple(r.tolist()) for r in vq.codebook.detach()[~alive]}) == 3  # distinct encodings
    assert G.reseed_dead_codes(vq, z, torch.ones(6, dtype=torch.long)) == 0
    assert G.reseed_dead_codes(vq, z, counts, min_count=2) == 4
    with pytest.raises(ValueError, match=r"counts must be a tensor of shape \(6,\)"):
        G.reseed_dead_codes(vq, z, torch.ones(5))
    with pytest.raises(ValueError, match="expected 3, got 2"):
        G.reseed_dead_codes(vq, torch.randn(4, 2), counts)
    with pytest.raises(TypeError, match="VectorQuantizer"):
        G.reseed_dead_codes(torch.nn.Linear(2, 2), z, counts)


def test_reseeding_revives_dead_codes_in_quantization():
    torch.manual_seed(0)
    vq = G.VectorQuantizer(8, 2)
    z = torch.randn(400, 2) * 3 + 10  # far from the tiny initial codebook
    _, _, codes = vq(z)
    stats = G.codebook_stats(codes, 8)
    assert stats.dead >= 4
    G.reseed_dead_codes(vq, z, stats.counts)
    _, _, codes = vq(z)
    assert G.codebook_stats(codes, 8).used > stats.used


# ---- the model ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels, size, grid", [(1, 28, 7), (3, 32, 8)])
def test_vqvae_shapes(channels, size, grid):
    torch.manual_seed(0)
    model = G.VQVAE(channels, hidden=8, num_codes=16, code_dim=4, n_res=1)
    x = torch.rand(3, channels, size, size)
    x_hat, loss, codes = model(x)
    assert x_hat.shape == x.shape and codes.shape == (3, grid, grid) and loss.dim() == 0
    assert model.decode_codes(codes).shape == x.shape
    mse, all_codes, rec = G.encode_dataset(model, x, batch_size=2)
    assert all_codes.shape == (3, grid, grid) and rec.shape == x.shape and mse > 0
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, H, W\)"):
        G.VQVAE(1, 8, 16, 4)(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="hidden"):
        G.VQVAE(1, 0)


def test_without_straight_through_the_encoder_gets_no_reconstruction_gradient():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 28, 28)
    for st in (True, False):
        model = G.VQVAE(1, hidden=8, num_codes=16, code_dim=4, n_res=1, straight_through=st)
        x_hat, _, _ = model(x)
        grads = torch.autograd.grad(F.mse_loss(x_hat, x), list(model.encoder.parameters()), allow_unused=True)
        total = sum(float(g.abs().sum()) for g in grads if g is not None)
        assert (total > 0) == st


def test_vqvae_reseeding_runs_in_training_only():
    torch.manual_seed(0)
    model = G.VQVAE(1, hidden=8, num_codes=32, code_dim=4, n_res=0, reseed_every=2)
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
    x = (((grid[:, None] - rows).abs() <= 1) | ((grid[None, :] - cols).abs() <= 1)).float()  # crosses
    model = G.VQVAE(1, hidden=8, num_codes=16, code_dim=4, n_res=0, reseed_every=5)

    def loss_fn(m, xb, _):
        x_hat, vq, _ = m(xb)
        return F.mse_loss(x_hat, xb) + vq

    fit(model, loss_fn, x, epochs=20, batch_size=32, lr=3e-3, seed=0)
    after, _, _ = G.encode_dataset(model, x)
    assert after < 0.35 * float(x.var())  # far better than predicting the mean image (measured 0.19)


# ---- prior ----------------------------------------------------------------------------------------------
def test_independent_prior_code_length_and_samples():
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 2, (500, 2, 3), generator=g)  # only 2 of 4 codes used
    prior = G.fit_independent_prior(codes, 4)
    assert prior.shape == (2, 3, 4)
    torch.testing.assert_close(prior.sum(-1), torch.ones(2, 3, dtype=prior.dtype))
    bits = G.code_length_bits(prior, codes)
    assert 6 * 1.0 <= bits < 6 * 1.05  # ≈ 1 bit per position, against 2 for a uniform prior
    uniform = torch.full((2, 3, 4), 0.25, dtype=torch.float64)
    assert G.code_length_bits(uniform, codes) == pytest.approx(6 * 2.0)
    samples = G.sample_codes(prior, 1000, generator=g)
    assert samples.shape == (1000, 2, 3) and (samples < 2).float().mean() > 0.99
    with pytest.raises(ValueError, match=r"codes must have shape \(N, h, w\)"):
        G.fit_independent_prior(codes.reshape(500, 6), 4)
    with pytest.raises(ValueError, match="alpha"):
        G.fit_independent_prior(codes, 4, alpha=0)


# ---- toy, K-means and the exploration --------------------------------------------------------------------
def test_ring_data_and_lloyd():
    data = G.ring_data(800, modes=8, radius=4.0, sigma=0.1, seed=1)
    assert data.shape == (800, 2)
    r = data.norm(dim=1)
    assert (r - 4).abs().max() < 0.6
    angles = 2 * math.pi * torch.arange(8) / 8
    truth = 4 * torch.stack([angles.cos(), angles.sin()], 1)
    centres = G.kmeans_lloyd(data, truth + 0.3, iters=20)
    assert (centres - truth).norm(dim=1).max() < 0.05


def test_toy_gradient_matches_autograd_of_the_quantizer():
    data = G.ring_data(64, seed=2).double()
    vq = G.VectorQuantizer(5, 2).double()
    with torch.no_grad():
        vq.codebook.copy_(data[:5] + 0.1)
    _, loss, codes = vq(data)  # z has no grad: the loss is the codebook term only (β irrelevant)
    (g,) = torch.autograd.grad(loss, vq.codebook)
    np_codes, np_grad = G.toy_codebook_gradient(data.numpy(), vq.codebook.detach().numpy())
    assert np.array_equal(np_codes, codes.numpy())
    np.testing.assert_allclose(np_grad, g.numpy(), rtol=1e-12, atol=1e-15)


def test_toy_run_dead_codes_and_reseeding():
    _, books, perp = G.toy_codebook_run(8, "corner", False)
    assert books.shape == (401, 8, 2) and perp.shape == (401,)
    assert not books.flags.writeable  # cached for the exploration: read-only
    assert perp[-1] < 2.5  # most codes dead
    _, _, perp_rs = G.toy_codebook_run(8, "corner", True)
    assert perp_rs[-1] > 6.5


def test_exploration_view_over_its_whole_grid():
    ex = w.explore(
        G.quantization_view,
        w.choice("num_codes", {"4": 4, "8": 8, "16": 16}, default=8),
        w.slider("step", 0, 400, steps=17, default=100, integer=True),
        w.choice("init", {"random data points": "data", "far corner": "corner"}, default="corner"),
        w.choice("reseed", {"off": False, "on": True}),
    )
    views = ex.sweep()
    assert len(views) == 3 * 17 * 2 * 2
    for view in views.values():
        assert isinstance(view, w.View) and len(view.panels) == 3 and "codes used" in view.readout
    assert len(ex.static_html()) < 400_000


def test_quantization_view_readout_counts():
    v = G.quantization_view(8, 400, "corner", False)
    assert "2/8 codes used, 6 dead" in v.readout
    v = G.quantization_view(8, 400, "corner", True)
    assert "8/8 codes used, 0 dead" in v.readout
    with pytest.raises(ValueError, match="init"):
        G.quantization_view(8, 0, "middle", False)
