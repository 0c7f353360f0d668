"""Tests of kexue_lab.optimization.clipping (chapter 19: gradient clipping)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_lab.optimization import clipping

NORMS = [0.0, 1e-9, 0.3, 1.0, 2.0, 16.0, 17.5, 1e6]


# ---- clip_factor ----
@pytest.mark.parametrize("x", NORMS)
@pytest.mark.parametrize("gamma", [0.25, 1.0, 16.0])
def test_clip_factor_closed_forms_on_floats(x: float, gamma: float) -> None:
    hard = clipping.clip_factor(x, gamma, "hard")
    soft = clipping.clip_factor(x, gamma, "soft")
    assert isinstance(hard, float) and isinstance(soft, float)
    assert hard == (1.0 if x <= gamma else gamma / x)
    assert soft == pytest.approx(gamma / (x + gamma), rel=1e-15)
    # the factor-2 sandwich of chapter 19
    assert 0.5 * hard <= soft * (1 + 1e-15) and soft <= hard * (1 + 1e-15)


def test_clip_factor_default_kind_is_hard() -> None:
    assert clipping.clip_factor(4.0, 1.0) == 0.25


def test_clip_factor_ratio_is_smallest_at_gamma_and_tends_to_one() -> None:
    gamma = 3.0
    x = np.geomspace(1e-6, 1e9, 20001) * gamma
    ratio = clipping.clip_factor(x, gamma, "soft") / clipping.clip_factor(x, gamma, "hard")
    assert ratio.min() >= 0.5 - 1e-12
    assert abs(x[np.argmin(ratio)] / gamma - 1) < 2e-3
    assert ratio[0] > 1 - 1e-5 and ratio[-1] > 1 - 1e-8


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_clip_factor_tensor_matches_float_version(dtype: torch.dtype, kind: str) -> None:
    t = torch.tensor(NORMS, dtype=dtype)
    out = clipping.clip_factor(t, 16.0, kind)
    assert torch.is_tensor(out) and out.dtype == dtype and out.shape == t.shape
    want = [clipping.clip_factor(v, 16.0, kind) for v in NORMS]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6 if dtype == torch.float32 else 1e-15)


def test_clip_factor_numpy_array_in_numpy_array_out() -> None:
    arr = np.array(NORMS)
    out = clipping.clip_factor(arr, 2.0, "hard")
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [clipping.clip_factor(v, 2.0) for v in NORMS])


def test_hard_factor_is_differentiable_at_zero() -> None:
    x = torch.tensor([0.0, 0.5, 4.0], requires_grad=True)
    for kind in ("hard", "soft"):
        (grad,) = torch.autograd.grad(clipping.clip_factor(x, 1.0, kind).sum(), x)
        assert torch.isfinite(grad).all()
    out = clipping.clip_factor(x, 1.0, "hard")
    assert out[0].item() == 1.0
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad[0].item() == 0.0 and grad[2].item() == pytest.approx(-1 / 16)


def test_hard_factor_matches_torch_clip_grad_norm() -> None:
    torch.manual_seed(0)
    for scale, gamma in [(1e-3, 1.0), (10.0, 1.0), (10.0, 0.25), (0.1, 5.0)]:
        a = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
        b = [torch.nn.Parameter(p.detach().clone()) for p in a]
        for p, q in zip(a, b):
            p.grad = torch.randn_like(p) * scale
            q.grad = p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_(a, gamma)
        norm = clipping.clip_grad_norm_(b, gamma, "hard")
        assert norm == pytest.approx(total.item(), rel=1e-6)
        factor = clipping.clip_factor(total, gamma, "hard")
        for p, q in zip(a, b):
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-7)
            assert factor.item() <= 1.0


def test_soft_clip_grad_norm_scales_by_soft_factor() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    norm = clipping.clip_grad_norm_([p], 5.0, "soft")
    assert norm == 5.0
    torch.testing.assert_close(p.grad, torch.tensor([1.5, 2.0]))
    q = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="no gradients"):
        clipping.clip_grad_norm_([q], 1.0)
    q.grad = torch.tensor([float("inf"), 0.0])
    with pytest.raises(FloatingPointError, match="non-finite"):
        clipping.clip_grad_norm_([q], 1.0)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"grad_norm": 1.0, "gamma": 1.0, "kind": "medium"}, ValueError, "kind='medium'"),
        ({"grad_norm": 1.0, "gamma": 0.0}, ValueError, "gamma must be > 0"),
        ({"grad_norm": 1.0, "gamma": -2.0}, ValueError, "gamma must be > 0"),
        ({"grad_norm": 1.0, "gamma": float("inf")}, ValueError, "gamma must be a finite"),
        ({"grad_norm": 1.0, "gamma": float("nan")}, ValueError, "gamma must be a finite"),
        ({"grad_norm": 1.0, "gamma": "1"}, TypeError, "gamma must be a real number"),
        ({"grad_norm": float("nan"), "gamma": 1.0}, ValueError, "grad_norm must be a finite"),
        ({"grad_norm": -0.5, "gamma": 1.0}, ValueError, "grad_norm must be >= 0"),
        ({"grad_norm": True, "gamma": 1.0}, TypeError, "grad_norm must be a real number"),
        (
            {"grad_norm": torch.tensor([1.0, float("nan")]), "gamma": 1.0},
            ValueError,
            "grad_norm contains NaN",
        ),
        (
            {"grad_norm": torch.tensor([1.0, -1.0]), "gamma": 1.0},
            ValueError,
            "grad_norm contains negative",
        ),
        (
            {"grad_norm": torch.tensor([float("inf")]), "gamma": 1.0},
            ValueError,
            "grad_norm contains infinite",
        ),
        ({"grad_norm": torch.tensor([1, 2]), "gamma": 1.0}, TypeError, "floating-point tensor"),
        (
            {"grad_norm": np.array([0.5, np.nan]), "gamma": 1.0},
            ValueError,
            "grad_norm contains NaN",
        ),
        ({"grad_norm": np.array([-3.0]), "gamma": 1.0}, ValueError, "grad_norm contains negative"),
    ],
)
def test_clip_factor_rejects_bad_input(kwargs: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(")):
        clipping.clip_factor(**kwargs)


def test_error_messages_name_the_value_given() -> None:
    with pytest.raises(ValueError) as info:
        clipping.clip_factor(-0.5, 1.0)
    assert "-0.5" in str(info.value)
    with pytest.raises(ValueError) as info:
        clipping.clip_factor(1.0, 1.0, "medium")
    assert "'hard'" in str(info.value) and "'soft'" in str(info.value)


# ---- optimal_step ----
def test_optimal_step_is_soft_clipping() -> None:
    L0, L1 = 16.0, 1.0
    for x in NORMS:
        eta = clipping.optimal_step(x, L0, L1)
        assert eta == pytest.approx(1 / (L0 + L1 * x), rel=1e-15)
        assert eta == pytest.approx((1 / L0) * clipping.clip_factor(x, L0 / L1, "soft"), rel=1e-14)
    assert clipping.optimal_step(5.0, 4.0, 0.0) == 0.25  # L1 = 0: the classical 1/L
    t = torch.tensor([0.0, 16.0], dtype=torch.float64)
    torch.testing.assert_close(
        clipping.optimal_step(t, 16.0, 1.0), torch.tensor([1 / 16, 1 / 32], dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="L0 must be > 0"):
        clipping.optimal_step(1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="L1 must be >= 0"):
        clipping.optimal_step(1.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="grad_norm"):
        clipping.optimal_step(-1.0, 1.0, 1.0)


# ---- descend ----
def quartic(th: np.ndarray) -> np.ndarray:
    return 4.0 * th**3


def test_descend_quartic_counts_match_a_scalar_loop() -> None:
    starts = np.array([0.5, 3.0, 10.0, 30.0])
    runs = {
        "gd": dict(eta=1 / (16 + 4 * starts**3)),
        "hard": dict(eta=1 / 16, gamma=16.0),
        "soft": dict(eta=1 / 16, gamma=16.0),
    }
    for rule, kw in runs.items():
        got = clipping.descend(quartic, starts, rule=rule, max_steps=20_000, **kw).steps
        etas = np.broadcast_to(kw["eta"], starts.shape)
        for th0, eta, n in zip(starts, etas, got):
            path = clipping.quartic_path(float(th0), rule, float(eta), kw.get("gamma"), 20_000)
            want = next(t for t, th in enumerate(path) if abs(th) <= 1)
            assert n == want, (rule, th0)
    assert clipping.descend(
        quartic, starts, rule="hard", eta=1 / 16, gamma=16.0
    ).steps.tolist() == [0, 2, 9, 29]


def test_descend_marks_unfinished_and_diverged_starts() -> None:
    r = clipping.descend(quartic, [10.0], rule="gd", eta=1e-4, max_steps=5)
    assert r.steps.tolist() == [-1]
    assert 1 < r.theta[0, 0] < 10
    r = clipping.descend(quartic, [10.0, 3.0], rule="gd", eta=1.0, max_steps=50)
    assert r.steps.tolist() == [-1, -1]
    assert not np.isfinite(r.theta).all()


def test_descend_two_dimensional_with_path() -> None:
    def grad(z: np.ndarray) -> np.ndarray:
        return np.stack([4 * z[:, 0] ** 3, 20 * z[:, 1]], axis=1)

    r = clipping.descend(
        grad, [[5.0, 5.0], [0.1, 0.1]], rule="soft", eta=1 / 20, gamma=20.0, tol=0.5, record=True
    )
    assert r.steps[1] == 0 and r.steps[0] > 0
    assert r.path.shape == (r.steps[0] + 1, 2, 2)
    np.testing.assert_array_equal(r.path[0], [[5.0, 5.0], [0.1, 0.1]])
    assert np.linalg.norm(r.path[-1][0]) <= 0.5
    f = r.path[:, 0, 0] ** 4 + 10 * r.path[:, 0, 1] ** 2
    assert (np.diff(f) < 0).all()  # soft clipping with η = 1/L0, γ = L0/L1 descends at every step


def test_descend_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="rule='adam'"):
        clipping.descend(quartic, [1.0], rule="adam", eta=0.1)
    with pytest.raises(ValueError, match="needs gamma"):
        clipping.descend(quartic, [2.0], rule="soft", eta=0.1)
    with pytest.raises(ValueError, match="eta must be finite and > 0"):
        clipping.descend(quartic, [2.0], rule="gd", eta=-0.1)
    with pytest.raises(ValueError, match="one value per start"):
        clipping.descend(quartic, [2.0, 3.0], rule="gd", eta=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="theta0 must have shape"):
        clipping.descend(quartic, np.ones((2, 2, 2)), rule="gd", eta=0.1)
    with pytest.raises(ValueError, match="theta0 must be finite"):
        clipping.descend(quartic, [np.nan], rule="gd", eta=0.1)
    with pytest.raises(ValueError, match="grad returned shape"):
        clipping.descend(lambda z: z[:, :0], [2.0], rule="gd", eta=0.1)
    with pytest.raises(TypeError, match="max_steps"):
        clipping.descend(quartic, [2.0], rule="gd", eta=0.1, max_steps=1.5)


# ---- smoothness_trace ----
def test_smoothness_trace_on_a_quadratic_lies_in_the_hessian_spectrum() -> None:
    torch.manual_seed(0)
    x = torch.randn(200, 5, dtype=torch.float64) * torch.tensor(
        [3.0, 1.0, 1.0, 0.5, 0.2], dtype=torch.float64
    )
    y = x @ torch.randn(5, 1, dtype=torch.float64)
    model = torch.nn.Linear(5, 1, bias=False).double()

    def mse(m, xb, yb):
        return 0.5 * ((m(xb) - yb) ** 2).mean()

    tr = clipping.smoothness_trace(model, mse, x, y, steps=40, lr=0.05, batch_size=16)
    eig = torch.linalg.eigvalsh(x.T @ x / len(x))
    assert set(tr) == {"loss", "grad_norm", "smoothness"} and tr["loss"].shape == (40,)
    assert (tr["smoothness"] >= eig.min().item() * (1 - 1e-9)).all()
    assert (tr["smoothness"] <= eig.max().item() * (1 + 1e-9)).all()
    assert tr["loss"][-1] < tr["loss"][0]


def test_smoothness_trace_clipping_caps_the_step_and_rejects_bad_input() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    model = torch.nn.Linear(3, 2)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])

    def ce(m, xb, yb):
        return torch.nn.functional.cross_entropy(m(xb), yb)

    clipping.smoothness_trace(
        model, ce, x, y, steps=1, lr=100.0, batch_size=8, clip_norm=0.01, probe=16
    )
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm().item() <= 100.0 * 0.01 * (1 + 1e-5)
    with pytest.raises(ValueError, match="lr must be > 0"):
        clipping.smoothness_trace(model, ce, x, y, steps=1, lr=0.0, batch_size=8)
    with pytest.raises(ValueError, match="same length"):
        clipping.smoothness_trace(model, ce, x, y[:3], steps=1, lr=0.1, batch_size=8)
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        clipping.smoothness_trace(model, ce, x, y, steps=1, lr=0.1, batch_size=8, clip_norm=-1.0)


def test_clip_grad_norm_matches_torch_on_a_model_and_accepts_a_generator() -> None:
    torch.manual_seed(1)
    a = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    b = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    b.load_state_dict(a.state_dict())
    x = torch.randn(32, 6) * 10
    for m in (a, b):
        m(x).pow(2).sum().backward()
    total = torch.nn.utils.clip_grad_norm_(a.parameters(), 0.5)
    norm = clipping.clip_grad_norm_(b.parameters(), 0.5)  # kind="hard" by default
    assert isinstance(norm, float) and norm == pytest.approx(total.item(), rel=1e-6)
    assert norm > 0.5  # the test really clips
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-8)
    below = torch.nn.Parameter(torch.zeros(3))
    below.grad = torch.tensor([0.1, 0.0, 0.0])
    assert clipping.clip_grad_norm_(below, 1.0) == pytest.approx(0.1)
    torch.testing.assert_close(below.grad, torch.tensor([0.1, 0.0, 0.0]))  # factor exactly 1


def test_clip_grad_norm_rejects_bad_arguments() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.ones(2)
    with pytest.raises(ValueError, match="kind='medium'"):
        clipping.clip_grad_norm_([p], 1.0, "medium")
    with pytest.raises(ValueError, match="gamma must be > 0"):
        clipping.clip_grad_norm_([p], 0.0)


# ---- quartic_path ----
def test_quartic_path_uses_the_clip_factor_and_stops_on_divergence() -> None:
    path = clipping.quartic_path(10.0, "hard", 1 / 16, 16.0, max_steps=3)
    g = 4 * 10.0**3
    assert path[1] == pytest.approx(10.0 - (1 / 16) * g * clipping.clip_factor(g, 16.0, "hard"))
    assert len(path) == 4
    soft = clipping.quartic_path(3.0, "soft", 1 / 16, 16.0)
    theta, steps = 3.0, 0  # an independent loop: θ ← θ − η·f′·γ/(|f′| + γ)
    while abs(theta) > 1:
        g = 4 * theta**3
        theta, steps = theta - g / 16 * 16.0 / (abs(g) + 16.0), steps + 1
    assert next(t for t, th in enumerate(soft) if abs(th) <= 1) == steps == 4
    blown = clipping.quartic_path(10.0, "gd", 1.0)
    assert blown[-1] == float("inf") and len(blown) < 10
    with pytest.raises(ValueError, match="needs gamma"):
        clipping.quartic_path(3.0, "soft", 0.1)
    with pytest.raises(ValueError, match="rule='adam'"):
        clipping.quartic_path(3.0, "adam", 0.1)
    with pytest.raises(ValueError, match="eta must be > 0"):
        clipping.quartic_path(3.0, "gd", 0.0)


def test_the_module_holds_no_views() -> None:
    import inspect

    assert "widgets" not in inspect.getsource(clipping)
