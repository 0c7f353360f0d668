"""kexue_lab.maths.sphere against closed forms, SciPy quadrature and explicit vectors."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.stats import kstest

from kexue_lab.maths import sphere


def test_angle_density_normalised_with_the_right_moments():
    for d in (2, 3, 8, 64):
        assert quad(lambda t: sphere.angle_density(t, d), 0, math.pi)[0] == pytest.approx(1.0)
        second = quad(lambda t: math.cos(t) ** 2 * sphere.angle_density(t, d), 0, math.pi)[0]
        assert second == pytest.approx(1 / d, abs=1e-10)
    assert sphere.angle_density(-0.1, 8) == 0.0 and sphere.angle_density(4.0, 8) == 0.0
    assert sphere.angle_density(1.0, 3) == pytest.approx(math.sin(1.0) / 2)  # d = 3: sin θ / 2
    assert sphere.angle_density(0.3, 2) == pytest.approx(1 / math.pi)
    out = sphere.angle_density(np.array([0.5, 1.0]), np.array([[4], [16]]))
    assert out.shape == (2, 2)
    assert math.exp(sphere.log_normaliser(3)) == pytest.approx(0.5)


def test_cosine_law_against_explicit_vectors_and_the_random_draw():
    d = 9
    g = torch.randn(20_000, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    cos = (g[:, 0] / g.norm(dim=1)).numpy()
    assert kstest(cos, lambda t: sphere.cosine_cdf(t, d)).pvalue > 1e-3
    drawn = sphere.random_cosines(d, 20_000, np.random.default_rng(3))
    assert kstest(drawn, lambda t: sphere.cosine_cdf(t, d)).pvalue > 1e-3
    assert drawn.var() == pytest.approx(1 / d, rel=0.03)
    assert sphere.cosine_cdf(0.0, 7) == pytest.approx(0.5)
    assert sphere.cosine_cdf(-2.0, 7) == 0.0 and sphere.cosine_cdf(2.0, 7) == 1.0
    assert sphere.random_cosines(5, (3, 4), np.random.default_rng(0)).shape == (3, 4)


def test_log_mean_exp_cos_against_quadrature():
    for d, kappa in [(3, 2.0), (8, 0.5), (64, 40.0), (300, 17.0)]:
        direct = quad(
            lambda t: sphere.angle_density(t, d) * math.exp(kappa * (math.cos(t) - 1)),
            0,
            math.pi,
            limit=200,
            epsabs=0.0,
            epsrel=1e-12,
        )[0]
        assert sphere.log_mean_exp_cos(d, kappa) == pytest.approx(
            math.log(direct) + kappa, rel=1e-9
        )
    assert sphere.log_mean_exp_cos(3, 1.0) == pytest.approx(math.log(math.sinh(1.0)))  # d = 3
    out = sphere.log_mean_exp_cos(np.array([4, 16]), np.array([1.0, 4.0]))
    assert out.shape == (2,)


def test_h_two_ways_agree_with_a_direct_quadrature():
    d, lam = 40, 0.8
    w = lambda t: sphere.angle_density(t, d) * math.exp(lam * d * math.cos(t))  # noqa: E731
    z = quad(w, 0, math.pi, limit=200)[0]
    m = quad(lambda t: w(t) * math.cos(t), 0, math.pi, limit=200)[0]
    direct = math.log(z) - lam * d * m / z
    assert sphere.h_quadrature(d, lam) == pytest.approx(direct, rel=1e-8)
    assert sphere.h_bessel(d, lam) == pytest.approx(direct, rel=1e-8)
    dims = np.array([32, 64, 128, 512, 1024])
    assert np.allclose(sphere.h_quadrature(dims, 1.0), sphere.h_bessel(dims, 1.0), atol=1e-9)
    # the word-vector table (archives/7695) at λ = 1
    assert sphere.h_quadrature(32) == pytest.approx(-7.77471, rel=1e-5)
    assert sphere.h_quadrature(512) == pytest.approx(-123.264, rel=1e-5)


def test_laplace_peak_and_limit():
    phi = (1 + math.sqrt(5)) / 2
    assert sphere.laplace_peak(1.0) == pytest.approx(1 / phi, rel=1e-14)
    assert sphere.laplace_limit(1.0) == pytest.approx(-0.5 * math.log(phi), rel=1e-14)
    for lam in (0.3, 1.0, 3.0):
        c = sphere.laplace_peak(lam)
        assert lam * c**2 + c - lam == pytest.approx(0.0, abs=1e-14)
        slope = float(np.diff(sphere.h_quadrature([1024, 2048], lam))[0]) / 1024
        assert slope == pytest.approx(sphere.laplace_limit(lam), rel=1e-4)
    assert sphere.laplace_limit(1e-3) == pytest.approx(-0.5e-6, rel=1e-3)  # −λ²/2


def test_bad_input():
    with pytest.raises(ValueError, match="d must be >= 2"):
        sphere.angle_density(1.0, 1)
    with pytest.raises(TypeError, match="theta must be numeric"):
        sphere.angle_density(True, 8)
    with pytest.raises(ValueError, match="theta must be finite"):
        sphere.angle_density(np.nan, 8)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        sphere.random_cosines(8, 3, rng=0)
    with pytest.raises(ValueError, match="d must be >= 2"):
        sphere.random_cosines(1, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="kappa must be > 0"):
        sphere.log_mean_exp_cos(8, 0.0)
    with pytest.raises(ValueError, match="d must be <= 2000"):
        sphere.log_mean_exp_cos(2001, 1.0)
    with pytest.raises(ValueError, match="d must be >= 2"):
        sphere.h_bessel(1)
    with pytest.raises(ValueError, match="d must be >= 3"):
        sphere.h_quadrature(2)
    with pytest.raises(ValueError, match="lam must be > 0"):
        sphere.h_quadrature(64, 0.0)
    with pytest.raises(ValueError, match="points must be >= 101"):
        sphere.h_quadrature(64, 1.0, points=50)
    with pytest.raises(ValueError, match="lam must be > 0"):
        sphere.laplace_peak(-1.0)
    with pytest.raises(TypeError, match="t must be"):
        sphere.cosine_cdf("x", 8)


def test_the_circle_d_2_has_the_bessel_i0_law():
    from scipy.special import iv

    assert sphere.log_mean_exp_cos(2, 3.0) == pytest.approx(np.log(iv(0, 3.0)), rel=1e-14)
    assert sphere.h_bessel(2) == pytest.approx(np.log(iv(0, 2.0)) - 2 * iv(1, 2.0) / iv(0, 2.0))
