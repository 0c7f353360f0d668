import math

import numpy as np
import pytest
import torch

from kexue_lab.architecture import conditioning as cd
from kexue_lab.architecture import normalization as nz
from kexue_lab.nn import NORMS, mlp
from kexue_lab.train import classification_loss


def _autograd_bn(x, g, gamma, eps):
    x = x.clone().requires_grad_(True)
    if eps > 0:  # PyTorch's own BN (training mode: batch statistics, biased variance)
        z = torch.nn.functional.batch_norm(
            x, None, None, weight=gamma, bias=torch.zeros_like(gamma), training=True, eps=eps
        )
    else:  # PyTorch refuses eps = 0 in training: autograd through the formula instead
        z = gamma * (x - x.mean(0)) / x.std(0, unbiased=False)
    (z * g).sum().backward()
    return x.grad


@pytest.mark.parametrize("eps", [0.0, 1e-5, 0.3])
@pytest.mark.parametrize("shape", [(2, 1), (7, 3), (64, 5)])
def test_batchnorm_backward_matches_autograd(eps, shape):
    gen = torch.Generator().manual_seed(sum(shape))
    x = 2.0 + 3.0 * torch.randn(shape, generator=gen, dtype=torch.float64)
    g = torch.randn(shape, generator=gen, dtype=torch.float64)
    gamma = torch.rand(shape[1], generator=gen, dtype=torch.float64) + 0.5
    ours = nz.batchnorm_backward(x, g, gamma, eps=eps)
    assert ours.dtype == torch.float64 and ours.shape == shape
    assert torch.allclose(ours, _autograd_bn(x, g, gamma, eps), atol=1e-12, rtol=1e-10)


def test_batchnorm_backward_projection_and_norm():
    gen = torch.Generator().manual_seed(1)
    m = 50
    x = 1.0 + torch.randn(m, 4, generator=gen, dtype=torch.float64)
    g = torch.randn(m, 4, generator=gen, dtype=torch.float64)
    gamma = torch.tensor([0.5, 1.0, 2.0, -1.5], dtype=torch.float64)
    dx = nz.batchnorm_backward(x, g, gamma, eps=0.0)
    sigma = x.std(0, unbiased=False)
    xhat = (x - x.mean(0)) / sigma
    assert torch.allclose(dx.sum(0), torch.zeros(4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose((dx * xhat).sum(0), torch.zeros(4, dtype=torch.float64), atol=1e-12)
    sq = gamma**2 / sigma**2 * ((g**2).sum(0) - g.sum(0) ** 2 / m - (g * xhat).sum(0) ** 2 / m)
    assert torch.allclose((dx**2).sum(0), sq, rtol=1e-10)
    # with eps > 0 the gradient stays orthogonal to 1 but not exactly to x̂
    dx_eps = nz.batchnorm_backward(x, g, gamma, eps=0.5)
    assert torch.allclose(dx_eps.sum(0), torch.zeros(4, dtype=torch.float64), atol=1e-12)
    assert (dx_eps * xhat).sum(0).abs().max() > 1e-3


def test_batchnorm_backward_float32_and_numpy():
    x = torch.randn(16, 3)
    g = torch.randn(16, 3)
    gamma = torch.ones(3)
    out = nz.batchnorm_backward(x, g, gamma)
    assert out.dtype == torch.float32
    assert torch.allclose(out, _autograd_bn(x, g, gamma, 1e-5), atol=1e-5)
    arr = nz.batchnorm_backward(x.numpy(), g.numpy(), gamma.numpy())
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float64
    assert np.allclose(arr, out.numpy(), atol=1e-5)


def test_batchnorm_backward_bad_input():
    x, g, w = torch.randn(4, 3), torch.randn(4, 3), torch.ones(3)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C\)"):
        nz.batchnorm_backward(torch.randn(4), g, w)
    with pytest.raises(ValueError, match="N >= 2"):
        nz.batchnorm_backward(torch.randn(1, 3), torch.randn(1, 3), w)
    with pytest.raises(ValueError, match="grad_out must have the shape"):
        nz.batchnorm_backward(x, torch.randn(4, 2), w)
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\)"):
        nz.batchnorm_backward(x, g, torch.ones(4))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        nz.batchnorm_backward(x, g, w, eps=-1.0)
    with pytest.raises(TypeError, match="floating-point"):
        nz.batchnorm_backward(torch.ones(4, 3, dtype=torch.int64), g, w)
    with pytest.raises(TypeError, match="numeric"):
        nz.batchnorm_backward([["a"]], g, w)
    const = torch.ones(4, 3)
    with pytest.raises(ValueError, match="eps=0"):
        nz.batchnorm_backward(const, g, w, eps=0.0)


