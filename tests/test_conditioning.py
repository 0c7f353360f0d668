import math

import numpy as np
import pytest

from kexue_lab.architecture import conditioning as cd


def test_standardize_second_moment_and_logistic_gd():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 2.0, size=(200, 3))
    X[:, 2] = 1.0
    Z = cd.standardize(X)
    assert (
        np.allclose(Z[:, :2].mean(0), 0)
        and np.allclose(Z[:, :2].std(0), 1)
        and np.allclose(Z[:, 2], 0)
    )
    assert np.allclose(cd.standardize(X, center=True, scale=False), X - X.mean(0))
    M = cd.second_moment(X, bias=True)
    assert M.shape == (4, 4) and M[3, 3] == 1.0 and np.allclose(M[:3, 3], X.mean(0))
    y = (X[:, 0] > 5.0).astype(float)
    theta, losses = cd.logistic_gd(cd.standardize(X[:, :2]), y, steps=50)
    assert losses[0] == pytest.approx(math.log(2)) and np.all(
        np.diff(losses) <= 1e-15
    )  # η = 1/L: monotone
    with pytest.raises(ValueError, match="y must hold one label"):
        cd.logistic_gd(X, y[:-1], steps=5)
    with pytest.raises(ValueError, match="X must have shape"):
        cd.second_moment(np.ones(3))


def test_conditioning_problem_matches_sampled_moments():
    rng = np.random.default_rng(1)
    c, r = 3.0, 10.0
    cov = np.outer([1, r], [1, r]) * np.array([[1, cd.VIEW_RHO], [cd.VIEW_RHO, 1]])
    x = rng.multivariate_normal([c, c], cov, size=400_000)
    H, star, A, m = cd.conditioning_problem(c, r, "raw")
    assert np.allclose(H, cd.second_moment(x, bias=True), rtol=0.02, atol=0.05)
    assert np.allclose(A @ star, np.append(cd.VIEW_W, cd.VIEW_B))
    Hs, _, _, ms = cd.conditioning_problem(c, r, "standardised")
    assert np.allclose(ms, 0) and np.allclose(
        np.linalg.eigvalsh(Hs), [1 - cd.VIEW_RHO, 1, 1 + cd.VIEW_RHO]
    )
    with pytest.raises(ValueError, match="prep"):
        cd.conditioning_problem(1.0, 1.0, "whitened")  # type: ignore[arg-type]


def test_steps_to_tol_matches_a_direct_run():
    H, star, _, _ = cd.conditioning_problem(3.0, 10.0, "centred")
    n = cd.steps_to_tol(H, -star, 1e-6)
    L = np.linalg.eigvalsh(H).max()
    theta, gap0 = np.zeros(3), 0.5 * star @ H @ star
    for _ in range(n - 1):
        theta -= H @ (theta - star) / L
    gap = lambda t: 0.5 * (t - star) @ H @ (t - star)  # noqa: E731
    assert gap(theta) > 1e-6 * gap0
    assert gap(theta - H @ (theta - star) / L) <= 1e-6 * gap0


def test_gd_trajectory_matches_a_direct_run():
    H, star, _, _ = cd.conditioning_problem(2.0, 3.0, "raw")
    L = np.linalg.eigvalsh(H).max()
    gap, thetas = cd.gd_trajectory(H, star, [0, 1, 5, 40])
    theta, direct = np.zeros(3), {}
    for t in range(41):
        direct[t] = theta.copy()
        theta = theta - H @ (theta - star) / L
    f = lambda t: 0.5 * (t - star) @ H @ (t - star)  # noqa: E731
    for k, t in enumerate([0, 1, 5, 40]):
        assert np.allclose(thetas[k], direct[t], atol=1e-10)
        assert gap[k] == pytest.approx(f(direct[t]) / f(np.zeros(3)), rel=1e-8, abs=1e-15)
    with pytest.raises(ValueError, match="H must be a symmetric"):
        cd.gd_trajectory(np.ones((2, 3)), star, [1])
    with pytest.raises(ValueError, match="steps must be"):
        cd.gd_trajectory(H, star, [-1])
    with pytest.raises(ValueError, match="positive definite"):
        cd.gd_trajectory(np.zeros((3, 3)), star, [1])
    with pytest.raises(ValueError, match="tol must be > 0"):
        cd.steps_to_tol(H, -star, tol=0.0)


def test_logistic_gd_per_weight_steps_are_standardisation():
    """Standardising the inputs = GD on centred inputs with step η/σᵢ² per weight (chapter 14)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3)) * np.array([0.01, 1.0, 50.0]) + np.array([1.0, -2.0, 30.0])
    y = (X @ np.array([100.0, 1.0, 0.02]) + rng.normal(size=300) > 0).astype(float)
    Xs, Xc, sd = cd.standardize(X), cd.standardize(X, scale=False), X.std(0)
    eta = 0.7
    th_s, loss_s = cd.logistic_gd(Xs, y, steps=100, lr=eta)
    # the reference: a direct loop, per-weight steps, on the centred inputs
    Xt, th = np.hstack([Xc, np.ones((300, 1))]), np.zeros(4)
    steps = eta * np.append(1 / sd**2, 1.0)
    for _ in range(100):
        th = th - steps * (Xt.T @ (1 / (1 + np.exp(-Xt @ th)) - y)) / 300
    th_c, loss_c = cd.logistic_gd(Xc, y, steps=100, lr=steps)
    assert np.allclose(th_c, th, rtol=1e-12, atol=1e-12)
    assert np.allclose(loss_c, loss_s, atol=1e-12)
    assert np.allclose(th_c[:3] * sd, th_s[:3]) and th_c[3] == pytest.approx(th_s[3])
    with pytest.raises(ValueError, match="per-parameter steps"):
        cd.logistic_gd(Xc, y, steps=3, lr=np.ones(3))
    with pytest.raises(ValueError, match="per-parameter steps"):
        cd.logistic_gd(Xc, y, steps=3, lr=-np.ones(4))
