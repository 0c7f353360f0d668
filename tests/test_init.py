"""Tests of kexue_lab.architecture.init (chapter 13: averaging fan-in and fan-out of non-square
matrices)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue_lab import nn
from kexue_lab.architecture import init as I
from kexue_lab.optimization import clipping

# ---- average_dim, layer_gains, pair_gain -------------------------------------------------------


def test_average_dim_closed_forms_for_64_256() -> None:
    expected = {
        "arithmetic": 160.0,
        "geometric": 128.0,
        "quadratic": 217.6,
        "harmonic": 102.4,
        "fan_in": 64.0,
        "fan_out": 256.0,
    }
    for kind, value in expected.items():
        assert I.average_dim(64, 256, kind) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("m,n", [(3, 5), (64, 256), (768, 3072), (1000, 7), (1, 2)])
def test_means_are_ordered_and_symmetric(m: int, n: int) -> None:
    values = [I.average_dim(m, n, k) for k in I.KINDS]
    lo, hi = min(m, n), max(m, n)
    means = [I.average_dim(m, n, k) for k in I.MEANS]
    assert means == sorted(means) and means[0] < means[-1]
    assert all(lo < v < hi for v in means)
    assert sorted(values[1:-1]) == means
    for k in I.MEANS:
        assert I.average_dim(m, n, k) == pytest.approx(I.average_dim(n, m, k), rel=1e-12)
    # harmonic · arithmetic = geometric²
    assert I.average_dim(m, n, "harmonic") * I.average_dim(m, n, "arithmetic") == pytest.approx(
        m * n, rel=1e-12
    )


@pytest.mark.parametrize("kind", I.KINDS)
def test_all_rules_agree_on_square_matrices(kind: str) -> None:
    assert I.average_dim(37, 37, kind) == pytest.approx(37.0, rel=1e-12)
    assert I.pair_gain(37, 37, kind) == pytest.approx(1.0, rel=1e-12)


def test_quadratic_is_the_least_squares_optimum() -> None:
    m, n = 64, 256
    ts = np.linspace(1e-4, 2e-2, 200001)
    loss = (m * ts - 1) ** 2 + (n * ts - 1) ** 2
    assert 1 / ts[np.argmin(loss)] == pytest.approx(I.average_dim(m, n, "quadratic"), rel=1e-3)


def test_layer_and_pair_gains() -> None:
    assert I.layer_gains(64, 256, "arithmetic") == pytest.approx((0.4, 1.6))
    assert I.layer_gains(64, 256, "geometric") == pytest.approx((0.5, 2.0))
    assert I.layer_gains(64, 256, "fan_in") == pytest.approx((1.0, 4.0))
    gains = {
        "arithmetic": 0.64,
        "geometric": 1.0,
        "harmonic": 1.5625,
        "fan_in": 1.0,
        "fan_out": 1.0,
    }
    for kind, value in gains.items():
        assert I.pair_gain(64, 256, kind) == pytest.approx(value, rel=1e-12)
    assert I.pair_gain(64, 256, "quadratic") == pytest.approx(64 * 256 / 217.6**2, rel=1e-12)
    assert I.pair_gain(64, 256, "arithmetic") * I.pair_gain(64, 256, "harmonic") == pytest.approx(
        1.0
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: I.average_dim(0, 4, "geometric"),
        lambda: I.average_dim(-3, 4, "geometric"),
        lambda: I.average_dim(4, 0, "arithmetic"),
    ],
)
def test_average_dim_rejects_non_positive_dims(call) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        call()


@pytest.mark.parametrize("bad", [2.5, "64", None, True, np.float64(3.0)])
def test_average_dim_rejects_non_integer_dims(bad) -> None:
    with pytest.raises(TypeError, match="m must be a positive integer"):
        I.average_dim(bad, 4, "geometric")


def test_average_dim_accepts_numpy_integers() -> None:
    assert I.average_dim(np.int64(64), np.int32(256), "geometric") == 128.0


def test_unknown_kind_names_the_argument_and_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"kind='xavier' is not allowed; choose one of .*'arithmetic'"
    ):
        I.average_dim(3, 4, "xavier")
    with pytest.raises(ValueError, match="kind="):
        I.pair_gain(3, 4, "mean")


# ---- stacks --------------------------------------------------------------------------------------


def test_alternating_dims() -> None:
    assert I.alternating_dims(64, 256, 2) == [64, 256, 64, 256, 64]
    with pytest.raises(ValueError, match="pairs"):
        I.alternating_dims(64, 256, 0)


@pytest.mark.parametrize("kind", I.KINDS)
def test_stack_log_gains_of_pairs(kind: str) -> None:
    fwd, bwd = I.stack_log_gains(I.alternating_dims(64, 256, 5), kind)
    assert fwd.shape == bwd.shape == (11,)
    assert fwd[0] == bwd[0] == 0.0
    expected = 5 * math.log(I.pair_gain(64, 256, kind))
    assert fwd[-1] == pytest.approx(expected, abs=1e-12)
    assert bwd[-1] == pytest.approx(expected, abs=1e-12)


def test_fan_in_keeps_the_forward_pass_and_fan_out_the_backward_pass() -> None:
    dims = [10, 40, 7, 300, 25]
    fwd, bwd = I.stack_log_gains(dims, "fan_in")
    np.testing.assert_allclose(fwd, 0.0, atol=1e-12)
    assert bwd[-1] == pytest.approx(math.log(25 / 10))
    fwd, bwd = I.stack_log_gains(dims, "fan_out")
    np.testing.assert_allclose(bwd, 0.0, atol=1e-12)
    assert fwd[-1] == pytest.approx(math.log(10 / 25))
    fwd, bwd = I.stack_log_gains(dims, "geometric")
    assert fwd[-1] == pytest.approx(0.5 * math.log(10 / 25))
    assert bwd[-1] == pytest.approx(0.5 * math.log(25 / 10))


@pytest.mark.parametrize(
    "bad,err",
    [
        ([64], ValueError),
        ("64,256", TypeError),
        (64, TypeError),
        ([64, 0], ValueError),
        ([64, 2.0], TypeError),
    ],
)
def test_stack_rejects_bad_dims(bad, err) -> None:
    with pytest.raises(err, match="dims"):
        I.stack_log_gains(bad, "geometric")


# ---- nonsquare_ ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", I.KINDS)
def test_nonsquare_variance_and_layout(kind: str) -> None:
    out_features, in_features = 300, 1200
    w = torch.empty(out_features, in_features)
    result = I.nonsquare_(w, kind, generator=torch.Generator().manual_seed(1))
    assert result is w
    target = 1 / I.average_dim(in_features, out_features, kind)  # fan-in = shape[1]
    # the sample variance of N = 360,000 normal draws has relative sd √(2/N) ≈ 0.24%: allow 5 sd
    var = float(w.double().var())
    assert var == pytest.approx(target, rel=5 * math.sqrt(2 / w.numel()))
    assert abs(float(w.double().mean())) < 5 * math.sqrt(target / w.numel())


def test_nonsquare_fan_in_reads_pytorch_layout() -> None:
    w = I.nonsquare_(torch.empty(100, 2500), "fan_in", generator=torch.Generator().manual_seed(0))
    assert float(w.var()) == pytest.approx(1 / 2500, rel=0.02)
    layer = torch.nn.Linear(2500, 100)
    I.nonsquare_(layer.weight, "fan_out", generator=torch.Generator().manual_seed(0))
    assert float(layer.weight.detach().var()) == pytest.approx(1 / 100, rel=0.02)


def test_arithmetic_is_torch_xavier_normal() -> None:
    a = I.nonsquare_(torch.empty(30, 70), "arithmetic", generator=torch.Generator().manual_seed(5))
    b = torch.nn.init.xavier_normal_(
        torch.empty(30, 70), generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(a, b)


def test_nonsquare_gain_generator_and_parameters() -> None:
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = I.nonsquare_(torch.empty(20, 50), "geometric", generator=g1)
    b = I.nonsquare_(torch.empty(20, 50), "geometric", gain=2.0, generator=g2)
    assert torch.allclose(b, 2 * a)
    p = torch.nn.Parameter(torch.zeros(40, 10))
    out = I.nonsquare_(p, "quadratic")
    assert out is p and p.requires_grad and float(p.detach().abs().sum()) > 0
    for dtype in (torch.float64, torch.bfloat16):
        assert I.nonsquare_(torch.empty(8, 4, dtype=dtype), "harmonic").dtype == dtype


@pytest.mark.parametrize(
    "weight,kwargs,err,match",
    [
        (np.zeros((3, 4)), {}, TypeError, "weight must be a torch.Tensor"),
        (torch.zeros(5), {}, ValueError, r"2-D tensor .* got shape \(5,\)"),
        (torch.zeros(2, 3, 4), {}, ValueError, "2-D tensor"),
        (torch.zeros(3, 4, dtype=torch.int64), {}, TypeError, "floating dtype"),
        (torch.zeros(0, 4), {}, ValueError, "empty"),
        (torch.zeros(3, 4), {"kind": "glorot"}, ValueError, "kind='glorot'"),
        (torch.zeros(3, 4), {"gain": 0.0}, ValueError, "gain must be > 0"),
        (torch.zeros(3, 4), {"gain": "1"}, TypeError, "gain"),
        (torch.zeros(3, 4), {"generator": 0}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_nonsquare_rejects_bad_input(weight, kwargs, err, match) -> None:
    kind = kwargs.pop("kind", "geometric")
    with pytest.raises(err, match=match):
        I.nonsquare_(weight, kind, **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_nonsquare_rejects_a_generator_on_another_device() -> None:
    with pytest.raises(ValueError, match="generator is on 'cpu'"):
        I.nonsquare_(torch.zeros(3, 4, device="cuda"), "geometric", generator=torch.Generator())


# ---- chapter 13's network: nn.mlp with nonsquare_ --------------------------------------------


def _net(
    dims: list[int], kind: str, activation: str = "tanh", generator=None
) -> torch.nn.Sequential:
    return nn.mlp(
        dims, activation=activation, init=lambda w: I.nonsquare_(w, kind, generator=generator)
    )


def test_nn_mlp_with_nonsquare_init() -> None:
    net = _net([64, 256, 64, 10], "geometric", generator=torch.Generator().manual_seed(0))
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert float(net[2].weight.detach().var()) == pytest.approx(1 / 128, rel=0.05)
    assert float(net[2].bias.detach().abs().sum()) == 0.0
    assert net(torch.randn(5, 64)).shape == (5, 10)
    linear = _net([8, 4, 8], "fan_in", activation="linear")
    assert [type(layer).__name__ for layer in linear] == ["Linear", "Identity", "Linear"]


# ---- StackedMLP and PerNetworkSGD -------------------------------------------------------------


def _copy_into_mlp(stacked: I.StackedMLP, r: int, dims: list[int]) -> torch.nn.Sequential:
    net = _net(dims, "geometric")
    linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
    with torch.no_grad():
        for lin, w, b in zip(linears, stacked.weights, stacked.biases):
            lin.weight.copy_(w[r].T)
            lin.bias.copy_(b[r, 0])
    return net


def test_stacked_mlp_matches_separate_networks() -> None:
    dims = [12, 30, 6, 30, 5]
    kinds = ["fan_in", "quadratic", "harmonic"]
    stacked = I.StackedMLP(dims, kinds, generator=torch.Generator().manual_seed(0))
    assert stacked.weights[1].shape == (3, 30, 6)
    x = torch.randn(7, 12)
    out = stacked(x)
    assert out.shape == (3, 7, 5)
    for r, kind in enumerate(kinds):
        assert float(stacked.weights[1][r].detach().var()) > 0
        net = _copy_into_mlp(stacked, r, dims)
        torch.testing.assert_close(out[r], net(x))
    big = I.StackedMLP(
        [400, 1600], ["fan_in", "fan_out"], generator=torch.Generator().manual_seed(1)
    )
    w = big.weights[0].detach()
    assert float(w[0].var()) == pytest.approx(1 / 400, rel=0.02)
    assert float(w[1].var()) == pytest.approx(1 / 1600, rel=0.02)


def test_per_network_sgd_equals_training_one_by_one() -> None:
    dims = [8, 20, 4, 3]
    kinds = ["harmonic", "quadratic"]
    stacked = I.StackedMLP(dims, kinds, generator=torch.Generator().manual_seed(2))
    nets = [_copy_into_mlp(stacked, r, dims) for r in range(2)]
    x, y = torch.randn(16, 8) * 5, torch.randint(0, 3, (16,))
    opt = I.PerNetworkSGD(stacked, lr=0.5, clip_norm=0.3)
    loss = torch.nn.functional.cross_entropy(
        stacked(x).permute(1, 2, 0), y[:, None].expand(-1, 2), reduction="none"
    ).mean(0)
    opt.zero_grad()
    loss.sum().backward()
    norms = stacked.grad_norms()
    opt.step()
    for r, net in enumerate(nets):
        single = torch.optim.SGD(net.parameters(), lr=0.5)
        single.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        norm = clipping.clip_grad_norm_(net.parameters(), 0.3)  # the same hard factor, one network
        assert norm == pytest.approx(float(norms[r]), rel=1e-5)
        single.step()
        torch.testing.assert_close(net(x), stacked(x)[r])
    assert float(norms.min()) > 0.3  # the clipping was active


def test_stacked_clipping_is_clip_factor_per_network() -> None:
    stacked = I.StackedMLP([4, 6, 3], ["fan_in", "fan_out", "geometric"])
    for r, p in enumerate(stacked.parameters()):
        p.grad = torch.ones_like(p)
        p.grad[0].zero_()  # network 0: zero gradient, factor exactly 1 (no division by zero)
        p.grad[2].mul_(1e-3)  # network 2: below the threshold, untouched
    before = [p.grad.clone() for p in stacked.parameters()]
    norms = stacked.clip_grad_norm_(0.5)
    factor = clipping.clip_factor(norms, 0.5, "hard")
    assert (
        factor[0] == 1.0 and factor[2] == 1.0 and factor[1] == pytest.approx(0.5 / float(norms[1]))
    )
    for p, g in zip(stacked.parameters(), before):
        torch.testing.assert_close(p.grad, g * factor.view(-1, *([1] * (p.dim() - 1))))
    assert float(stacked.grad_norms()[1]) == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        stacked.clip_grad_norm_(0.0)


def test_stacked_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"kinds\[1\]='xavier'"):
        I.StackedMLP([4, 4], ["fan_in", "xavier"])
    with pytest.raises(TypeError, match="kinds must be a non-empty list"):
        I.StackedMLP([4, 4], "fan_in")
    with pytest.raises(TypeError, match="StackedMLP"):
        I.PerNetworkSGD(torch.nn.Linear(2, 2), lr=0.1)
    stacked = I.StackedMLP([4, 4], ["fan_in"])
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        I.PerNetworkSGD(stacked, lr=0.1, clip_norm=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        I.PerNetworkSGD(stacked, lr=-1)


# ---- propagation: Monte Carlo and mean field ---------------------------------------------------


def test_propagate_shapes_and_linear_theory() -> None:
    dims = I.alternating_dims(16, 64, 3)
    fwd, bwd = I.propagate(dims, "arithmetic", seeds=24, batch=64, seed=1)
    assert fwd.shape == bwd.shape == (24, 7)
    np.testing.assert_array_equal(fwd[:, 0], 0.0)
    theory = 3 * math.log(I.pair_gain(16, 64, "arithmetic"))
    for est in (fwd[:, -1], bwd[:, -1]):
        se = est.std(ddof=1) / math.sqrt(len(est))
        assert abs(est.mean() - theory) < 4 * se + 1e-9


def test_propagate_is_reproducible_and_common_random_numbers() -> None:
    dims = [16, 32, 16]
    a = I.propagate(dims, "geometric", seeds=3, batch=8, seed=7)
    b = I.propagate(dims, "geometric", seeds=3, batch=8, seed=7)
    c = I.propagate(dims, "arithmetic", seeds=3, batch=8, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    # same draws, rescaled weights: in a linear stack the kinds differ by the theory exactly
    shift = I.stack_log_gains(dims, "arithmetic")[0] - I.stack_log_gains(dims, "geometric")[0]
    np.testing.assert_allclose(c[0] - a[0], np.broadcast_to(shift, a[0].shape), atol=1e-5)


def test_propagate_tanh_matches_mean_field_forward() -> None:
    dims = I.alternating_dims(64, 256, 3)
    fwd, _ = I.propagate(dims, "geometric", activation="tanh", seeds=8, batch=128)
    mf, _ = I.mean_field(dims, "geometric", "tanh")
    se = fwd[:, -1].std(ddof=1) / math.sqrt(8)
    assert abs(fwd[:, -1].mean() - mf[-1]) < 4 * se + 0.02


@pytest.mark.parametrize(
    "kwargs,err",
    [
        ({"activation": "relu"}, ValueError),
        ({"batch": 0}, ValueError),
        ({"seeds": 1.5}, TypeError),
        ({"seed": -1}, ValueError),
    ],
)
def test_propagate_rejects_bad_input(kwargs, err) -> None:
    with pytest.raises(err):
        I.propagate([4, 8, 4], "geometric", **kwargs)


@pytest.mark.parametrize("kind", I.KINDS)
def test_mean_field(kind: str) -> None:
    dims = I.alternating_dims(64, 256, 4)
    lin = I.mean_field(dims, kind)
    exact = I.stack_log_gains(dims, kind)
    np.testing.assert_allclose(lin[0], exact[0])
    np.testing.assert_allclose(lin[1], exact[1])
    fwd, bwd = I.mean_field(dims, kind, "tanh")
    # |tanh z| ≤ |z| and tanh' ≤ 1: tanh never does better than the linear theory
    assert np.all(fwd <= lin[0] + 1e-12) and np.all(bwd <= lin[1] + 1e-12)
    assert np.all(np.isfinite(fwd)) and np.all(np.isfinite(bwd))


def test_mean_field_small_signal_limit_is_the_pair_gain() -> None:
    fwd, _ = I.mean_field(I.alternating_dims(64, 256, 60), "quadratic", "tanh")
    assert fwd[-1] - fwd[-3] == pytest.approx(math.log(I.pair_gain(64, 256, "quadratic")), abs=1e-6)


def test_gauss_hermite_moments() -> None:
    assert I._gauss(lambda z: z**2, 2.5) == pytest.approx(2.5, rel=1e-12)
    assert I._gauss(lambda z: z**4, 2.0) == pytest.approx(12.0, rel=1e-12)
