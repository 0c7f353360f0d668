import math

import numpy as np
import pytest
import torch

from kexue_lab.architecture import embeddings as emb
from kexue_lab.maths import sphere


def test_dimension_threshold_closed_form_and_arrays():
    assert emb.dimension_threshold(1e5) == pytest.approx(8.33 * math.log(1e5), rel=1e-14)
    assert isinstance(emb.dimension_threshold(512), float)
    out = emb.dimension_threshold([2, 512, 1e5], coef=emb.EXACT_COEF)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert np.allclose(out, 4 / math.log((1 + math.sqrt(5)) / 2) * np.log([2, 512, 1e5]))
    assert emb.dimension_threshold(np.array([[4.0]])).shape == (1, 1)


@pytest.mark.parametrize("N", [1, 0, -3, 1.5, [10, 1]])
def test_dimension_threshold_rejects_small_N(N):
    with pytest.raises(ValueError, match="N must be >= 2"):
        emb.dimension_threshold(N)


def test_dimension_threshold_bad_input():
    for coef in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="coef"):
            emb.dimension_threshold(100, coef)
    with pytest.raises(TypeError, match="coef"):
        emb.dimension_threshold(100, "8")
    with pytest.raises(ValueError, match="N must be finite"):
        emb.dimension_threshold(float("inf"))
    with pytest.raises(TypeError, match="N must be"):
        emb.dimension_threshold("many")
    with pytest.raises(TypeError, match="N must be numeric"):
        emb.dimension_threshold(True)


def test_constants():
    phi = (1 + math.sqrt(5)) / 2
    assert emb.SLOPE == pytest.approx(-0.2406059, abs=1e-7)
    assert emb.EXACT_COEF == pytest.approx(2 / (0.5 * math.log(phi)))
    assert round(2 / round(-emb.SLOPE, 2), 2) == emb.ARTICLE_COEF
    assert emb.SLOPE == pytest.approx(-0.5 * math.log(emb.PHI), abs=1e-15)


def test_article_table_of_h_n_and_laplace_line():
    ns = np.array(sorted(emb.ARTICLE_H_N))
    q, b = sphere.h_quadrature(ns), sphere.h_bessel(ns)
    assert np.allclose(q, b, atol=1e-8, rtol=0)
    assert np.allclose(q, [emb.ARTICLE_H_N[n] for n in ns], atol=5e-4, rtol=0)
    # slope −½ log φ, the exact intercept ≈ −0.074 and the article's Laplace line
    assert sphere.h_bessel(2000) / 2000 == pytest.approx(emb.SLOPE, abs=1e-4)
    assert sphere.h_bessel(2000) - 2000 * emb.SLOPE == pytest.approx(-0.074, abs=1e-3)
    assert emb.h_n_laplace(100) == pytest.approx(-0.25 * math.log(5) + 100 * emb.SLOPE)
    assert isinstance(emb.h_n_laplace(100), float)
    assert emb.h_n_laplace([3, 100]).shape == (2,)
    with pytest.raises(ValueError, match="n must be >= 3"):
        emb.h_n_laplace(2)
    with pytest.raises(TypeError, match="n must be numeric"):
        emb.h_n_laplace(True)


def test_approx_entropy_is_2_log_N_plus_h_n():
    assert emb.approx_entropy(1e5, 64) == pytest.approx(7.5525, abs=5e-5)
    assert emb.approx_entropy(1e5, 128) == pytest.approx(-7.846, abs=5e-4)
    out = emb.approx_entropy([100, 1000], 32)
    assert out.shape == (2,)
    assert np.allclose(out, 2 * np.log([100, 1000]) + sphere.h_bessel(32))
    with pytest.raises(ValueError, match="N must be >= 2"):
        emb.approx_entropy(1, 8)
    with pytest.raises(ValueError, match="d must be"):
        emb.approx_entropy(100, 1)


def test_h_n_against_monte_carlo_expectations():
    n = 6
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 400_000, n))
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    w = np.exp(n * cos)
    mc = math.log(w.mean()) - n * (w * cos).mean() / w.mean()
    assert emb.approx_entropy(2, n) - 2 * math.log(2) == pytest.approx(mc, abs=0.02)


