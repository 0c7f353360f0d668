"""kexue_lab.foundations.em against scikit-learn, SciPy and direct loops, bad input included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax
from scipy.stats import binom, multivariate_normal
from sklearn.datasets import load_iris
from sklearn.mixture import GaussianMixture

from kexue_lab.foundations import em

IRIS = load_iris().data


def _random_params(rng: np.random.Generator, k: int, d: int) -> tuple[np.ndarray, ...]:
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(size=(k, d))
    a = rng.normal(size=(k, d, d))
    covs = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
    return weights, means, covs


# ---- the two steps --------------------------------------------------------------------------
def test_log_joint_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    w, mu, cov = _random_params(rng, 4, 3)
    ours = em.gmm_log_joint(x, w, mu, cov).numpy()
    ref = np.stack(
        [np.log(w[j]) + multivariate_normal(mu[j], cov[j]).logpdf(x) for j in range(4)], axis=1
    )
    assert ours.shape == (40, 4)
    assert np.allclose(ours, ref, atol=1e-11)


def test_e_step_is_the_posterior() -> None:
    rng = np.random.default_rng(1)
    log_joint = rng.normal(scale=30, size=(25, 5))  # large values: needs log-sum-exp
    resp, loglik = em.e_step(torch.from_numpy(log_joint))
    assert np.allclose(resp.numpy(), softmax(log_joint, axis=1), atol=1e-14)
    assert loglik == pytest.approx(logsumexp(log_joint, axis=1).mean(), abs=1e-12)


@pytest.mark.parametrize("cov", em.COVARIANCE_TYPES)
def test_m_step_matches_direct_loops(cov: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3))
    resp = rng.dirichlet(np.ones(4), size=30)
    w, mu, sigma = (t.numpy() for t in em.m_step(x, resp, cov))
    for j in range(4):
        nj = resp[:, j].sum()
        assert w[j] == pytest.approx(nj / 30, abs=1e-14)
        mean = sum(resp[i, j] * x[i] for i in range(30)) / nj
        assert np.allclose(mu[j], mean, atol=1e-13)
        full = sum(resp[i, j] * np.outer(x[i] - mean, x[i] - mean) for i in range(30)) / nj
        want = {
            "full": full,
            "diag": np.diag(np.diag(full)),
            "spherical": np.trace(full) / 3 * np.eye(3),
        }[cov] + em.REG_COVAR * np.eye(3)
        assert np.allclose(sigma[j], want, atol=1e-12)


def test_joint_objective_is_nll_plus_gap() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 2))
    log_joint = em.gmm_log_joint(x, *_random_params(rng, 3, 2))
    posterior, loglik = em.e_step(log_joint)
    q = rng.dirichlet(np.ones(3), size=50)
    gap = em.posterior_gap(log_joint, q)
    assert gap > 0
    assert em.joint_objective(log_joint, q) == pytest.approx(-loglik + gap, abs=1e-12)
    assert em.joint_objective(log_joint, posterior) == pytest.approx(-loglik, abs=1e-12)
    assert em.posterior_gap(log_joint, posterior) == pytest.approx(0.0, abs=1e-14)


# ---- EM against scikit-learn ----------------------------------------------------------------
@pytest.mark.parametrize("cov", em.COVARIANCE_TYPES)
def test_em_gmm_matches_sklearn_from_the_same_start(cov: str) -> None:
    result = em.em_gmm(IRIS, 3, iters=60, cov=cov, seed=4)
    gm = GaussianMixture(3, covariance_type=cov, tol=0, max_iter=60, **em.sklearn_init(result))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 runs every iteration
        gm.fit(IRIS)
    assert np.allclose(result.weights, gm.weights_, atol=1e-10)
    assert np.allclose(result.means, gm.means_, atol=1e-9)
    assert em.fit_difference(result, gm.weights_, gm.means_, gm.covariances_) < 1e-9
    assert np.allclose(result.resp, gm.predict_proba(IRIS), atol=1e-8)
    assert result.loglik[-1] == pytest.approx(gm.score(IRIS), abs=1e-10)
    assert result.loglik.shape == (60,) and result.resp.shape == (150, 3)
    assert result.covariances.shape == (3, 4, 4)
    # a different fit is told apart, and the order of the components does not matter
    order = [2, 0, 1]
    shuffled = em.fit_difference(
        result, gm.weights_[order], gm.means_[order], gm.covariances_[order]
    )
    assert shuffled < 1e-9
    assert em.fit_difference(result, gm.weights_, gm.means_ + 0.01, gm.covariances_) > 0.009


def test_diagonal_path_and_exact_m_step() -> None:
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.normal(size=(30, 3)))
    w, mu, cov = (torch.from_numpy(a) for a in _random_params(rng, 2, 3))
    cov = torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
    fast = em._log_joint(x, w, mu, cov, diagonal=True)
    assert torch.allclose(fast, em.gmm_log_joint(x, w, mu, cov), atol=1e-12)
    resp = rng.dirichlet(np.ones(2), size=30)
    _, _, exact = em.m_step(x, resp, "diag", reg_covar=0.0)
    _, _, floored = em.m_step(x, resp, "diag")
    assert torch.allclose(floored - exact, em.REG_COVAR * torch.eye(3).double(), atol=1e-15)
    result = em.em_gmm(IRIS, 3, iters=150, seed=1, reg_covar=0.0)
    assert np.diff(np.r_[result.loglik_init, result.loglik]).min() >= -1e-13


@pytest.mark.parametrize("seed", range(4))
def test_loglik_never_decreases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-2, 0.5, (60, 1)), rng.normal(1.5, 1.0, (140, 1))])
    for cov, data in (("full", x), ("diag", IRIS), ("spherical", IRIS)):
        result = em.em_gmm(data, 2 if data is x else 3, iters=120, cov=cov, seed=seed)
        steps = np.diff(np.r_[result.loglik_init, result.loglik])
        assert steps.min() >= -1e-12, (cov, steps.min())


def test_recovers_a_known_mixture() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    z = rng.random(n) < 0.3
    x = np.where(z, rng.normal(-2, 0.5, n), rng.normal(1.5, 1.0, n))[:, None]
    result = em.em_gmm(x, 2, iters=200, init_means=[[-1.0], [1.0]])
    order = np.argsort(result.means[:, 0])
    assert np.allclose(result.weights[order], [0.3, 0.7], atol=0.03)
    assert np.allclose(result.means[order, 0], [-2, 1.5], atol=0.08)
    assert np.allclose(np.sqrt(result.covariances[order, 0, 0]), [0.5, 1.0], atol=0.08)


def test_tensors_in_tensors_out_and_default_start() -> None:
    x = torch.from_numpy(IRIS)
    result = em.em_gmm(x, 3, iters=5, seed=7)
    assert torch.is_tensor(result.means) and result.means.dtype == torch.float64
    picked = np.random.default_rng(7).choice(150, size=3, replace=False)
    assert np.allclose(result.init_means.numpy(), IRIS[picked])
    again = em.em_gmm(IRIS, 3, iters=5, seed=7)
    assert np.allclose(again.means, result.means.numpy(), atol=1e-13)


def test_half_steps_are_coordinate_descent() -> None:
    x = IRIS[:, 2:3]
    states = em.em_half_steps(x, 2, iters=15, init_means=[[5.0], [6.0]])
    assert [s.step for s in states[:3]] == ["start", "M 1", "E 1"] and len(states) == 31
    objective = np.array([s.objective for s in states])
    assert np.diff(objective).max() <= 1e-14  # J never rises
    for s in states:
        assert s.objective == pytest.approx(s.nll + s.gap, abs=1e-12)
        assert (s.gap == pytest.approx(0, abs=1e-14)) if s.step[0] in "sE" else s.gap >= -1e-15
    result = em.em_gmm(x, 2, iters=15, init_means=[[5.0], [6.0]])
    e_states = [s for s in states if s.step.startswith("E")]
    assert np.allclose([-s.nll for s in e_states], result.loglik, atol=1e-13)


# ---- the two coins -------------------------------------------------------------------------
def test_coins_reproduce_do_and_batzoglou() -> None:
    heads = [5, 9, 8, 4, 7]
    result = em.em_coins(heads, 10, [0.6, 0.5], iters=10)
    assert np.allclose(result.thetas[1], [0.71, 0.58], atol=0.005)  # Fig. 1b, iteration 1
    assert np.allclose(result.thetas[10], [0.80, 0.52], atol=0.005)  # Fig. 1b, iteration 10
    first = result.weights[0][:, 0]
    assert np.allclose(first, [0.45, 0.80, 0.73, 0.35, 0.65], atol=0.005)
    assert first[1] == pytest.approx(0.6**9 * 0.4 / (0.6**9 * 0.4 + 0.5**10), abs=1e-12)
    assert result.thetas.shape == (11, 2) and result.weights.shape == (10, 5, 2)


def test_binomial_log_joint_matches_scipy() -> None:
    h = np.array([0, 3, 10])
    ours = em.binomial_log_joint(h, 10, [0.3, 0.9], prior=[0.25, 0.75])
    ref = np.log([0.25, 0.75]) + binom.logpmf(h[:, None], 10, np.array([0.3, 0.9]))
    assert np.allclose(ours, ref, atol=1e-12)


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(x=IRIS[:, 0]), ValueError, "x must be a 2-D"),
        (dict(x=np.full((5, 2), np.nan)), ValueError, "x must be finite"),
        (dict(x="data"), TypeError, "x must be"),
        (dict(k=0), ValueError, "k must be a positive integer"),
        (dict(k=True), TypeError, "k must be a positive integer"),
        (dict(k=151), ValueError, "k=151"),
        (dict(iters=0), ValueError, "iters"),
        (dict(iters=2.5), TypeError, "iters"),
        (dict(cov="tied"), ValueError, "cov='tied'"),
        (dict(init_means=np.zeros((2, 4))), ValueError, "init_means must have shape"),
        (dict(init_means=np.full((3, 4), np.inf)), ValueError, "init_means must be finite"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(reg_covar=-1e-6), ValueError, "reg_covar"),
    ],
)
def test_em_gmm_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = dict(x=IRIS, k=3, iters=2) | kwargs
    with pytest.raises(error, match=match):
        em.em_gmm(**args)


def test_steps_and_coins_bad_input() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="resp must have shape"):
        em.m_step(x, np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="covariances must be symmetric positive definite"):
        em.gmm_log_joint(x, [0.5, 0.5], np.zeros((2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="means must have shape"):
        em.gmm_log_joint(x, [1.0], np.zeros((1, 3)), np.eye(3)[None])
    with pytest.raises(TypeError, match="log_joint"):
        em.e_step(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="thetas must lie strictly between 0 and 1"):
        em.binomial_log_joint([3], 10, [0.0, 0.5])
    with pytest.raises(ValueError, match="heads and tosses"):
        em.binomial_log_joint([11], 10, [0.4, 0.5])
    with pytest.raises(ValueError, match="theta0 must hold two"):
        em.em_coins([3, 4], 10, [0.5])
    fit = em.em_gmm(IRIS, 3, iters=2)
    with pytest.raises(ValueError, match="weights and means must have shapes"):
        em.fit_difference(fit, np.ones(2) / 2, np.zeros((2, 4)), np.ones((2, 4, 4)))
