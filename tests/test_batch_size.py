"""Tests of kexue_lab.optimization.batch_size (chapter 22: batch size and learning rate)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from kexue_lab.optimization import batch_size as bs


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _finite_problem(seed: int, n: int = 4, d: int = 3):
    """A quadratic loss and n per-example gradients; Σ is their population covariance."""
    rng = np.random.default_rng(seed)
    H = _spd(rng, d)
    per_example = rng.standard_normal((n, d)) + rng.standard_normal(d)
    g = per_example.mean(0)
    dev = per_example - g
    return g, H, dev.T @ dev / n, per_example


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("B", [1, 2, 3])
def test_optimal_lr_is_the_brute_force_minimiser_over_all_minibatches(seed: int, B: int) -> None:
    g, H, Sigma, per_example = _finite_problem(seed)
    # every ordered minibatch of size B drawn with replacement, equally likely
    batches = np.array(
        [per_example[list(ix)].mean(0) for ix in itertools.product(range(4), repeat=B)]
    )

    def expected_change(eta: float) -> float:  # L(w − η g̃) − L(w) for the quadratic, exactly
        steps = -eta * batches
        return float(np.mean(steps @ g + 0.5 * np.einsum("bi,ij,bj->b", steps, H, steps)))

    best = minimize_scalar(
        expected_change, bounds=(0.0, 100.0), method="bounded", options={"xatol": 1e-12}
    )
    assert bs.optimal_lr(g, H, Sigma, B) == pytest.approx(best.x, rel=1e-7)


def test_optimal_lr_against_monte_carlo_on_gaussian_gradients() -> None:
    rng = np.random.default_rng(0)
    d, n = 5, 400_000
    H, Sigma, g = _spd(rng, d), _spd(rng, d), rng.standard_normal(d)
    chol = np.linalg.cholesky(Sigma)
    for B in (1, 4, 16):
        draws = g + rng.standard_normal((n, d)) @ chol.T / np.sqrt(B)
        num, den = draws @ g, np.einsum("ni,ij,nj->n", draws, H, draws)
        eta_mc = num.mean() / den.mean()  # argmin of the sample mean of the quadratic
        # delta-method standard error of a ratio of means
        se = eta_mc * np.sqrt(np.var(num / num.mean() - den / den.mean()) / n)
        assert abs(bs.optimal_lr(g, H, Sigma, B) - eta_mc) < 5 * se


def test_noise_scale_halves_the_optimal_rate_and_matches_an_explicit_trace() -> None:
    rng = np.random.default_rng(3)
    for d in (1, 2, 7):
        H, Sigma, g = _spd(rng, d), _spd(rng, d), rng.standard_normal(d)
        b_noise = bs.noise_scale(g, H, Sigma)
        trace = sum(Sigma[i, j] * H[j, i] for i in range(d) for j in range(d))
        assert b_noise == pytest.approx(trace / (g @ H @ g), rel=1e-12)
        eta_max = (g @ g) / (g @ H @ g)
        assert bs.optimal_lr(g, H, Sigma, b_noise) == pytest.approx(eta_max / 2, rel=1e-12)
        assert bs.optimal_lr(g, H, Sigma, 1e12) == pytest.approx(eta_max, rel=1e-9)
        for B in (0.5, 3.0, 100.0):
            want = eta_max / (1 + b_noise / B)
            assert bs.optimal_lr(g, H, Sigma, B) == pytest.approx(want, rel=1e-12)


def test_isotropic_hessian_gives_the_simple_noise_scale() -> None:
    rng = np.random.default_rng(5)
    Sigma, g = _spd(rng, 4), rng.standard_normal(4)
    assert bs.noise_scale(g, 3.0 * np.eye(4), Sigma) == pytest.approx(np.trace(Sigma) / (g @ g))


def test_sign_mean_against_the_normal_cdf_and_monte_carlo() -> None:
    g = np.array([-1.0, -0.2, 0.0, 0.3, 2.0])
    sigma, B = np.array([1.0, 0.5, 1.0, 1.0, 3.0]), 8
    want = 2 * norm.cdf(g * np.sqrt(B) / sigma) - 1  # P(x > 0) − P(x < 0)
    assert np.allclose(bs.sign_mean(g, sigma, B), want, atol=1e-14)
    rng = np.random.default_rng(1)
    n = 400_000
    draws = np.sign(g + sigma * rng.standard_normal((n, g.size)) / np.sqrt(B)).mean(0)
    assert np.all(np.abs(draws - want) < 5 / np.sqrt(n))
    assert bs.sign_mean(0.3, 1.0, 8) == pytest.approx(0.603856, abs=1e-6)  # erf(0.6)


def test_sign_optimal_lr_on_the_surge_fixture() -> None:
    n, kappa = 10, 10.0
    g, sigma = np.ones(n), np.full(n, kappa)
    H = 0.5 * np.eye(n) + 0.5 * np.ones((n, n))
    beta = bs.sign_mean(1.0, kappa, 20)
    assert bs.sign_optimal_lr(g, sigma, H, 20) == pytest.approx(
        n * beta / (n + n * (n - 1) * 0.5 * beta**2), rel=1e-12
    )
    assert bs.sign_optimal_lr(g, sigma, H, 20) == pytest.approx(0.22472, abs=5e-5)
    assert bs.sign_optimal_lr(g, sigma, H, 1e9) == pytest.approx(1 / 5.5, rel=1e-9)
    # Monte Carlo of the exact sign directions, coordinates independent
    rng = np.random.default_rng(2)
    u = np.sign(g + sigma * rng.standard_normal((200_000, n)) / np.sqrt(20))
    num, den = u @ g, np.einsum("ni,ij,nj->n", u, H, u)
    eta_mc = num.mean() / den.mean()
    se = eta_mc * np.sqrt(np.var(num / num.mean() - den / den.mean()) / len(u))
    assert abs(bs.sign_optimal_lr(g, sigma, H, 20) - eta_mc) < 5 * se
    # the mean-field μ replaces erf by the algebraic sigmoid with one κ²
    mf = np.full(n, 1 / np.sqrt(1 + np.pi * kappa**2 / 40))
    assert bs.sign_optimal_lr(g, sigma, H, 20, mu=mf) == pytest.approx(
        n * mf[0] / (n + 45 * mf[0] ** 2)
    )


def test_diagonal_hessian_has_no_surge() -> None:
    rng = np.random.default_rng(4)
    g, sigma = rng.standard_normal(6), rng.uniform(0.5, 5, 6)
    H = np.diag(rng.uniform(0.5, 2, 6))
    etas = [bs.sign_optimal_lr(g, sigma, H, B) for B in np.geomspace(1, 1e5, 60)]
    assert np.all(np.diff(etas) > 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"g": [[1.0, 2.0]]}, ValueError, "g must be a non-empty 1-D vector"),
        ({"g": []}, ValueError, "g must be a non-empty 1-D vector"),
        ({"g": ["a", "b"]}, TypeError, "g must be a number or an array"),
        ({"g": [np.nan, 1.0]}, ValueError, "g must be finite"),
        ({"H": np.eye(3)}, ValueError, "H must be a 2×2 matrix"),
        ({"H": [[1.0, 0.5], [0.0, 1.0]]}, ValueError, "H must be symmetric"),
        ({"Sigma": [[1.0, 0.0], [0.0, -1.0]]}, ValueError, "Sigma must be positive semi-definite"),
        ({"B": 0}, ValueError, "B must be > 0"),
        ({"B": "8"}, TypeError, "B must be a real number"),
        ({"B": True}, TypeError, "B must be a real number"),
        ({"H": -np.eye(2)}, ValueError, "no minimum over η"),
    ],
)
def test_optimal_lr_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"g": [1.0, 2.0], "H": np.eye(2), "Sigma": np.eye(2), "B": 4} | kwargs
    with pytest.raises(error, match=match):
        bs.optimal_lr(**args)


def test_other_functions_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="gᵀHg > 0"):
        bs.noise_scale([0.0, 0.0], np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="Sigma must be a 2×2"):
        bs.noise_scale([1.0, 0.0], np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        bs.sign_mean([1.0], [0.0], 4)
    with pytest.raises(ValueError, match="B must be > 0"):
        bs.sign_mean([1.0], [1.0], -1)
    with pytest.raises(ValueError, match="mu must have the shape of g"):
        bs.sign_optimal_lr([1.0, 1.0], 1.0, np.eye(2), 4, mu=[0.5])
    with pytest.raises(ValueError, match="no minimum over η"):
        bs.sign_optimal_lr([1.0, 1.0], 1.0, -np.eye(2), 4)


def test_optimal_lr_takes_an_array_of_batch_sizes() -> None:
    rng = np.random.default_rng(6)
    H, Sigma, g = _spd(rng, 3), _spd(rng, 3), rng.standard_normal(3)
    Bs = np.array([1.0, 8.0, 64.0])
    want = [bs.optimal_lr(g, H, Sigma, float(B)) for B in Bs]
    assert np.allclose(bs.optimal_lr(g, H, Sigma, Bs), want, rtol=1e-14)
    with pytest.raises(ValueError, match="B must be > 0 everywhere"):
        bs.optimal_lr(g, H, Sigma, [1.0, 0.0])
