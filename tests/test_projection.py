import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2, kstest

import kexue_lab.architecture.attention as attention
from kexue_lab.maths import jl as pj
from kexue_lab.widgets import explore, slider


def _cloud(n=12, d=30, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_both_import_paths_are_the_same_functions():
    assert attention.jl_distortion is pj.jl_distortion
    assert attention.jl_bound is pj.jl_bound


def test_jl_distortion_matches_a_pairwise_loop():
    x = _cloud()
    dim, seed = 7, 3
    gen = torch.Generator().manual_seed(seed)
    proj = torch.randn(1, x.shape[1], dim, generator=gen, dtype=torch.float64)[0] / math.sqrt(dim)
    worst = 0.0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            r = ((x[i] - x[j]) @ proj).pow(2).sum() / (x[i] - x[j]).pow(2).sum()
            worst = max(worst, abs(float(r) - 1))
    assert attention.jl_distortion(x, dim, seed) == pytest.approx(worst, rel=1e-12)
    # numpy input, same numbers; another seed, another projection
    assert pj.jl_distortion(x.numpy(), dim, seed) == pytest.approx(worst, rel=1e-12)
    assert pj.jl_distortion(x, dim, seed + 1) != pytest.approx(worst, rel=1e-6)


def test_ratios_follow_chi2_over_dim():
    ratios = pj.squared_distance_ratios(_cloud(2, 40), 5, seed=1, repeats=4000)[:, 0].numpy()
    assert ratios.shape == (4000,)
    assert kstest(ratios * 5, chi2(5).cdf).pvalue > 1e-3
    assert pj.squared_distance_ratios(_cloud(5), 3, repeats=2).shape == (2, 10)


def test_jl_bound_closed_form_and_dominance_over_a_grid():
    assert attention.jl_bound(100, 0.3) == pytest.approx(2 * math.exp(-100 * 0.09 / 8), rel=1e-14)
    for dim in (1, 2, 5, 17, 64, 100, 400, 1000, 3000):
        for eps in np.linspace(0.01, 0.99, 50):
            exact, cher, bound = pj.chi2_tail(dim, eps), pj.chernoff_tail(dim, eps), pj.jl_bound(dim, eps)
            assert exact <= cher * (1 + 1e-12) and cher <= bound * (1 + 1e-12)


def test_chi2_tail_against_monte_carlo_and_known_values():
    assert pj.chi2_tail(100, 0.3) == pytest.approx(0.03336, rel=1e-3)
    assert pj.chi2_tail(400, 0.1) == pytest.approx(0.1567, rel=1e-3)
    z = torch.randn(200_000, 10, generator=torch.Generator().manual_seed(0)).pow(2).mean(1)
    freq = float(((z - 1).abs() >= 0.5).double().mean())
    p = pj.chi2_tail(10, 0.5)
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / 200_000)


def test_jl_dimension_and_ideal_key_size():
    assert pj.jl_dimension(100, 0.1) == pytest.approx(24 * math.log(100) / 0.01)
    assert pj.jl_dimension(512, 0.5, const=16) == pytest.approx(64 * math.log(512))
    assert pj.ideal_key_size(512, 64) == pytest.approx(64)
    assert pj.ideal_key_size(64, 64) == pytest.approx(64 * 2 / 3)
    assert pj.ideal_key_size(4096, 64) == pytest.approx(64 * 4 / 3)


def test_bad_input():
    x = _cloud()
    with pytest.raises(ValueError, match="rows 0 and 3 coincide"):
        pj.jl_distortion(torch.cat([x[:3], x[:1]]), 4)
    with pytest.raises(ValueError, match=r"shape \(N, D\).*got shape \(12,\)"):
        pj.jl_distortion(x[:, 0], 4)
    with pytest.raises(ValueError, match="N >= 2"):
        pj.jl_distortion(x[:1], 4)
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        attention.jl_distortion(x, 0)
    with pytest.raises(TypeError, match="dim must be a positive integer"):
        pj.jl_distortion(x, 2.5)
    with pytest.raises(TypeError, match="numeric"):
        pj.jl_distortion([["a", "b"], ["c", "d"]], 2)
    with pytest.raises(ValueError, match="finite"):
        pj.jl_distortion(torch.tensor([[0.0, 1.0], [float("nan"), 0.0]]), 2)
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\)"):
        attention.jl_bound(10, 1.0)
    with pytest.raises(ValueError, match="eps"):
        pj.chi2_tail(10, 0.0)
    with pytest.raises(ValueError, match="dim"):
        pj.jl_bound(0, 0.5)
    with pytest.raises(ValueError, match="n_points must be >= 2"):
        pj.jl_dimension(1, 0.5)
    with pytest.raises(ValueError, match="n and base must be > 1"):
        pj.ideal_key_size(1, 64)
    with pytest.raises(ValueError, match="d must be an integer key size >= 2"):
        pj.planted_key_mass(64, 1)
    with pytest.raises(ValueError, match="cos must lie in"):
        pj.planted_key_argmax_prob(64, 8, cos=1.0)
    with pytest.raises(ValueError, match="extend the grid"):
        pj.smallest_passing(np.arange(2, 5), np.zeros(3), 0.5)


