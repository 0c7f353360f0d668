"""Tests of kexue_lab.optimization.eg against independent references (chapter 23)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from kexue_lab.optimization import eg


def _kl_prox(theta_t: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
    """argmin_{θ>0} lr⟨g, θ⟩ + Σ θ log(θ/θ_t) − θ + θ_t, by numerical optimisation (in log θ)."""

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        th = np.exp(u)
        value = lr * g @ th + np.sum(th * (u - np.log(theta_t)) - th + theta_t)
        grad_th = lr * g + (u - np.log(theta_t))
        return float(value), grad_th * th

    start = np.log(theta_t)
    res = minimize(objective, start, jac=True, method="BFGS", options={"gtol": 1e-12})
    return np.exp(res.x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eg_step_is_the_kl_proximal_argmin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.1, 3.0, 6)
    g = rng.normal(size=6)
    lr = 0.7
    ours = eg.eg_step(theta, g, lr)
    assert ours == pytest.approx(_kl_prox(theta, g, lr), rel=1e-6)
    assert (ours > 0).all()


def test_eg_step_on_tensors_matches_numpy() -> None:
    theta = torch.tensor([0.5, 2.0, 1e-3], dtype=torch.float64)
    g = torch.tensor([1.0, -2.0, 30.0], dtype=torch.float64)
    out = eg.eg_step(theta, g, 0.1)
    assert torch.is_tensor(out)
    assert out.numpy() == pytest.approx(eg.eg_step(theta.numpy(), g.numpy(), 0.1), rel=1e-15)


def test_eg_iterates_stay_positive_where_gd_would_go_negative() -> None:
    theta = np.array([1.0])
    for _ in range(10_000):  # L = ½(θ + 1)²: the unconstrained minimiser is −1
        theta = eg.eg_step(theta, theta + 1.0, 0.1)
    assert 0 < theta[0] < 1e-3


@pytest.mark.parametrize(
    ("theta", "grad", "lr", "error", "match"),
    [
        ([1.0, 0.0], [0.0, 0.0], 0.1, ValueError, "theta must be > 0"),
        ([1.0, -2.0], [0.0, 0.0], 0.1, ValueError, "smallest entry is -2"),
        ([1.0, 2.0], [0.0], 0.1, ValueError, "same shape"),
        ([1.0], [np.nan], 0.1, ValueError, "grad must be finite"),
        ([1.0], [0.0], float("inf"), ValueError, "lr must be a finite"),
        ([1.0], [0.0], "0.1", TypeError, "lr must be a real number"),
        (torch.ones(2), [0.0, 0.0], 0.1, TypeError, "both be tensors"),
        (torch.ones(2, dtype=torch.int64), torch.zeros(2), 0.1, TypeError, "floating-point"),
    ],
)
def test_eg_step_rejects_bad_input(theta, grad, lr, error, match) -> None:
    with pytest.raises(error, match=match):
        eg.eg_step(theta, grad, lr)


def test_eg_step_rejects_nonpositive_tensor() -> None:
    with pytest.raises(ValueError, match="theta must be > 0"):
        eg.eg_step(torch.tensor([1.0, -0.5]), torch.zeros(2), 0.1)


def _hand_loop(grad_fn, theta0, lr, gamma, mode, steps, clip=None):
    """The unrolled rule written out: ν_{t+1} = exp(γ Σ c_k) (clipped step by step if asked)."""
    theta, grads, log_nu = theta0.copy(), [], np.zeros_like(theta0)
    for _ in range(steps):
        g = grad_fn(theta)
        if grads:
            c = grads[-1] * g
            log_nu = log_nu + gamma * (np.sign(c) if mode == "sign" else c)
            if clip is not None:
                log_nu = np.clip(log_nu, np.log(clip[0]), np.log(clip[1]))
        grads.append(g)
        theta = theta - lr * np.exp(log_nu) * g
    return theta, np.exp(log_nu), np.array(grads)


@pytest.mark.parametrize(
    ("mode", "clip"), [("raw", None), ("sign", None), ("sign", (0.1, 10.0)), ("raw", (0.5, 2.0))]
)
def test_optimizer_matches_the_hand_loop(mode, clip) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(8, 5))
    hess = a.T @ a / 8 + 0.1 * np.eye(5)
    theta0 = rng.normal(size=5)
    lr, gamma, steps = 0.05, 0.3, 40
    want, nu, grads = _hand_loop(lambda th: hess @ th, theta0, lr, gamma, mode, steps, clip)
    p = torch.nn.Parameter(torch.tensor(theta0))
    opt = eg.EGMeta([p], lr=lr, gamma=gamma, mode=mode, gain_clip=clip)
    h_t = torch.tensor(hess)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * p @ h_t @ p).backward()
        opt.step()
    assert p.detach().numpy() == pytest.approx(want, rel=1e-10, abs=1e-12)
    assert opt.state[p]["gain"].numpy() == pytest.approx(nu, rel=1e-10)
    if mode == "raw" and clip is None:  # eq. (8): the unrolled gain
        assert eg.unrolled_gain(grads, gamma) == pytest.approx(nu, rel=1e-10)


def test_gamma_zero_is_plain_sgd_and_closure_is_returned() -> None:
    torch.manual_seed(0)
    w1 = torch.nn.Parameter(torch.randn(4, 3))
    w2 = torch.nn.Parameter(w1.detach().clone())
    x = torch.randn(10, 4)
    ours, ref = eg.EGMeta([w1], lr=0.1, gamma=0.0), torch.optim.SGD([w2], lr=0.1)
    for _ in range(5):
        for w, opt in ((w1, ours), (w2, ref)):
            opt.zero_grad()
            ((x @ w) ** 2).mean().backward()
            opt.step()
    assert torch.allclose(w1, w2, rtol=1e-6, atol=1e-7)
    loss = ours.step(lambda: torch.tensor(3.0))
    assert float(loss) == 3.0


def test_quadratic_run_matches_the_optimizer() -> None:
    h = np.array([1.0, 100.0])
    run = eg.quadratic_run(h, 0.015, 0.1, "sign", 50, gain_clip=(0.01, 100.0))
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = eg.EGMeta([p], lr=0.015, gamma=0.1, mode="sign", gain_clip=(0.01, 100.0))
    for _ in range(50):
        opt.zero_grad()
        (0.5 * (torch.tensor(h) * p**2).sum()).backward()
        opt.step()
    assert run.theta[-1] == pytest.approx(p.detach().numpy(), rel=1e-12, abs=1e-300)
    assert run.loss.shape == (51,) and run.gain.shape == (51, 2)
    gd = eg.quadratic_run(h, 0.015, 0.0, steps=10)
    assert gd.theta[-1] == pytest.approx((1 - 0.015 * h) ** 10, rel=1e-12)


def test_gain_factor_on_arrays_and_tensors() -> None:
    a, b = np.array([1.0, -2.0, 0.0]), np.array([3.0, 1.0, 5.0])
    assert eg.gain_factor(a, b, 0.5) == pytest.approx(np.exp(0.5 * a * b))
    assert eg.gain_factor(a, b, 0.5, "sign") == pytest.approx(np.exp(0.5 * np.array([1, -1, 0])))
    t = eg.gain_factor(torch.tensor(a), torch.tensor(b), 0.5)
    assert t.numpy() == pytest.approx(np.exp(0.5 * a * b))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(lr=0.0, gamma=0.1), ValueError, "lr must be > 0"),
        (dict(lr=0.1, gamma=-1.0), ValueError, "gamma must be >= 0"),
        (dict(lr=0.1, gamma=0.1, mode="adam"), ValueError, "mode='adam' is not allowed"),
        (dict(lr=0.1, gamma=0.1, gain_clip=(2.0, 3.0)), ValueError, "lo <= 1 <= hi"),
        (dict(lr=0.1, gamma=0.1, gain_clip=5.0), TypeError, "gain_clip must be None or a pair"),
        (dict(lr=0.1, gamma=0.1, gain_clip=(0.0, 3.0)), ValueError, r"gain_clip\[0\] must be > 0"),
    ],
)
def test_optimizer_rejects_bad_settings(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        eg.EGMeta([torch.nn.Parameter(torch.zeros(2))], **kwargs)


def test_helpers_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="h must be a 1-D array of curvatures > 0"):
        eg.quadratic_run([1.0, -1.0], 0.1, 0.1)
    with pytest.raises(ValueError, match="theta0 must have the shape of h"):
        eg.quadratic_run([1.0, 2.0], 0.1, 0.1, theta0=[1.0])
    with pytest.raises(TypeError, match="steps must be a positive integer"):
        eg.quadratic_run([1.0], 0.1, 0.1, steps=2.5)
    with pytest.raises(ValueError, match=r"grads must have shape \(T, ...\)"):
        eg.unrolled_gain(np.zeros(0), 0.1)
    with pytest.raises(ValueError, match="grads must be finite"):
        eg.unrolled_gain([1.0, np.inf], 0.1)
