"""Tests of kexue_lab.nn: the one MLP builder and the per-sample input gradient norm."""

import pytest
import torch

from kexue_lab.nn import input_gradient_norm, mlp


def test_mlp_layers_for_every_norm():
    kinds = lambda m: [type(layer).__name__ for layer in m]  # noqa: E731
    assert kinds(mlp([4, 8, 3])) == ["Linear", "ReLU", "Linear"]
    assert kinds(mlp([4, 8, 3], norm="pre", flatten=True)) == [
        "Flatten",
        "BatchNorm1d",
        "Linear",
        "ReLU",
        "BatchNorm1d",
        "Linear",
    ]
    assert kinds(mlp([4, 8, 8, 3], norm="post", activation="tanh")) == [
        "Linear",
        "BatchNorm1d",
        "Tanh",
        "Linear",
        "BatchNorm1d",
        "Tanh",
        "Linear",
    ]
    assert kinds(mlp([4, 3], activation=torch.nn.GELU)) == ["Linear"]


def test_same_seed_same_weights_whatever_the_norm_and_biases_at_zero():
    torch.manual_seed(0)
    plain = mlp([5, 7, 2])
    torch.manual_seed(0)
    pre = mlp([5, 7, 2], norm="pre")
    lin_plain = [m for m in plain if isinstance(m, torch.nn.Linear)]
    lin_pre = [m for m in pre if isinstance(m, torch.nn.Linear)]
    for a, b in zip(lin_plain, lin_pre):
        assert torch.equal(a.weight, b.weight)
        assert torch.count_nonzero(a.bias) == 0


def test_init_is_applied_to_every_weight():
    model = mlp([3, 4, 2], init=torch.nn.init.ones_)
    assert all(torch.all(m.weight == 1) for m in model if isinstance(m, torch.nn.Linear))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sizes": [4]}, "sizes"),
        ({"sizes": "48"}, "sizes"),
        ({"sizes": [4, 0]}, r"sizes\[1\]"),
        ({"sizes": [4, 2], "norm": "layer"}, "norm"),
        ({"sizes": [4, 2], "activation": "swish"}, "activation"),
        ({"sizes": [4, 2], "activation": 3}, "activation"),
        ({"sizes": [4, 2], "init": 3}, "init"),
    ],
)
def test_mlp_bad_input_names_the_argument(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        mlp(**kwargs)


def test_input_gradient_norm_matches_the_closed_form():
    w = torch.tensor([3.0, -4.0])
    x = torch.randn(6, 2)
    norms = input_gradient_norm(lambda t: (t * w).sum(1), x)
    assert torch.allclose(norms, torch.full((6,), 5.0))
    quad = input_gradient_norm(lambda t: (t**2).sum(1), x)  # ∇ = 2x
    assert torch.allclose(quad, 2 * x.norm(dim=1))


def test_input_gradient_norm_can_be_trained_through():
    model = mlp([2, 8, 1], activation="tanh")
    x = torch.randn(5, 2)
    penalty = (input_gradient_norm(model, x, create_graph=True) - 1).pow(2).mean()
    penalty.backward()
    # every weight shapes ∇ₓ; the last bias does not, so it gets no gradient
    assert all(m.weight.grad is not None for m in model if isinstance(m, torch.nn.Linear))


def test_input_gradient_norm_keeps_the_input_graph_on_request():
    # x = a·s, f(x) = Σ x³: ‖∇ₓf‖ = 3‖x²‖, so d/da of Σ‖∇ₓf‖ = Σ 6a‖s²‖ (the Hessian path)
    a = torch.tensor(0.7, requires_grad=True)
    s = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    x = a * s
    norm, out = input_gradient_norm(
        lambda t: (t**3).sum(1), x, create_graph=True, keep_input_graph=True, return_output=True
    )
    assert torch.allclose(out, (x**3).sum(1))
    (da,) = torch.autograd.grad(norm.sum(), a)
    assert torch.allclose(da, (6 * a * (s**2).norm(dim=1)).sum().detach())
    # by default x is detached: the norm has no path back to a
    detached = input_gradient_norm(lambda t: (t**3).sum(1), a * s, create_graph=True)
    (none,) = torch.autograd.grad(detached.sum(), a, allow_unused=True)
    assert none is None


def test_input_gradient_norm_bad_input():
    with pytest.raises(TypeError, match="x"):
        input_gradient_norm(lambda t: t.sum(1), torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="one score per sample"):
        input_gradient_norm(lambda t: t, torch.ones(3, 2))
    with pytest.raises(TypeError, match="f must"):
        input_gradient_norm(3, torch.ones(3, 2))