def test_sharpen_is_softmax_of_scaled_logits():
    z = torch.randn(3, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for a in (0.5, 1.0, 1.7, 3.0):
        assert torch.allclose(pj.sharpen(torch.softmax(z, -1), a), torch.softmax(a * z, -1), atol=1e-14)
    p = torch.softmax(z, -1)
    assert (pj.entropy(pj.sharpen(p, 2.0)) < pj.entropy(p)).all()
    assert float(pj.entropy(torch.full((8,), 1 / 8))) == pytest.approx(math.log(8))
    with pytest.raises(ValueError, match="non-negative"):
        pj.sharpen(torch.tensor([-0.1, 1.1]), 2.0)
    with pytest.raises(ValueError, match="a must be > 0"):
        pj.sharpen(p, 0.0)


def test_cosine_law_against_explicit_vectors():
    d = 9
    g = torch.randn(20_000, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    cos = (g[:, 0] / g.norm(dim=1)).numpy()
    assert kstest(cos, lambda t: pj.cosine_cdf(t, d)).pvalue > 1e-3


def test_planted_key_exact_and_mean_field_against_monte_carlo():
    n, d, draws = 1024, 32, 4000
    mass, top = pj.planted_key_trials(n, d, draws=draws, seed=5)
    p = float(pj.planted_key_argmax_prob(n, d))
    assert abs(top.mean() - p) < 4 * math.sqrt(p * (1 - p) / draws)
    # many keys: the sum concentrates, so the mean field is close to the Monte Carlo mean
    assert mass.mean() == pytest.approx(float(pj.planted_key_mass(n, d)), rel=0.03)
    # large d: E[e^{s cos}] → e^{1/2}
    big = float(pj.planted_key_mass(100, 600))
    assert big == pytest.approx(1 / (1 + 99 * math.exp(0.5 - 0.6 * math.sqrt(600))), rel=0.01)
    with pytest.raises(ValueError, match="d must be <= 600"):
        pj.planted_key_mass(100, 601)


def test_power_law_fit_and_smallest_passing():
    x = np.array([2.0, 4.0, 8.0])
    assert pj.power_law_fit(x, 3 * x**2) == pytest.approx((2.0, 0.0), abs=1e-12)
    assert pj.power_law_fit(x, 3 * x**2, power=1.0)[1] > 0.1
    assert pj.smallest_passing(np.arange(2, 6), np.array([0.1, 0.4, 0.6, 0.9]), 0.5) == 4


def test_exploration_views_over_their_whole_grids():
    jl = explore(
        pj.jl_view,
        slider("n_points", 10, 100_000, steps=6, log=True, integer=True, default=512),
        slider("eps", 0.1, 0.9, steps=9, default=0.5),
        slider("dim", 8, 1024, steps=8, log=True, integer=True, default=64),
    )
    sh = explore(pj.sharpen_view, slider("length", 16, 65536, steps=13, log=True, integer=True, default=4096))
    for ex in (jl, sh):
        for view in ex.sweep().values():
            for panel in view.panels:
                for curve in panel.curves:
                    assert np.all(np.isfinite(np.asarray(curve.y, dtype=float)))
    assert "exact 0.006" in jl(n_points=512, eps=0.5, dim=64).readout
    assert sh(length=512).readout.startswith("entropy 3.097 → 3.097")


def test_curves_and_distortion_level():
    dims = np.array([1, 10, 100])
    assert np.allclose(pj.chi2_tail_curve(dims, 0.2), [pj.chi2_tail(int(k), 0.2) for k in dims])
    assert np.allclose(pj.jl_bound_curve(dims, 0.2), 2 * np.exp(-dims * 0.04 / 8))
    with pytest.raises(ValueError, match="dims must be positive integers"):
        pj.jl_bound_curve(np.array([0.5]), 0.2)
    level = pj.distortion_level(64, 128, alpha=0.01)
    tail = chi2.cdf(128 * (1 - level), 128) + chi2.sf(128 * (1 + level), 128)
    assert 64 * 63 / 2 * tail == pytest.approx(0.01, rel=1e-8)
    assert pj.distortion_level(16, 4) > 1  # small k: the level lies beyond 1
    with pytest.raises(ValueError, match="alpha"):
        pj.distortion_level(16, 4, alpha=1.5)
