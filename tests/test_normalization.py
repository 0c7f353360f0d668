import math

import numpy as np
import pytest
import torch

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


def test_batch_centre_matches_a_direct_computation():
    gen = torch.Generator().manual_seed(0)
    x = 3.0 + torch.randn(16, 5, generator=gen, dtype=torch.float64)
    layer = nz.BatchCentre(5, momentum=0.25).double()
    with torch.no_grad():
        layer.bias.copy_(torch.arange(5.0))
    out = layer(x)  # training mode: the batch mean, then the learnable shift
    assert torch.allclose(out, x - x.mean(0) + torch.arange(5.0), atol=1e-12)
    assert torch.allclose(layer.running_mean, 0.25 * x.mean(0), atol=1e-12)
    layer.eval()  # eval mode: the running mean, and no update
    assert torch.allclose(layer(x), x - 0.25 * x.mean(0) + torch.arange(5.0), atol=1e-12)
    assert torch.allclose(layer.running_mean, 0.25 * x.mean(0), atol=1e-12)
    # the centred output's gradient is orthogonal to 1 (as BN's, without the ŷ direction)
    layer.train()
    xr = x.clone().requires_grad_(True)
    g = torch.randn(16, 5, generator=gen, dtype=torch.float64)
    (layer(xr) * g).sum().backward()
    assert torch.allclose(xr.grad, g - g.mean(0), atol=1e-12)
    with pytest.raises(ValueError, match="x must have shape"):
        layer(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="momentum"):
        nz.BatchCentre(3, momentum=1.5)


def test_sweep_mlp_centre_is_pre_without_the_division():
    torch.manual_seed(5)
    pre = nz.sweep_mlp([6, 4, 4, 3], "pre")
    torch.manual_seed(5)
    centre = nz.sweep_mlp([6, 4, 4, 3], "centre")
    kinds = [type(m).__name__ for m in centre]
    assert kinds == [
        "Flatten", "BatchCentre", "Linear", "ReLU", "BatchCentre", "Linear", "ReLU",
        "BatchCentre", "Linear",
    ]  # fmt: skip
    lin = lambda m: [p for p in m if isinstance(p, torch.nn.Linear)]  # noqa: E731
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(lin(pre), lin(centre)))
    with pytest.raises(ValueError, match="norm"):
        nz.sweep_mlp([6, 3], "layer")


def test_hidden_weight_norms():
    torch.manual_seed(0)
    model = nz.sweep_mlp([6, 4, 5, 3], "none")
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        lins[0].bias.fill_(2.0)
    want = [
        math.sqrt(
            (float((m.weight**2).sum().detach()) + float((m.bias**2).sum().detach()))
            / m.weight.shape[0]
        )
        for m in lins[:2]
    ]
    assert np.allclose(nz.hidden_weight_norms(model), want)


def test_bn_makes_hidden_rows_scale_invariant():
    """With BN after a hidden layer, the gradient of each row of [W, b] is orthogonal to it."""
    torch.manual_seed(1)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    for norm in ("pre", "post"):
        model = nz.sweep_mlp([6, 8, 8, 3], norm).double()
        loss = classification_loss(model, x.double(), y)
        lins = [m for m in model if isinstance(m, torch.nn.Linear)][:-1]
        params = [p for m in lins for p in (m.weight, m.bias)]
        grads = torch.autograd.grad(loss, params)
        for i, m in enumerate(lins):
            gw, gb = grads[2 * i], grads[2 * i + 1]
            w, b = m.weight.detach(), m.bias.detach()
            row_dot = (gw * w).sum(1) + gb * b
            scale = torch.cat([gw, gb[:, None]], 1).norm(dim=1) * torch.cat(
                [w, b[:, None]], 1
            ).norm(dim=1)
            assert float((row_dot.abs() / scale).max()) < 1e-4  # BN's ε = 1e-5 breaks it slightly
    # without a normaliser the rows are not scale invariant: the same measure is far from 0
    model = nz.sweep_mlp([6, 8, 8, 3], "none").double()
    lin = model[1]
    gw, gb = torch.autograd.grad(classification_loss(model, x.double(), y), (lin.weight, lin.bias))
    cos = ((gw * lin.weight.detach()).sum(1) + gb * lin.bias.detach()).abs() / (
        gw.norm(dim=1) * lin.weight.detach().norm(dim=1)
    )
    assert float(cos.max()) > 1e-2
