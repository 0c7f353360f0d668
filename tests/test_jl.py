import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2, kstest

from kexue_lab.maths import jl


def _cloud(n=12, d=30, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


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
    assert jl.jl_distortion(x, dim, seed) == pytest.approx(worst, rel=1e-12)
    # numpy input, same numbers; another seed, another projection
    assert jl.jl_distortion(x.numpy(), dim, seed) == pytest.approx(worst, rel=1e-12)
    assert jl.jl_distortion(x, dim, seed + 1) != pytest.approx(worst, rel=1e-6)


def test_ratios_follow_chi2_over_dim():
    ratios = jl.squared_distance_ratios(_cloud(2, 40), 5, seed=1, repeats=4000)[:, 0].numpy()
    assert ratios.shape == (4000,)
    assert kstest(ratios * 5, chi2(5).cdf).pvalue > 1e-3
    assert jl.squared_distance_ratios(_cloud(5), 3, repeats=2).shape == (2, 10)


def test_jl_bound_closed_form_and_dominance_over_a_grid():
    assert jl.jl_bound(100, 0.3) == pytest.approx(2 * math.exp(-100 * 0.09 / 8), rel=1e-14)
    for dim in (1, 2, 5, 17, 64, 100, 400, 1000, 3000):
        for eps in np.linspace(0.01, 0.99, 50):
            exact, cher, bound = (
                jl.chi2_tail(dim, eps),
                jl.chernoff_tail(dim, eps),
                jl.jl_bound(dim, eps),
            )
            assert exact <= cher * (1 + 1e-12) and cher <= bound * (1 + 1e-12)


def test_chi2_tail_against_monte_carlo_and_known_values():
    assert jl.chi2_tail(100, 0.3) == pytest.approx(0.03336, rel=1e-3)
    assert jl.chi2_tail(400, 0.1) == pytest.approx(0.1567, rel=1e-3)
    z = torch.randn(200_000, 10, generator=torch.Generator().manual_seed(0)).pow(2).mean(1)
    freq = float(((z - 1).abs() >= 0.5).double().mean())
    p = jl.chi2_tail(10, 0.5)
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / 200_000)


def test_jl_dimension_numbers_and_arrays():
    assert jl.jl_dimension(100, 0.1) == pytest.approx(24 * math.log(100) / 0.01)
    assert jl.jl_dimension(512, 0.5, const=16) == pytest.approx(64 * math.log(512))
    out = jl.jl_dimension(np.array([100, 1000]), 0.5)
    assert isinstance(out, np.ndarray) and np.allclose(out, 96 * np.log([100, 1000]))
    assert isinstance(jl.jl_dimension(100, 0.5), float)
    with pytest.raises(ValueError, match="n_points must be >= 2"):
        jl.jl_dimension(np.array([10, 1]), 0.5)
    with pytest.raises(ValueError, match="const must be > 0"):
        jl.jl_dimension(10, 0.5, const=0)


def test_bad_input():
    x = _cloud()
    with pytest.raises(ValueError, match="rows 0 and 3 coincide"):
        jl.jl_distortion(torch.cat([x[:3], x[:1]]), 4)
    with pytest.raises(ValueError, match=r"shape \(N, D\).*got shape \(12,\)"):
        jl.jl_distortion(x[:, 0], 4)
    with pytest.raises(ValueError, match="N >= 2"):
        jl.jl_distortion(x[:1], 4)
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        jl.jl_distortion(x, 0)
    with pytest.raises(TypeError, match="dim must be a positive integer"):
        jl.jl_distortion(x, 2.5)
    with pytest.raises(TypeError, match="numeric"):
        jl.jl_distortion([["a", "b"], ["c", "d"]], 2)
    with pytest.raises(ValueError, match="finite"):
        jl.jl_distortion(torch.tensor([[0.0, 1.0], [float("nan"), 0.0]]), 2)
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\)"):
        jl.jl_bound(10, 1.0)
    with pytest.raises(ValueError, match="eps"):
        jl.chi2_tail(10, 0.0)
    with pytest.raises(ValueError, match="dim"):
        jl.jl_bound(0, 0.5)
    with pytest.raises(ValueError, match="n_points must be >= 2"):
        jl.jl_dimension(1, 0.5)


def test_curves_and_distortion_level():
    dims = np.array([1, 10, 100])
    assert np.allclose(jl.chi2_tail_curve(dims, 0.2), [jl.chi2_tail(int(k), 0.2) for k in dims])
    assert np.allclose(jl.jl_bound_curve(dims, 0.2), 2 * np.exp(-dims * 0.04 / 8))
    with pytest.raises(ValueError, match="dims must be positive integers"):
        jl.jl_bound_curve(np.array([0.5]), 0.2)
    level = jl.distortion_level(64, 128, alpha=0.01)
    tail = chi2.cdf(128 * (1 - level), 128) + chi2.sf(128 * (1 + level), 128)
    assert 64 * 63 / 2 * tail == pytest.approx(0.01, rel=1e-8)
    assert jl.distortion_level(16, 4) > 1  # small k: the level lies beyond 1
    with pytest.raises(ValueError, match="alpha"):
        jl.distortion_level(16, 4, alpha=1.5)
