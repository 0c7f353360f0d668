"""Tests of kexue_lab.nn: the MLP builder, the input gradient norm and StackedMLP."""

import pytest
import torch
from torch.nn.utils.parametrizations import spectral_norm

from kexue_lab.generative.gan import normalized_critic
from kexue_lab.nn import StackedMLP, input_gradient_norm, mlp, parameter_gradient_norm


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


def test_input_gradient_norm_of_several_outputs_is_that_of_their_sum():
    torch.manual_seed(0)
    model = mlp([4, 16, 3], activation="tanh")
    x = torch.randn(7, 4)
    norm, score = input_gradient_norm(model, x, return_output=True)
    assert torch.allclose(score, model(x).sum(1))
    # reference: the Jacobian's rows summed, one sample at a time
    jac = torch.stack([torch.autograd.functional.jacobian(model, xi) for xi in x])  # (7, 3, 4)
    assert torch.allclose(norm, jac.sum(1).norm(dim=1), atol=1e-6)


def test_parameter_gradient_norm_matches_the_flattened_gradient():
    torch.manual_seed(1)
    model = mlp([3, 8, 2])
    x, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    sq = parameter_gradient_norm(loss, model.parameters(), squared=True)
    flat = torch.cat(
        [g.reshape(-1) for g in torch.autograd.grad(loss, model.parameters(), retain_graph=True)]
    )
    assert torch.allclose(sq, flat.pow(2).sum()) and sq.requires_grad
    assert torch.allclose(parameter_gradient_norm(loss, model.parameters()), flat.norm())
    sq.backward()  # double backpropagation works
    assert all(p.grad is not None for p in model.parameters())


def test_parameter_gradient_norm_of_a_quadratic_and_bad_input():
    w = torch.tensor([1.0, -2.0, 2.0], requires_grad=True)
    unused = torch.zeros(2, requires_grad=True)
    loss = 0.5 * (w**2).sum()  # ∇ = w, ‖w‖ = 3
    assert torch.isclose(parameter_gradient_norm(loss, [w, unused]), torch.tensor(3.0))
    with pytest.raises(ValueError, match="loss must be a scalar"):
        parameter_gradient_norm(w * 2, [w])
    with pytest.raises(ValueError, match="params must"):
        parameter_gradient_norm(loss, [])
    with pytest.raises(ValueError, match="params must"):
        parameter_gradient_norm(loss, [torch.zeros(2)])


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
    with pytest.raises(ValueError, match="one score"):
        input_gradient_norm(lambda t: t.sum(), torch.ones(3, 2))
    with pytest.raises(ValueError, match="one score"):
        input_gradient_norm(lambda t: t[:2], torch.ones(3, 2))
    with pytest.raises(TypeError, match="f must"):
        input_gradient_norm(3, torch.ones(3, 2))


# ---- StackedMLP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "act, out", [("leaky_relu", "linear"), ("relu", "tanh"), ("tanh", "sigmoid")]
)
def test_stacked_members_equal_their_sequentials_flat_and_stacked(act, out):
    torch.manual_seed(0)
    net = StackedMLP([3, 16, 16, 2], 3, activation=act, output=out)
    x = torch.randn(3, 10, 3)
    stacked, flat = net(x), net(x.reshape(30, 3))
    assert stacked.shape == (3, 10, 2) and flat.shape == (30, 2)
    assert torch.equal(flat, stacked.reshape(30, 2))
    for s in range(3):
        seq = net.member(s)
        assert isinstance(seq, torch.nn.Sequential)
        assert torch.allclose(stacked[s], seq(x[s]), atol=1e-6)
    assert all(float(b.detach().abs().max()) == 0 for b in net.biases)
    assert float(net.weights[0].detach().abs().max()) <= 1 / 3**0.5


