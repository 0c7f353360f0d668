"""Tests of kexue_lab.generative.vq (chapter 06: quantiser, straight-through, code statistics)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kexue_lab.generative import vq as G
from kexue_lab.maths.entropy import perplexity


def _vq(num_codes=16, dim=4, beta=0.25, seed=0):
    torch.manual_seed(seed)
    vq = G.VectorQuantizer(num_codes, dim, beta)
    with torch.no_grad():
        vq.codebook.normal_()
    return vq


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
    brute = (
        torch.cdist(z.reshape(-1, 4).double(), vq.codebook.double()).argmin(1).reshape(z.shape[:-1])
    )
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


def test_batch_perplexity_matches_perplexity():
    codes = torch.tensor([[0, 1, 1], [3, 3, 3]])
    assert float(G.batch_perplexity(codes, 5)) == pytest.approx(
        perplexity(torch.tensor([1, 2, 0, 3, 0]))
    )
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
