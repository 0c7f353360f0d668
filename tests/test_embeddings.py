import math

import numpy as np
import pytest
import torch

from kexue_lab.architecture import embeddings as emb
from kexue_lab.widgets import explore, slider


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


def test_angle_density_normalised_with_moments():
    th = np.linspace(0, np.pi, 20001)
    for n in (2, 3, 8, 50):
        d = emb.angle_density(th, n)
        assert np.trapezoid(d, th) == pytest.approx(1, abs=1e-7)
        assert np.trapezoid(d * np.cos(th), th) == pytest.approx(0, abs=1e-10)
        assert np.trapezoid(d * np.cos(th) ** 2, th) == pytest.approx(1 / n, abs=1e-7)
    assert emb.angle_density(-0.1, 5) == 0.0 and emb.angle_density(4.0, 5) == 0.0
    with pytest.raises(ValueError, match="n must be >= 2"):
        emb.angle_density(1.0, 1)


def test_h_n_quadrature_bessel_and_article_table():
    ns = np.array(sorted(emb.ARTICLE_H_N))
    q, b = emb.h_n(ns), emb.h_n_bessel(ns)
    assert np.allclose(q, b, atol=1e-8, rtol=0)
    assert np.allclose(q, [emb.ARTICLE_H_N[n] for n in ns], atol=5e-4, rtol=0)
    assert isinstance(emb.h_n(64), float)
    # slope −½ log φ, the exact intercept ≈ −0.074 and the article's Laplace line
    assert emb.h_n_bessel(2000) / 2000 == pytest.approx(emb.SLOPE, abs=1e-4)
    assert emb.h_n_bessel(2000) - 2000 * emb.SLOPE == pytest.approx(-0.074, abs=1e-3)
    assert emb.h_n_laplace(100) == pytest.approx(-0.25 * math.log(5) + 100 * emb.SLOPE)
    with pytest.raises(ValueError, match="n must be <= 2000"):
        emb.h_n_bessel(5000)
    with pytest.raises(ValueError, match="points"):
        emb.h_n(32, points=50)
    with pytest.raises(ValueError, match="n must be >= 3"):
        emb.h_n(2)


def test_h_n_against_monte_carlo_expectations():
    n = 6
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 400_000, n))
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    w = np.exp(n * cos)
    mc = math.log(w.mean()) - n * (w * cos).mean() / w.mean()
    assert emb.h_n(n) == pytest.approx(mc, abs=0.02)


def test_exact_pair_entropy_matches_definition_and_is_stable():
    g = torch.Generator().manual_seed(0)
    U, V = torch.randn(7, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    p = torch.softmax((U @ V.T).flatten(), 0)
    assert emb.exact_pair_entropy(U, V) == pytest.approx(float(-(p * p.log()).sum()), abs=1e-12)
    assert emb.exact_pair_entropy(np.zeros((3, 2)), np.zeros((4, 2))) == pytest.approx(math.log(12))
    big = emb.exact_pair_entropy(100 * U, 100 * V)
    assert math.isfinite(big) and big >= -1e-9
    with pytest.raises(ValueError, match="same number of columns"):
        emb.exact_pair_entropy(U, V[:, :3])
    with pytest.raises(TypeError, match="floating point"):
        emb.exact_pair_entropy(torch.ones(2, 2, dtype=torch.int64), torch.ones(2, 2, dtype=torch.int64))


def test_sphere_and_sampled_entropy():
    x = emb.sphere(50, 9, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(x.norm(dim=1), torch.full((50,), 3.0, dtype=torch.float64))
    assert emb.sampled_entropy(500, 4, seeds=2) == pytest.approx(emb.approx_entropy(500, 4), abs=0.05)
    with pytest.raises(ValueError, match="N must be >= 2"):
        emb.approx_entropy(1, 8)


def test_breakdown_dimension():
    n = emb.breakdown_dimension(64, range(4, 80, 4), seeds=2)
    assert 4 < n < emb.dimension_threshold(64, emb.EXACT_COEF)
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


def test_jl_dimension():
    assert emb.jl_dimension(512, 0.5) == pytest.approx(96 * math.log(512))
    with pytest.raises(ValueError, match="eps"):
        emb.jl_dimension(512, 1.5)


def test_corpus_loader_vocab_pairs_and_sgns(tmp_path):
    text = "The cat sat on the mat.\nThe dog sat on the log; the cat ran!\n" * 30
    f = tmp_path / "tiny.txt"
    f.write_text(text, encoding="utf-8")
    tokens = emb.load_corpus(f)
    assert tokens[:4] == ["the", "cat", "sat", "on"] and len(tokens) == 15 * 30
    vocab, ids = emb.build_vocab(tokens, 5)
    assert vocab["<unk>"] == 0 and vocab["the"] == 1 and len(vocab) == 5
    assert ids.max() == 4 and (ids == 0).sum() > 0
    pairs = emb.skipgram_pairs(torch.tensor([1, 2, 3]), 1)
    assert sorted(map(tuple, pairs.tolist())) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    untrained = emb.sgns_train(ids, ids[:60], 4, 5, epochs=1, lr=1e-9, seed=0)
    trained = emb.sgns_train(ids, ids[:60], 4, 5, epochs=3, lr=0.05, seed=0)
    assert untrained == pytest.approx(6 * math.log(2), rel=1e-3)  # all scores 0: (1 + K)·log 2
    assert trained < untrained
    assert emb.saturation_dimension([8, 16, 32], [1.2, 1.005, 1.0]) == 16.0
    with pytest.raises(ValueError, match="existing text file"):
        emb.load_corpus(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("!!!", encoding="utf-8")
    with pytest.raises(ValueError, match="no words"):
        emb.load_corpus(empty)


def test_exploration_view_over_its_whole_grid():
    ex = explore(
        emb.dimension_view,
        slider("n", 8, 512, steps=25, log=True, integer=True, default=64),
        slider("N", 1e2, 1e7, steps=21, log=True, include=[512, 1e5], default=1e5),
    )
    for view in ex.sweep().values():
        assert len(view.panels) == 2
        for panel in view.panels:
            for curve in panel.curves:
                assert np.all(np.isfinite(np.asarray(curve.y, dtype=float)))
        assert view.readout.startswith("n = ")
    assert "H < 0" in ex(n=128, N=1e5).readout and "H ≥ 0" in ex(n=64, N=1e5).readout
    with pytest.raises(ValueError, match="n must lie"):
        emb.dimension_view(n=1)