def _quadratic_model():
    """f(θ) = ½‖Aθ‖² through a Linear layer without bias: gradient changes exactly by ηA^TA g."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False).double()
    return model


def test_gradient_predictiveness_on_a_quadratic():
    model = _quadratic_model()
    x = torch.randn(20, 3, dtype=torch.float64)
    y = torch.zeros(20, 1, dtype=torch.float64)
    loss_fn = lambda m, xb, yb: 0.5 * ((m(xb) - yb) ** 2).mean()  # noqa: E731
    H = x.T @ x / 20
    w = model.weight.detach().reshape(-1).clone()
    g = H @ w
    res = nz.gradient_predictiveness(model, loss_fn, (x, y), [0.1, 0.5, 1.0])
    for k, eta in enumerate([0.1, 0.5, 1.0]):
        w1 = w - eta * g
        assert res.loss[k] == pytest.approx(float(0.5 * w1 @ H @ w1), rel=1e-12)
        assert res.grad_change[k] == pytest.approx(
            float(torch.linalg.vector_norm(eta * H @ g)), rel=1e-10
        )
    assert res.loss0 == pytest.approx(float(0.5 * w @ H @ w), rel=1e-12)
    assert res.grad_norm == pytest.approx(float(g.norm()), rel=1e-12)
    assert np.allclose(res.loss_change, res.loss - res.loss0)
    # on a quadratic the curvature along the step does not depend on η
    assert np.allclose(res.beta, float((H @ g).norm() / g.norm()), rtol=1e-10)
    assert torch.equal(model.weight.detach().reshape(-1), w)


def test_gradient_predictiveness_leaves_the_model_unchanged():
    torch.manual_seed(3)
    model = mlp([8, 6, 3], norm="post", flatten=True)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model[1].weight.grad = torch.full_like(model[1].weight, 7.0)
    res = nz.gradient_predictiveness(model, classification_loss, (x, y), 0.5)
    assert res.lr.tolist() == [0.5] and res.loss.shape == (1,)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # parameters and BN running stats
    assert torch.equal(model[1].weight.grad, torch.full_like(model[1].weight, 7.0))
    assert model.training


def test_gradient_predictiveness_bad_input():
    model = mlp([4, 2], flatten=True)
    batch = (torch.randn(5, 4), torch.randint(0, 2, (5,)))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nz.gradient_predictiveness(lambda t: t, classification_loss, batch, 0.1)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        nz.gradient_predictiveness(model, None, batch, 0.1)
    with pytest.raises(TypeError, match=r"batch must be a pair \(x, y\)"):
        nz.gradient_predictiveness(model, classification_loss, batch[0], 0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        nz.gradient_predictiveness(model, classification_loss, batch, -0.1)
    with pytest.raises(ValueError, match=r"lr\[1\] must be > 0"):
        nz.gradient_predictiveness(model, classification_loss, batch, [0.1, 0.0])
    with pytest.raises(TypeError, match="non-empty sequence"):
        nz.gradient_predictiveness(model, classification_loss, batch, [])
    with torch.no_grad():
        model[1].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError):
        nz.gradient_predictiveness(model, classification_loss, batch, 0.1)


def _reference_mlp(sizes, norm):
    """Chapter 14's network as it was built by hand: Flatten, He-normal Linears, BN by norm."""
    layers = [torch.nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if norm == "pre":
            layers.append(torch.nn.BatchNorm1d(a))
        linear = torch.nn.Linear(a, b)
        torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers += [torch.nn.BatchNorm1d(b)] if norm == "post" else []
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("norm", NORMS)
def test_the_sweeps_mlp_matches_the_hand_built_network(norm):
    """nn.mlp with He init and flatten=True: same layers and same weights after the same seed."""
    he = lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")  # noqa: E731
    torch.manual_seed(3)
    ours = mlp([5, 4, 4, 3], norm=norm, init=he, flatten=True)
    torch.manual_seed(3)
    ref = _reference_mlp([5, 4, 4, 3], norm)
    assert [type(m) for m in ours] == [type(m) for m in ref]
    a, b = ours.state_dict(), ref.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_lr_sweep_small():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=gen) + 3.0
    y = (x[:, 0] > 3.0).long()
    runs = nz.lr_sweep(
        x,
        y,
        sizes=[6, 8, 2],
        norms=["none", "pre"],
        lrs=[0.1, 1e38],
        epochs=2,
        batch_size=32,
        probe_size=40,
    )
    assert set(runs) == {("none", 0.1), ("none", 1e38), ("pre", 0.1), ("pre", 1e38)}
    ok = runs[("none", 0.1)]
    assert ok.diverged_at is None and len(ok.loss) == 2 and math.isfinite(ok.final_loss)
    assert ok.probe["grad_change"].shape == (3, 4)  # initialisation + 2 epochs, 4 step multipliers
    bad = runs[("none", 1e38)]
    assert bad.final_loss == math.inf and bad.diverged_at >= 1 and bad.loss == []
    assert bad.probe["beta"].shape[0] >= 1  # the measurements before the divergence are kept
    assert list(runs) == [(n, lr) for n in ("none", "pre") for lr in (0.1, 1e38)]
    with pytest.raises(ValueError, match="norms"):
        nz.lr_sweep(x, y, sizes=[6, 2], norms=["bn"], lrs=[0.1], epochs=1, batch_size=8)


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
