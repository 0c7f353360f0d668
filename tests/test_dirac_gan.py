"""The Dirac-GAN (chapter 11) against SymPy's Jacobian and a plain step-by-step reference."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from kexue_lab.generative import dirac_gan as dg

TH, PS, G = sp.symbols("theta psi gamma", real=True)
F_GAN = -sp.log(1 + sp.exp(-sp.Symbol("t")))


def _sympy_field(gamma: sp.Expr, loss: str = "gan") -> sp.Matrix:
    t = sp.Symbol("t")
    f = F_GAN if loss == "gan" else t
    fp = sp.diff(f, t).subs(t, PS * TH)
    return sp.Matrix([-PS * fp, TH * fp - gamma * PS])


def test_f_prime_is_the_derivative_of_f() -> None:
    t = sp.Symbol("t")
    fp = sp.lambdify(t, sp.diff(F_GAN, t))
    ts = np.linspace(-30, 30, 61)
    assert np.allclose(dg.f_prime(ts), fp(ts), rtol=1e-12, atol=1e-15)
    assert dg.f_prime(0.0) == 0.5 and np.all(dg.f_prime(ts, "wgan") == 1.0)
    assert np.isfinite(dg.f_prime(1e4)) and dg.f_prime(-1e4) == 1.0


def test_jacobian_eigenvalues_symbolic() -> None:
    a = sp.Rational(1, 2)  # f'(0) of the standard GAN
    J0 = _sympy_field(0).jacobian([TH, PS]).subs({TH: 0, PS: 0})
    assert sp.simplify(J0 - sp.Matrix([[0, -a], [a, 0]])) == sp.zeros(2)
    assert set(J0.eigenvals()) == {sp.I * a, -sp.I * a}
    J = _sympy_field(G).jacobian([TH, PS]).subs({TH: 0, PS: 0})
    want = {-G / 2 + sp.sqrt(G**2 / 4 - a**2), -G / 2 - sp.sqrt(G**2 / 4 - a**2)}
    got = set(J.eigenvals())
    assert len(got) == 2
    for lam in got:
        assert any(sp.simplify(lam - w) == 0 for w in want)


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("loss", ["gan", "wgan"])
def test_field_matches_sympy(gamma: float, loss: str) -> None:
    rng = np.random.default_rng(0)
    th, ps = rng.normal(size=20), rng.normal(size=20)
    ref = sp.lambdify((TH, PS), _sympy_field(sp.Float(gamma), loss), "numpy")
    want = np.array([np.broadcast_to(r, th.shape) for r in ref(th, ps)[:, 0]])
    got = np.array(dg.vector_field(th, ps, gamma=gamma, loss=loss))
    assert np.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_gp_field_is_the_gradient_of_the_penalty() -> None:
    psi = np.array([-2.0, -0.5, 0.3, 1.7])
    base = dg.vector_field(0.4, psi, loss="wgan")[1]
    with_gp = dg.vector_field(0.4, psi, gp=10.0, loss="wgan")[1]
    eps = 1e-6
    num = 10 * (((np.abs(psi + eps) - 1) ** 2) - ((np.abs(psi - eps) - 1) ** 2)) / (2 * eps)
    assert np.allclose(base - with_gp, num, atol=1e-5)


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
def test_simulate_matches_a_scalar_loop(mode: str) -> None:
    h, gamma, steps = 0.1, 0.5, 30
    out = dg.simulate([1.0, -0.5], [0.0, 2.0], h=h, steps=steps, gamma=gamma, mode=mode)
    assert out.shape == (steps + 1, 2, 2)
    for j, (th, ps) in enumerate([(1.0, 0.0), (-0.5, 2.0)]):
        for k in range(steps):
            if mode == "simultaneous":
                fp = 1 / (1 + np.exp(th * ps))
                th, ps = th - h * ps * fp, ps + h * (th * fp - gamma * ps)
            else:
                ps = ps + h * (th / (1 + np.exp(th * ps)) - gamma * ps)
                th = th - h * ps / (1 + np.exp(th * ps))
        assert out[-1, :, j] == pytest.approx([th, ps], rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
@pytest.mark.parametrize("gamma", [0.0, 1.0])
def test_update_matrix_is_the_jacobian_of_one_step(mode: str, gamma: float) -> None:
    h, eps = 0.2, 1e-6
    cols = []
    for e in np.eye(2):
        plus = dg.simulate(eps * e[0], eps * e[1], h=h, steps=1, gamma=gamma, mode=mode)[1, :, 0]
        minus = dg.simulate(-eps * e[0], -eps * e[1], h=h, steps=1, gamma=gamma, mode=mode)
        cols.append((plus - minus[1, :, 0]) / (2 * eps))
    M = dg.update_matrix(h, gamma=gamma, mode=mode)
    assert np.allclose(M, np.array(cols).T, atol=1e-8)
    if gamma == 0.0:
        radius = np.abs(np.linalg.eigvals(M))
        target = np.sqrt(1 + (h / 2) ** 2) if mode == "simultaneous" else 1.0
        assert np.allclose(radius, target, atol=1e-12)


def test_simultaneous_radius_grows_and_r1_converges() -> None:
    free = dg.simulate(1.0, 0.0, h=0.1, steps=2000)
    r = np.hypot(free[:, 0, 0], free[:, 1, 0])
    assert np.all(np.diff(r) > 0)
    damped = dg.simulate(1.0, 0.0, h=0.1, steps=2000, gamma=1.0)
    assert np.hypot(*damped[-1, :, 0]) < 1e-20


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="loss"):
        dg.vector_field(0.0, 0.0, loss="hinge")
    with pytest.raises(ValueError, match="gamma"):
        dg.vector_field(0.0, 0.0, gamma=-1.0)
    with pytest.raises(ValueError, match="mode"):
        dg.simulate(0.0, 0.0, h=0.1, steps=2, mode="jacobi")
    with pytest.raises(ValueError, match="h"):
        dg.update_matrix(0.0)
    with pytest.raises((ValueError, TypeError), match="steps"):
        dg.simulate(0.0, 0.0, h=0.1, steps=-1)
