"""Tests of kexue_lab.generative.eae against independent references.

The closed-form checks use N = 2000, k = 3 and the mean over seeds 0–4. The estimator's bias
and spread at that N were measured once over seeds 0–59 (error = estimate − true entropy):

    standard Gaussian, d = 2:  bias −0.0062, per-seed sd 0.0288
    standard Gaussian, d = 5:  bias −0.0612, per-seed sd 0.0445
    uniform on [0, 2]², d = 2: bias +0.0253, per-seed sd 0.0156 (the boundary inflates r_i)

so the mean of five seeds must lie within 5 sd/√5 of true entropy + bias.
"""

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from kexue_lab.generative.eae import knn_entropy, log_unit_ball_volume

N, K, SEEDS = 2000, 3, range(5)


def reference_entropy(z: np.ndarray, k: int) -> float:
    """Kozachenko–Leonenko written independently: a k-d tree and SciPy's digamma."""
    n, d = z.shape
    dist, _ = cKDTree(z).query(z, k=k + 1)  # the first neighbour is the point itself
    log_vd = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return float(digamma(n) - digamma(k) + log_vd + d * np.mean(np.log(dist[:, k])))


def _gaussian(g, d):
    return torch.randn(N, d, generator=g, dtype=torch.float64)


def _uniform(g, d):
    return 2 * torch.rand(N, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize(
    "sample, d, true_h, bias, sd",
    [
        (_gaussian, 2, 1 + math.log(2 * math.pi), -0.0062, 0.0288),
        (_gaussian, 5, 2.5 * (1 + math.log(2 * math.pi)), -0.0612, 0.0445),
        (_uniform, 2, 2 * math.log(2), 0.0253, 0.0156),
    ],
)
def test_knn_entropy_matches_closed_forms(sample, d, true_h, bias, sd):
    est = [float(knn_entropy(sample(torch.Generator().manual_seed(s), d), k=K)) for s in SEEDS]
    err = np.mean(est) - true_h
    assert abs(err - bias) < 5 * sd / math.sqrt(len(SEEDS)), (err, bias)


@pytest.mark.parametrize("n, d, k", [(500, 1, 1), (1500, 3, 1), (1000, 8, 4), (300, 32, 2)])
def test_knn_entropy_agrees_with_ckdtree(n, d, k):
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(n + d), dtype=torch.float64)
    ours = float(knn_entropy(z, k=k))
    assert ours == pytest.approx(reference_entropy(z.numpy(), k), abs=1e-10, rel=0)


def test_knn_entropy_chunked_rows_agree(monkeypatch):
    import kexue_lab.generative.eae as eae

    z = torch.randn(700, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    whole = float(knn_entropy(z, k=2))
    monkeypatch.setattr(eae, "_CHUNK_ELEMENTS", 700 * 64)  # 64 rows at a time, ragged last chunk
    assert float(knn_entropy(z, k=2)) == pytest.approx(whole, abs=1e-12)
    assert whole == pytest.approx(reference_entropy(z.numpy(), 2), abs=1e-10, rel=0)


def test_knn_entropy_float32_and_gradient():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(400, 4, generator=g, dtype=torch.float32, requires_grad=True)
    h = knn_entropy(z)
    assert h.dtype == torch.float32 and h.dim() == 0
    h.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    ref = reference_entropy(z.detach().double().numpy(), 1)
    assert float(h.detach()) == pytest.approx(ref, abs=1e-4)


def test_knn_entropy_gradient_matches_finite_differences():
    z = torch.randn(30, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: knn_entropy(x, k=2), (z.requires_grad_(),))


def test_knn_entropy_scales_by_log_factor():
    # H(aZ) = H(Z) + d log a holds exactly for the estimator: every r_i scales by a.
    z = torch.randn(300, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert float(knn_entropy(5 * z)) == pytest.approx(float(knn_entropy(z)) + 3 * math.log(5))


def test_log_unit_ball_volume_known_values():
    assert log_unit_ball_volume(1) == pytest.approx(math.log(2))
    assert log_unit_ball_volume(2) == pytest.approx(math.log(math.pi))
    assert log_unit_ball_volume(3) == pytest.approx(math.log(4 * math.pi / 3))


@pytest.mark.parametrize(
    "z, k, error, match",
    [
        (np.zeros((5, 2)), 1, TypeError, "torch.Tensor"),
        (torch.zeros(5, 2, dtype=torch.long), 1, TypeError, "floating-point"),
        (torch.randn(5), 1, ValueError, "shape"),
        (torch.randn(2, 3, 4), 1, ValueError, "shape"),
        (torch.randn(5, 0), 1, ValueError, "d >= 1"),
        (torch.randn(3, 2), 3, ValueError, "N > k"),
        (torch.randn(5, 2), 0, ValueError, "k"),
        (torch.randn(5, 2), 1.5, TypeError, "k"),
        (torch.tensor([[0.0, 0.0], [math.nan, 1.0], [1.0, 1.0]]), 1, ValueError, "finite"),
        (torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 1.0]]), 1, ValueError, "duplicate"),
    ],
)
def test_knn_entropy_bad_input(z, k, error, match):
    with pytest.raises(error, match=match):
        knn_entropy(z, k=k)