def test_stacked_seeds_global_generator_or_one_per_member():
    torch.manual_seed(4)
    a = StackedMLP([2, 8, 1], 2)
    torch.manual_seed(4)
    b = StackedMLP([2, 8, 1], 2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.weights[0][0], a.weights[0][1])
    c = StackedMLP([2, 8, 1], [7, 3, 7])
    d = StackedMLP([2, 8, 1], [3])
    assert torch.equal(c.weights[0][0], c.weights[0][2])  # same seed, same member
    assert torch.equal(c.weights[1][1], d.weights[1][0])  # whatever the other members
    # bias="uniform": each layer's biases drawn right after its weights, like torch.nn.Linear
    torch.manual_seed(5)
    e = StackedMLP([3, 4, 2], 2, bias="uniform")
    torch.manual_seed(5)
    for i, (a, b) in enumerate([(3, 4), (4, 2)]):
        w, c = (torch.rand(2, a, b) * 2 - 1) / a**0.5, (torch.rand(2, 1, b) * 2 - 1) / a**0.5
        assert torch.allclose(e.weights[i], w) and torch.allclose(e.biases[i], c)


def test_stacked_members_do_not_interact():
    torch.manual_seed(1)
    net = StackedMLP([2, 8, 8, 1], 3, activation="leaky_relu", spectral=[True, False, True])
    x = torch.randn(3 * 5, 2)
    net(x)[5:10].sum().backward()  # member 1's loss
    for p in net.parameters():
        assert p.grad[[0, 2]].abs().max() == 0 and p.grad[1].abs().max() > 0


def test_stacked_works_with_normalized_critic_and_input_gradient_norm():
    torch.manual_seed(1)
    net = StackedMLP([2, 8, 1], 2, activation="leaky_relu")
    x = torch.randn(20, 2)
    both = normalized_critic(net, x, "gn")
    norms = input_gradient_norm(net, x)
    for s in range(2):
        rows = slice(10 * s, 10 * (s + 1))
        alone = normalized_critic(net.member(s), x[rows], "gn")
        assert torch.allclose(both[rows], alone, atol=1e-6)
        assert torch.allclose(norms[rows], input_gradient_norm(net.member(s), x[rows]), atol=1e-6)


def test_stacked_spectral_norm_matches_torch():
    net = StackedMLP([6, 10, 1], [3, 4], spectral=[True, False])
    for _ in range(200):  # power iterations converge (training mode)
        net(torch.zeros(2, 1, 6))
    sig = net.sigma()
    assert sig.shape == (2, 2)
    assert torch.allclose(sig[:, 0], torch.ones(2), atol=1e-4)  # the normalised member
    raw = torch.linalg.matrix_norm(net.weights[0][1].detach(), ord=2)
    assert float(sig[0, 1]) == pytest.approx(float(raw), rel=1e-5)  # the untouched member
    seq = net.member(0)
    for i, w in enumerate(net.weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[2], bias=False)
        with torch.no_grad():
            lin.weight.copy_(w[0].T)
        sn = spectral_norm(lin, n_power_iterations=200)
        assert torch.allclose(sn.weight, seq[2 * i].weight, atol=1e-4), f"layer {i}"
    x = torch.randn(2, 4, 6)
    net.eval()  # eval mode freezes ũ: the output is the exported member's
    assert torch.allclose(net(x)[0], seq(x[0]), atol=1e-5)


def test_stacked_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="sizes"):
        StackedMLP([2], 2)
    with pytest.raises(ValueError, match=r"sizes\[1\]"):
        StackedMLP([2, 0], 2)
    with pytest.raises(ValueError, match="seeds"):
        StackedMLP([2, 1], 0)
    with pytest.raises(ValueError, match="seeds"):
        StackedMLP([2, 1], [])
    with pytest.raises(ValueError, match=r"seeds\[1\]"):
        StackedMLP([2, 1], [0, -1])
    with pytest.raises(ValueError, match="activation"):
        StackedMLP([2, 1], 2, activation="swish")
    with pytest.raises(ValueError, match="output"):
        StackedMLP([2, 1], 2, output="softmax")
    with pytest.raises(ValueError, match="negative_slope"):
        StackedMLP([2, 1], 2, negative_slope=2.0)
    with pytest.raises(ValueError, match="spectral"):
        StackedMLP([2, 1], 2, spectral=[True])
    with pytest.raises(ValueError, match="bias"):
        StackedMLP([2, 1], 2, bias="normal")
    net = StackedMLP([2, 1], 2)
    for bad in (torch.zeros(3, 2), torch.zeros(3, 4, 2), torch.zeros(4, 3)):
        with pytest.raises(ValueError, match="S = 2"):
            net(bad)
    with pytest.raises(ValueError, match="members"):
        net.member(2)
