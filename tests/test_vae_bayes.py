"""Tests of kexue_lab.generative.vae_bayes against loops over the definitions and SciPy."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from kexue_lab.generative.vae_bayes import joint_kl_terms, linear_vae_optimum


def _tables(seed, n_x=5, n_z=3):
    rng = np.random.default_rng(seed)
    p_x = rng.dirichlet(np.ones(n_x))
    p_zx = rng.dirichlet(np.ones(n_z), size=n_x)
    q_z = rng.dirichlet(np.ones(n_z))
    q_xz = rng.dirichlet(np.ones(n_x), size=n_z).T  # columns q(x|z)
    return p_x, p_zx, q_z, q_xz


def _by_loops(p_x, p_zx, q_z, q_xz):
    n_x, n_z = p_zx.shape
    joint = rec = kl = 0.0
    for i in range(n_x):
        for k in range(n_z):
            p, q = p_x[i] * p_zx[i, k], q_xz[i, k] * q_z[k]
            joint += p * math.log(p / q)
            rec -= p * math.log(q_xz[i, k])
            kl += p * math.log(p_zx[i, k] / q_z[k])
    q_x = [sum(q_xz[i, k] * q_z[k] for k in range(n_z)) for i in range(n_x)]
    ent = -sum(p * math.log(p) for p in p_x)
    return joint, rec, kl, ent, q_x


@pytest.mark.parametrize("seed", range(4))
def test_joint_kl_terms_match_the_definitions(seed):
    tables = _tables(seed)
    t = joint_kl_terms(*tables)
    joint, rec, kl, ent, q_x = _by_loops(*tables)
    assert t["joint_kl"] == pytest.approx(joint, abs=1e-12)
    assert t["reconstruction"] == pytest.approx(rec, abs=1e-12)
    assert t["kl"] == pytest.approx(kl, abs=1e-12)
    assert t["entropy"] == pytest.approx(ent, abs=1e-12) and t["data_term"] == -t["entropy"]
    p_x = tables[0]
    assert t["marginal_kl"] == pytest.approx(sum(p * math.log(p / q) for p, q in zip(p_x, q_x)))
    # the two decompositions of the loss
    assert t["loss"] == pytest.approx(t["joint_kl"] + t["entropy"], abs=1e-12)
    assert t["loss"] - t["entropy"] == pytest.approx(
        t["marginal_kl"] + t["posterior_kl"], abs=1e-12
    )
    assert t["reconstruction"] >= t["entropy"] - t["information"] - 1e-12
    assert t["kl"] >= t["information"] - 1e-12


def test_posterior_equal_to_prior_gives_no_information():
    p_x, _, q_z, q_xz = _tables(7)
    t = joint_kl_terms(p_x, np.tile(q_z, (5, 1)), q_z, q_xz)
    assert t["kl"] == pytest.approx(0.0, abs=1e-15) and t["information"] == pytest.approx(
        0.0, abs=1e-15
    )
    assert t["reconstruction"] >= t["entropy"]
    best = joint_kl_terms(p_x, np.tile(q_z, (5, 1)), q_z, np.tile(p_x[:, None], (1, 3)))
    assert best["reconstruction"] == pytest.approx(best["entropy"], abs=1e-12)


@pytest.mark.parametrize(
    "args, name",
    [
        (([0.5, 0.6], np.full((2, 2), 0.5), [0.5, 0.5], np.full((2, 2), 0.5)), "p_x"),
        (([0.5, 0.5], np.full((3, 2), 0.5), [0.5, 0.5], np.full((2, 2), 0.5)), "p_z_given_x"),
        (([0.5, 0.5], np.full((2, 2), 0.5), [0.2, 0.2, 0.6], np.full((2, 2), 0.5)), "q_z"),
        (([0.5, 0.5], np.full((2, 2), 0.5), [0.5, 0.5], [[0.9, 0.5], [0.2, 0.5]]), "q_x_given_z"),
        (([-0.5, 1.5], np.full((2, 2), 0.5), [0.5, 0.5], np.full((2, 2), 0.5)), "p_x"),
    ],
)
def test_joint_kl_terms_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        joint_kl_terms(*args)


def _one_direction_loss(params, lam, s2):
    """𝓛 per sample for x ~ N(0, λ), encoder N(a x, v), decoder N(w z, s2), by moments."""
    w, a, log_v = params
    v = math.exp(log_v)
    sq_err = lam * (1 - w * a) ** 2 + w**2 * v  # E (x − w z)²
    return (
        sq_err / (2 * s2) + 0.5 * math.log(2 * math.pi * s2) + 0.5 * (a * a * lam + v - log_v - 1)
    )


@pytest.mark.parametrize("lam, s2", [(2.0, 0.5), (0.3, 0.5), (5.0, 0.01)])
def test_one_direction_matches_numerical_optimisation(lam, s2):
    best = minimize(
        _one_direction_loss,
        [0.5, 0.5, -1.0],
        args=(lam, s2),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000},
    )
    ours = linear_vae_optimum([lam], s2, 1)
    assert ours["loss"] == pytest.approx(best.fun, abs=1e-7)
    assert bool(ours["active"][0]) == (lam > s2)


def test_totals_are_the_ppca_negative_log_likelihood():
    rng = np.random.default_rng(0)
    lam = rng.exponential(1.0, size=12)
    for s2, d in [(0.2, 5), (0.01, 12), (3.0, 4)]:
        out = linear_vae_optimum(lam, s2, d)
        top = np.sort(lam)[::-1]
        cov = np.concatenate([np.maximum(top[:d], s2), np.full(12 - d, s2)])  # WWᵀ + σ²I, diagonal
        nll = 0.5 * np.sum(np.log(2 * np.pi * cov) + top / cov)
        assert out["loss"] == pytest.approx(nll, rel=1e-12)
        assert out["rate"] == pytest.approx(out["kl"].sum()) and out["kl"].shape == (d,)


@pytest.mark.parametrize(
    "args, name",
    [
        (([1.0, -1.0], 0.1, 1), "eigenvalues"),
        (([1.0], 0.0, 1), "sigma2"),
        (([1.0], 0.1, 2), "z_dim"),
    ],
)
def test_linear_vae_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        linear_vae_optimum(*args)