# --- the model, the loss and the Fréchet distance -------------------------------------------

from scipy.linalg import sqrtm  # noqa: E402

from kexue_lab.generative.eae import EAE, eae_loss, frechet_distance  # noqa: E402


def test_eae_codes_are_batch_standardised_and_decoded_to_pixels():
    torch.manual_seed(0)
    model = EAE(12, code_dim=3, hidden=(8,))
    x = torch.rand(64, 3, 2, 2)  # flattened to 12 values per sample
    with torch.no_grad():
        xhat, z = model(x)
    assert xhat.shape == (64, 12) and z.shape == (64, 3)
    assert float(z.mean(0).abs().max()) < 1e-6
    raw = model.encoder(x.reshape(64, 12)).detach().var(0, unbiased=False)
    want = raw / (raw + model.norm.eps)  # 1 up to BN's ε
    assert torch.allclose(z.var(0, unbiased=False), want, rtol=1e-4)
    assert float(xhat.min()) > 0 and float(xhat.max()) < 1
    assert not any(p is model.norm.weight for p in model.parameters())
    assert model.norm.weight is None and model.norm.bias is None  # affine=False
    model.eval()
    assert model.decode(torch.randn(5, 3)).shape == (5, 12)


def test_eae_loss_is_reconstruction_minus_lambda_entropy():
    torch.manual_seed(1)
    model = EAE(6, code_dim=2, hidden=(5,))
    x = torch.rand(40, 6, dtype=torch.float64)
    model.double()
    loss, parts = eae_loss(0.7, k=2)(model, x, None)
    xhat, z = model(x)
    rec = ((xhat - x) ** 2).sum(1).mean()
    ref_h = reference_entropy(z.detach().numpy(), 2)
    assert float(parts["rec"]) == pytest.approx(float(rec), rel=1e-12)
    assert float(parts["entropy"]) == pytest.approx(ref_h, abs=1e-10)
    assert float(loss) == pytest.approx(float(rec) - 0.7 * ref_h, abs=1e-10)
    loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    plain, _ = eae_loss(0.0)(model, x, None)
    assert float(plain) == pytest.approx(float(rec), rel=1e-12)


def test_entropy_term_pushes_codes_apart():
    # one gradient step on −Ĥ alone increases the estimate (repulsion)
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    z.requires_grad_(True)
    h0 = knn_entropy(z)
    (g,) = torch.autograd.grad(h0, z)
    assert float(knn_entropy(z.detach() + 1e-3 * g)) > float(h0)


def _scipy_frechet(a, b):
    ca, cb = (np.atleast_2d(np.cov(v, rowvar=False)) for v in (a, b))
    root = sqrtm(ca @ cb).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * root))


@pytest.mark.parametrize("n, d, shift", [(200, 3, 0.0), (500, 8, 0.5), (300, 1, 2.0)])
def test_frechet_distance_matches_scipy_sqrtm(n, d, shift):
    g = torch.Generator().manual_seed(n)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = shift + torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(
        d, d, generator=g, dtype=torch.float64
    )
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(_scipy_frechet(a.numpy(), b.numpy()), rel=1e-7, abs=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: EAE(0), ValueError, "x_dim"),
        (lambda: EAE(10, code_dim=2.5), TypeError, "code_dim"),
        (lambda: EAE(10, hidden=(0,)), ValueError, "hidden"),
        (lambda: EAE(10, momentum=2.0), ValueError, "momentum"),
        (lambda: EAE(10, code_dim=2).encode(torch.rand(4, 9)), ValueError, "10 values"),
        (lambda: EAE(10, code_dim=2).encode(torch.ones(4, 10, dtype=torch.long)), TypeError, "x"),
        (lambda: EAE(10, code_dim=2).decode(torch.rand(4, 3)), ValueError, r"\(B, 2\)"),
        (lambda: eae_loss(-1.0), ValueError, "lam"),
        (lambda: eae_loss(1.0, k=0), ValueError, "k"),
        (lambda: frechet_distance(np.zeros((5, 2)), torch.zeros(5, 2)), TypeError, "a must"),
        (lambda: frechet_distance(torch.zeros(1, 2), torch.zeros(5, 2)), ValueError, "2 rows"),
        (lambda: frechet_distance(torch.zeros(5, 2), torch.zeros(5, 3)), ValueError, "columns"),
        (
            lambda: frechet_distance(torch.zeros(5, 2), torch.full((5, 2), math.nan)),
            ValueError,
            "finite",
        ),
    ],
)
def test_model_loss_and_distance_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