def test_exact_pair_entropy_matches_definition_and_is_stable():
    g = torch.Generator().manual_seed(0)
    U, V = (
        torch.randn(7, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 4, generator=g, dtype=torch.float64),
    )
    p = torch.softmax((U @ V.T).flatten(), 0)
    assert emb.exact_pair_entropy(U, V) == pytest.approx(float(-(p * p.log()).sum()), abs=1e-12)
    assert emb.exact_pair_entropy(np.zeros((3, 2)), np.zeros((4, 2))) == pytest.approx(math.log(12))
    big = emb.exact_pair_entropy(100 * U, 100 * V)
    assert math.isfinite(big) and big >= -1e-9
    with pytest.raises(ValueError, match="same number of columns"):
        emb.exact_pair_entropy(U, V[:, :3])
    with pytest.raises(TypeError, match="floating point"):
        emb.exact_pair_entropy(
            torch.ones(2, 2, dtype=torch.int64), torch.ones(2, 2, dtype=torch.int64)
        )


def test_sphere_and_sampled_entropy():
    x = emb.sphere(50, 9, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(x.norm(dim=1), torch.full((50,), 3.0, dtype=torch.float64))
    assert emb.sampled_entropy(500, 4, seeds=2) == pytest.approx(
        emb.approx_entropy(500, 4), abs=0.05
    )
    with pytest.raises(ValueError, match="seeds"):
        emb.sampled_entropy(10, 4, seeds=0)


def test_sampled_entropies_follow_the_seed():
    h = emb.sampled_entropies(30, 5, draws=3, seed=7)
    g = torch.Generator().manual_seed(7)  # reference: the definition −Σ p log p, draw by draw
    for value in h:
        U = emb.sphere(30, 5, generator=g, dtype=torch.float32)
        V = emb.sphere(30, 5, generator=g, dtype=torch.float32)
        p = torch.softmax((U.double() @ V.double().T).flatten(), 0)
        assert value == pytest.approx(float(-(p * p.log()).sum()), abs=1e-4)
    assert np.array_equal(h, emb.sampled_entropies(30, 5, draws=3, seed=7))
    assert not np.allclose(h, emb.sampled_entropies(30, 5, draws=3, seed=8))
    assert emb.sampled_entropy(30, 5, seeds=3, seed=7) == pytest.approx(h.mean())
    with pytest.raises(ValueError, match="draws"):
        emb.sampled_entropies(10, 4, draws=0)
    with pytest.raises(ValueError, match="seed"):
        emb.sampled_entropies(10, 4, seed=-1)


def test_breakdown_dimension():
    n = emb.breakdown_dimension(64, range(4, 80, 4), seeds=2)
    assert 4 < n < emb.dimension_threshold(64, emb.EXACT_COEF)
    assert 4 < emb.breakdown_dimension(64, range(4, 80, 4), seeds=2, seed=5) < 80
    assert math.isnan(emb.breakdown_dimension(64, [4], seeds=1))
    with pytest.raises(ValueError, match="gap"):
        emb.breakdown_dimension(64, [4], gap=0)


def test_capacity_toy_and_needed_dimension():
    r = emb.capacity_toy(16, [1, 2, 8], k=2, steps=60, seed=0)
    assert r.shape == (3,) and np.all((0 <= r) & (r <= 1))
    assert r[2] == 1.0 and r[0] < 1.0
    assert emb.needed_dimension([2, 4, 6], [0.5, 0.8, 1.0], 0.9) == pytest.approx(5.0)
    assert emb.needed_dimension([2, 4], [0.95, 1.0]) == 2.0
    assert math.isnan(emb.needed_dimension([2, 4], [0.1, 0.2]))
    with pytest.raises(ValueError, match="k must be < N"):
        emb.capacity_toy(4, [2], k=4)
    with pytest.raises(ValueError, match="increase"):
        emb.needed_dimension([4, 2], [0.1, 0.2])


def test_fit_log_slope_recovers_a_line():
    N = np.array([10, 100, 1000, 10_000])
    fit = emb.fit_log_slope(N, 3.0 * np.log(N) + 2.0)
    assert fit["slope"] == pytest.approx(3.0) and fit["intercept"] == pytest.approx(2.0)
    assert fit["slope_se"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match=">= 3"):
        emb.fit_log_slope([10, 100], [1, 2])
